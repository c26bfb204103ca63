"""``floodmark approve``: an expert approves a set; the approved one before it is superseded."""

from __future__ import annotations

from typing import Annotated

import typer

from floodmark.cli.output import console
from floodmark.cli.registry_common import DbOption, open_db

HELP = """Approve a set; the set approved before it is superseded.

SET (an id, or "latest" for the newest set) becomes the approved set, the one
exporters read by default.

Approving a superseded set approves it again (a rollback). The approval, the
superseding and who did it are in the audit log. Two approvals at the same time
leave exactly one approved set.

Example: floodmark approve --db floodmark.db 7 --by alice --reason "reviewed the diff"
"""


def register(app: typer.Typer) -> None:
    app.command("approve", help=HELP)(approve)


def approve(
    set_ref: Annotated[str, typer.Argument(metavar="SET", help="The set's id, or latest.")],
    by: Annotated[str, typer.Option("--by", help="Who approves (the audit log keeps it).")],
    db: DbOption = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
) -> None:
    from floodmark.registry import approve_set

    with open_db(db, create=False) as registry:
        result = approve_set(registry, set_ref, by=by, reason=reason)
    if not result.changed:
        console.print(f"set {result.set_id} is already approved: nothing changed")
        return
    superseded = ", ".join(str(i) for i in result.superseded)
    console.print(
        f"set {result.set_id} approved by {by}"
        + (f"; set {superseded} superseded" if superseded else "")
    )
