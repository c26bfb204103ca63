"""Options and output shared by the registry commands (objects, publish, sets, diff, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from floodmark.cli.output import console, print_frame

if TYPE_CHECKING:
    import polars as pl

    from floodmark.registry import Registry

#: ``--db``: the registry database.
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="PATH|URL",
        help="Registry: an SQLite file or a URL such as postgresql+psycopg://user@host/db "
        "(default: $FLOODMARK_DB, else ./floodmark.db).",
    ),
]
#: ``--by``: who makes a change, for the audit log.
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who makes this change, for the audit log (default: your user)."),
]
#: ``--guard``: the review guard of ``diff`` and ``refresh``.
GuardOption = Annotated[
    str,
    typer.Option(
        "--guard",
        metavar="LOW,HIGH",
        help="A new value needs review below LOW x or above HIGH x the old one.",
    ),
]
#: ``--out`` of ``diff`` and ``refresh``: the whole diff table.
DiffOutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Write the whole diff: .csv, .parquet or .json (atomically)."),
]
#: Exit code when something needs an expert's review (a scheduler can stop on it).
NEEDS_REVIEW_EXIT = 3
#: Rows of a diff printed at most; --out has them all.
SHOWN_ROWS = 40


def open_db(db: str | None, *, create: bool = True) -> Registry:
    """Open the registry ``--db`` names (read-only commands pass ``create=False``)."""
    from floodmark.registry import open_registry

    return open_registry(db, create=create)


def who(by: str | None) -> str:
    from floodmark.registry import current_user

    return by if by else current_user()


def check_out(out: Path | None) -> None:
    from floodmark.io.atomic import TABLE_SUFFIXES

    if out is not None and out.suffix.lower() not in TABLE_SUFFIXES:
        raise typer.BadParameter(f"use one of {', '.join(TABLE_SUFFIXES)}", param_hint="--out")


def parse_guard(text: str):
    from floodmark.errors import FloodmarkError
    from floodmark.registry import Guard

    try:
        return Guard.parse(text)
    except FloodmarkError as exc:
        raise typer.BadParameter(str(exc), param_hint="--guard") from None


def report_review(diff: pl.DataFrame, out: Path | None) -> None:
    """Print what needs review (and write the whole diff); exit 3 when anything does."""
    from floodmark.io.atomic import write_table
    from floodmark.registry import review_summary

    if out is not None:
        write_table(diff, out)
        console.print(f"wrote {out}")
    flagged = diff.filter("needs_review")
    if flagged.height:
        print_frame(
            flagged.head(SHOWN_ROWS).drop("needs_review"),
            title="needs review"
            + (f" (first {SHOWN_ROWS})" if flagged.height > SHOWN_ROWS else ""),
        )
    console.print(review_summary(diff))
    if flagged.height:
        raise typer.Exit(NEEDS_REVIEW_EXIT)
