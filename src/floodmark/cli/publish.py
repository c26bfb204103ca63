"""``floodmark publish``: a thresholds file becomes a draft set in the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.registry_common import ByOption, DbOption, open_db, who

HELP = """Publish a thresholds table (from `floodmark recommend`) as a new draft set.

Prints the set's id on standard output (and what happened on standard error), so a
script can keep it: SET=$(floodmark publish --thresholds thresholds.csv). Publishing
the same thresholds again (the same file, or the same content in another format)
creates nothing and prints the id of the set that holds them.

The table needs prediction_id, vector, metric, ss, sc, nw, rl with ss <= sc <= nw <= rl
(finite, >= 0), one row per series; method, basis, fallback and expected_fa_per_day_*
are kept when present. Publishing is one transaction and is audited.

Example: floodmark publish --db floodmark.db --thresholds thresholds.csv --note "week 45"
"""


def register(app: typer.Typer) -> None:
    app.command("publish", help=HELP)(publish)


def publish(
    thresholds: Annotated[
        Path,
        typer.Option(
            "--thresholds", exists=True, dir_okay=False, help="Thresholds: .csv, .parquet, .json."
        ),
    ],
    db: DbOption = None,
    note: Annotated[str | None, typer.Option("--note", help="A note kept with the set.")] = None,
    by: ByOption = None,
) -> None:
    from rich.console import Console

    from floodmark.registry import publish_file

    with open_db(db) as registry:
        result = publish_file(registry, thresholds, by=who(by), note=note)
    status = Console(stderr=True, highlight=False, soft_wrap=True)
    if result.created:
        status.print(f"published set {result.set_id}: {result.series} series, draft")
    else:
        status.print(f"set {result.set_id} already holds these thresholds: nothing new published")
    typer.echo(result.set_id)
