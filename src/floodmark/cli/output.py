"""Console helpers shared by commands: one console, progress bars, tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

# soft_wrap: long lines (paths, summaries) stay whole so they can be copied and grepped.
console = Console(highlight=False, soft_wrap=True)

#: ``--store``: an existing store directory (every command that reads one).
StoreDir = Annotated[
    Path,
    typer.Option(
        "--store", exists=True, file_okay=False, help="Store directory (from `floodmark ingest`)."
    ),
]
#: ``--features``: the table written by ``floodmark features``.
FeaturesFile = Annotated[
    Path,
    typer.Option(
        "--features",
        exists=True,
        dir_okay=False,
        help="Features table from `floodmark features` (.parquet, .csv or .json).",
    ),
]


def progress(*, disable: bool = False) -> Progress:
    """A progress bar that writes to stderr and disappears in non-terminals' logs."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=disable,
    )


def print_frame(df: pl.DataFrame, *, title: str | None = None, float_digits: int = 4) -> None:
    """Print a small frame as a rich table."""
    table = Table(title=title, show_lines=False)
    for name in df.columns:
        table.add_column(name, justify="right" if df[name].dtype.is_numeric() else "left")
    for row in df.iter_rows():
        table.add_row(*(_fmt(v, float_digits) for v in row))
    console.print(table)


def _fmt(value: object, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def comma_list(values: Iterable[str]) -> str:
    return ", ".join(values)


def parse_csv_option(text: str, allowed: Sequence[str], what: str) -> list[str]:
    """Split ``a,b,c`` and check every item is allowed (usage error otherwise)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise typer.BadParameter(f"unknown {what} {unknown}; choose from {', '.join(allowed)}")
    return items
