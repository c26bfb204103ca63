"""``floodmark sets``: the threshold sets in the registry."""

from __future__ import annotations

from typing import Annotated

import typer

from floodmark.cli.output import console, print_frame
from floodmark.cli.registry_common import DbOption, open_db

HELP = """List the threshold sets: id, created, method, series, state (draft/approved/superseded).

Also shows how many overrides each set has and its note.

A set is a draft when published, approved by `floodmark approve`, and superseded
when another set is approved after it.

Examples:

  floodmark sets --db floodmark.db

  floodmark sets --db floodmark.db --json
"""


def register(app: typer.Typer) -> None:
    app.command("sets", help=HELP)(sets)


def sets(
    db: DbOption = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON records instead.")] = False,
) -> None:
    import orjson
    import polars as pl

    from floodmark.registry import list_sets

    with open_db(db, create=False) as registry:
        table = list_sets(registry)
    if json:
        typer.echo(orjson.dumps(table.to_dicts(), option=orjson.OPT_INDENT_2).decode())
        return
    shown = table.select(
        "id",
        pl.col("created").dt.strftime("%Y-%m-%d %H:%M").alias("created (UTC)"),
        "method",
        "series",
        "state",
        "overrides",
        "note",
    )
    print_frame(shown, title="threshold sets")
    if table.height == 0:
        console.print("no sets yet: floodmark publish --thresholds FILE")
