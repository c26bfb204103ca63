"""``floodmark audit``: every write to the registry, oldest first."""

from __future__ import annotations

from typing import Annotated

import typer

from floodmark.cli.output import print_frame
from floodmark.cli.registry_common import DbOption, open_db

HELP = """List the audit log: who wrote what when, with the values before and after.

Every write is there (publish, approve, supersede, override, object), oldest first;
before and after are JSON.

Examples:

  floodmark audit --db floodmark.db --last 20

  floodmark audit --db floodmark.db --json
"""


def register(app: typer.Typer) -> None:
    app.command("audit", help=HELP)(audit)


def audit(
    db: DbOption = None,
    last: Annotated[
        int | None, typer.Option("--last", min=1, help="Only the last N entries.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON records instead.")] = False,
) -> None:
    import orjson

    from floodmark.registry import audit_log

    with open_db(db, create=False) as registry:
        log = audit_log(registry, limit=last)
    if json:
        records = [
            row | {k: None if row[k] is None else orjson.loads(row[k]) for k in ("before", "after")}
            for row in log.to_dicts()
        ]
        typer.echo(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode())
        return
    shown = log.with_columns(log["at"].dt.strftime("%Y-%m-%d %H:%M:%S")).rename({"at": "at (UTC)"})
    print_frame(shown, title="audit log (--json shows before and after in full)")
