"""``floodmark diff``: compare two sets and flag what an expert must review."""

from __future__ import annotations

from typing import Annotated

import typer

from floodmark.cli.registry_common import (
    DbOption,
    DiffOutOption,
    GuardOption,
    check_out,
    open_db,
    parse_guard,
    report_review,
)

HELP = """Compare two sets level by level and flag the changes an expert must review.

OLD and NEW are set ids, "approved" or "latest" (the newest set). Each row is one
series x level: old, new, ratio = new / old.

A value needs review when the ratio is outside the guard (default below 0.5x or above
2x), and so does every level of a series that is new in NEW or vanished from it.
Overrides are applied to both sides. Prints what needs review and a summary;
--out writes every row (.csv, .parquet or .json).

Exit code 3 when anything needs review, so a scheduler can stop and wait for an expert.

Examples:

  floodmark diff --db floodmark.db approved 7

  floodmark diff --db floodmark.db 6 7 --guard 0.8,1.25 --out diff.csv
"""


def register(app: typer.Typer) -> None:
    app.command("diff", help=HELP)(diff)


def diff(
    old: Annotated[str, typer.Argument(metavar="OLD", help="Set id, approved or latest.")],
    new: Annotated[str, typer.Argument(metavar="NEW", help="Set id, approved or latest.")],
    db: DbOption = None,
    out: DiffOutOption = None,
    guard: GuardOption = "0.5,2",
) -> None:
    from floodmark.registry import diff_sets

    check_out(out)
    bounds = parse_guard(guard)
    with open_db(db, create=False) as registry:
        table = diff_sets(registry, old, new, bounds)
    report_review(table, out)
