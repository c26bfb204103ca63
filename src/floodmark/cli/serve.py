"""``floodmark serve``: the JSON API and web console over a store and a registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.options import BlockedThreshold, StoreDir
from floodmark.cli.output import console
from floodmark.cli.registry_common import DbOption
from floodmark.machine import available_cpus

HELP = """Serve the JSON API (/api/v1, described at /openapi.json, try it at /docs) and
the web console (/console) over a store and a registry.

Reviewers find an object, see its series with the latest and approved thresholds,
review a set's changes against the approved one, approve it or override a level
with a reason, read the audit log and download exports. Every request needs a key
from `floodmark keys create` (GET /healthz and /metrics excepted); the console
logs in with one.

Binds 127.0.0.1 by default: put a TLS proxy in front (or give --ssl-certfile and
--ssl-keyfile) before binding another address. --workers processes answer requests
(default: one per core); SIGTERM finishes the requests in flight in every one, then
stops them all. One JSON access-log line per request goes to stderr.

Examples:

  floodmark keys create --db floodmark.db --name alice --role reviewer

  floodmark serve --store fleet-store --db floodmark.db

  floodmark serve --store fleet-store --db floodmark.db --host 0.0.0.0 --port 8443
  --ssl-certfile cert.pem --ssl-keyfile key.pem
"""


def register(app: typer.Typer) -> None:
    app.command("serve", help=HELP)(serve)


def serve(
    store: StoreDir,
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any).")] = 8000,
    features: Annotated[
        Path | None,
        typer.Option(
            "--features",
            exists=True,
            dir_okay=False,
            help="Features table shown per object (default: <store>.features.parquet "
            "from `floodmark refresh`, when there is one).",
        ),
    ] = None,
    blocked_threshold: BlockedThreshold = 0.0,
    ssl_certfile: Annotated[
        Path | None,
        typer.Option("--ssl-certfile", exists=True, dir_okay=False, help="TLS certificate."),
    ] = None,
    ssl_keyfile: Annotated[
        Path | None,
        typer.Option("--ssl-keyfile", exists=True, dir_okay=False, help="TLS private key."),
    ] = None,
    session_secret: Annotated[
        str | None,
        typer.Option(
            "--session-secret",
            envvar="FLOODMARK_SESSION_SECRET",
            show_envvar=True,
            help="Signs console sessions (default: random, drawn at start and shared by the "
            "workers, so sessions end with the server).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Server processes answering requests (default: one per core), each "
            "listening on its own socket of the port, so connections spread evenly.",
        ),
    ] = None,
) -> None:
    """Run the server until SIGTERM or Ctrl-C."""
    from floodmark.service import server

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise typer.BadParameter("give both or neither", param_hint="--ssl-certfile/--ssl-keyfile")
    settings = server.settings_for(
        store,
        db,
        features=features,
        blocked_threshold=blocked_threshold,
        session_secret=session_secret,
        https=ssl_certfile is not None,
    )
    workers = workers or available_cpus()
    scheme = "https" if ssl_certfile else "http"
    where = f"{scheme}://{host}:{port}" if port else "(the address below)"
    console.print(f"console: {where}/console/  API: /api/v1  docs: /docs  workers: {workers}")
    server.run(
        settings,
        workers=workers,
        host=host,
        port=port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
