"""Who is asking: a key sent as ``Authorization: Bearer KEY``, or a console session.

A console session holds the key's id (never the secret) in a signed cookie; it is
checked against the registry's current view on every request (read again after any
registry write), so a revoked key logs out at once, on every server process.
A session authorises reads only: every write through the console goes through a
form that carries the session's CSRF token, and API writes need the Bearer header.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from floodmark.registry import Registry
from floodmark.registry.keys import KeyInfo
from floodmark.registry.models import LoginFailure, utcnow
from floodmark.service.errors import ApiError
from floodmark.service.registry_view import RegistryView

#: Methods that change nothing: the only ones a session cookie authorises on the API.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY = "key_id"
SESSION_CSRF = "csrf"

bearer = HTTPBearer(auto_error=False, description="A key from `floodmark keys create`.")


async def registry_view(request: Request) -> RegistryView:
    """The registry as of this request (one small query; read again after a write)."""
    return request.app.state.fleet.view()


#: A route's registry view: read once per request, shared by its dependencies.
View = Annotated[RegistryView, Depends(registry_view)]


def key_from_request(
    request: Request, credentials: HTTPAuthorizationCredentials | None, view: RegistryView
) -> KeyInfo | None:
    """The key of a Bearer header, else of the console session on a safe method."""
    if credentials is not None:
        return view.key_for_secret(credentials.credentials.strip())
    if request.headers.get("authorization"):
        raise ApiError(401, "send the key as: Authorization: Bearer KEY")
    key_id = request.session.get(SESSION_KEY)
    if isinstance(key_id, int) and request.method in SAFE_METHODS:
        return view.keys_by_id.get(key_id)
    return None


def require(role: str) -> Callable[..., KeyInfo]:
    """A dependency that answers 401 without a valid key and 403 without ``role``."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        view: View,
    ) -> KeyInfo:
        key = key_from_request(request, credentials, view)
        if key is None:
            raise ApiError(401, "a valid key is needed: Authorization: Bearer KEY")
        request.state.key = key  # for the access log
        if not key.can(role):
            raise ApiError(403, f"key {key.name!r} is a {key.role}; this needs a {role}")
        return key

    return dependency


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def check_csrf(request: Request, sent: str | None) -> None:
    """403 unless ``sent`` is the session's CSRF token."""
    expected = request.session.get(SESSION_CSRF)
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        raise ApiError(403, "the form is stale or not from this site: reload the page")


class LoginThrottle:
    """At most ``failures`` failed logins per client in ``window`` seconds; then 429.

    Failures are rows of the registry, so every server process (and every host on
    one PostgreSQL registry) counts the same ones.
    """

    def __init__(
        self,
        failures: int = 5,
        window: float = 60.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.failures = failures
        self.window = dt.timedelta(seconds=window)
        self.clock = clock

    def check(self, registry: Registry, client: str) -> None:
        """429 when ``client`` failed too often lately (checked before trying its key)."""
        since = self.clock() - self.window
        with registry.sessions() as session:
            recent = session.scalar(
                sa.select(sa.func.count()).where(
                    LoginFailure.client == client[:256], LoginFailure.at > since
                )
            )
        if recent >= self.failures:
            raise ApiError(429, "too many failed logins: wait a minute")

    def failed(self, registry: Registry, client: str) -> None:
        now = self.clock()
        with registry.transaction() as session:
            session.add(LoginFailure(client=client[:256], at=now))
            # Forget what the window no longer counts, so the table stays small.
            session.execute(sa.delete(LoginFailure).where(LoginFailure.at <= now - self.window))
