"""``create_app``: the ASGI application of ``floodmark serve`` (API, console, health, metrics)."""

from __future__ import annotations

import secrets
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from floodmark.registry import Registry
from floodmark.service import api, errors, pages
from floodmark.service.auth import LoginThrottle
from floodmark.service.fleet import Fleet
from floodmark.service.models import Health
from floodmark.service.observe import Metrics, ObserveMiddleware

STATIC = Path(__file__).with_name("static")
SESSION_COOKIE = "floodmark_session"
#: A console session lasts a working shift.
SESSION_SECONDS = 12 * 3600


def create_app(
    store_dir: str | Path,
    registry: Registry,
    *,
    features: str | Path | None = None,
    blocked_threshold: float = 0.0,
    session_secret: str | None = None,
    https: bool = False,
    login_throttle: LoginThrottle | None = None,
) -> FastAPI:
    """The app over ``store_dir`` and ``registry``.

    ``session_secret`` signs console cookies (default: random, so sessions end when
    the server restarts); ``https`` marks them Secure (the server speaks TLS).
    """
    from floodmark import __version__

    app = FastAPI(
        title="floodmark",
        version=__version__,
        description="Review and approve DDoS detection thresholds. Send a key from "
        "`floodmark keys create` as `Authorization: Bearer KEY`.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.fleet = Fleet(
        store_dir, registry, features=features, blocked_threshold=blocked_threshold
    )
    app.state.login_throttle = login_throttle or LoginThrottle()
    metrics = Metrics()
    errors.install(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    pages.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=https,
    )
    app.add_middleware(ObserveMiddleware, metrics=metrics)

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz(request: Request):
        """200 when the registry answers (no key needed)."""
        with request.app.state.fleet.registry.sessions() as session:
            session.execute(sa.text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["service"])
    def metrics_text() -> PlainTextResponse:
        """Request counts and latencies, in Prometheus' text format."""
        return PlainTextResponse(metrics.text(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=303)

    return app
