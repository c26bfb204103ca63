"""The ``floodmark`` command: thin shells over the library, one module per command."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from floodmark.errors import FloodmarkError

#: Command modules, in the order ``--help`` lists them. Each defines ``register(app)``.
COMMANDS: tuple[str, ...] = (
    "demo",
    "generate",
    "ingest",
    "features",
    "train",
    "recommend",
    "backtest",
    "plot",
    "report",
    "objects",
    "publish",
    "sets",
    "diff",
    "approve",
    "override",
    "audit",
    "refresh",
    "export",
    "keys",
    "serve",
)

app = typer.Typer(
    name="floodmark",
    help=(
        "Learn normal traffic for every protected object and recommend DDoS detection "
        "thresholds (ss <= sc <= nw <= rl), each with its measured false alarms.\n\n"
        "Typical flow: generate or bring a vendor export -> ingest -> features -> "
        "recommend -> backtest -> report. `floodmark demo` runs it all on a generated fleet."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when a command fails.")
    ] = False,
) -> None:
    """Global options (read in ``main``: they only change how failures are shown)."""


for _name in COMMANDS:
    importlib.import_module(f"floodmark.cli.{_name}").register(app)


def main() -> None:
    """Entry point: 0 success, 1 failure (one readable line), 2 usage error."""
    debug = "--debug" in sys.argv[1:]
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        app()
    except FloodmarkError as exc:
        if debug:
            raise
        # escaped: a message may hold brackets ("install floodmark[spark]") that are not markup
        err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        if debug:
            raise
        err.print(
            f"[bold red]error:[/] unexpected {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback)"
        )
        sys.exit(1)
