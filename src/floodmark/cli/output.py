"""Console helpers shared by commands: one console, progress bars, tables.

Options shared by commands are in ``floodmark.cli.options``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # Polars is imported by the commands that print frames
    import polars as pl

# soft_wrap: long lines (paths, summaries) stay whole so they can be copied and grepped.
console = Console(highlight=False, soft_wrap=True)


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


def parse_csv_option(text: str, allowed: Sequence[str], what: str) -> list[str]:
    """Split ``a,b,c`` and check every item is allowed (usage error otherwise)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise typer.BadParameter(f"unknown {what} {unknown}; choose from {', '.join(allowed)}")
    return items
