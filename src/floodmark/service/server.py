"""Run ``floodmark serve``: uvicorn in this process, or a parent and worker processes.

With several workers, uvicorn's supervisor starts the workers (new interpreters, not
forks), each listening on a socket of its own on the one port (``workers``), and, on
SIGTERM or Ctrl-C, passes the signal on and waits for every worker to finish its
requests. Each worker builds its own app from the settings the parent put in its
environment: the same store, registry and session secret (a random one is drawn
once, by the parent, so a console session made by one worker is valid on every other).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from fastapi import FastAPI

#: Where a worker finds the parent's settings.
SETTINGS_ENV = "FLOODMARK_SERVE_SETTINGS"
#: The app factory uvicorn's workers import.
FACTORY = "floodmark.service.server:app_from_environment"


@dataclass(frozen=True)
class Settings:
    """What every server process builds its app from."""

    store: str
    db: str  # a SQLAlchemy URL, password included: it stays in the processes' environment
    features: str | None
    blocked_threshold: float
    session_secret: str
    https: bool


def settings_for(
    store: Path,
    db: str | None,
    *,
    features: Path | None,
    blocked_threshold: float,
    session_secret: str | None,
    https: bool,
) -> Settings:
    """The settings of a server; checks the registry and the store before any worker starts."""
    from floodmark.registry import database_url, open_registry
    from floodmark.store import open_store

    open_store(store)  # a StoreError now, not one per worker
    with open_registry(db):  # migrates once, before the workers open it
        pass
    return Settings(
        store=str(Path(store).absolute()),
        db=database_url(db).render_as_string(hide_password=False),
        features=None if features is None else str(Path(features).absolute()),
        blocked_threshold=blocked_threshold,
        session_secret=session_secret or secrets.token_urlsafe(32),
        https=https,
    )


def run(settings: Settings, *, workers: int, **uvicorn_options: object) -> None:
    """Serve until SIGTERM or Ctrl-C with ``workers`` processes (1: this process)."""
    import uvicorn

    options = {
        "access_log": False,  # ours is structured and names the key, never its secret
        "log_level": "info",
        "timeout_graceful_shutdown": 30,
        **uvicorn_options,
    }
    if workers == 1:
        from floodmark.registry import open_registry

        log_to_stderr()
        with open_registry(settings.db) as registry:
            uvicorn.Server(uvicorn.Config(build_app(settings, registry), **options)).run()
        return
    os.environ[SETTINGS_ENV] = json.dumps(asdict(settings))
    if not hasattr(socket, "SO_REUSEPORT"):  # not Linux nor a BSD: one shared socket
        uvicorn.run(FACTORY, factory=True, workers=workers, **options)
        return
    from floodmark.service.workers import serve_workers

    serve_workers(uvicorn.Config(FACTORY, factory=True, workers=workers, **options))


def app_from_environment() -> FastAPI:
    """A worker's app, from the settings its parent left in the environment."""
    from floodmark.registry import open_registry

    settings = Settings(**json.loads(os.environ[SETTINGS_ENV]))
    log_to_stderr()
    # Open for the worker's life: the process ends with the server.
    return build_app(settings, open_registry(settings.db))


def build_app(settings: Settings, registry) -> FastAPI:
    from floodmark.service import create_app

    return create_app(
        settings.store,
        registry,
        features=settings.features,
        blocked_threshold=settings.blocked_threshold,
        session_secret=settings.session_secret,
        https=settings.https,
    )


def log_to_stderr() -> None:
    """The access log and the service's errors, one line each, on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("floodmark.access", "floodmark.service"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
