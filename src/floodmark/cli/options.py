"""Options several commands share: one name, one meaning, one help text each.

An option defined here means the same in every command that has it:

- ``--store``, ``--features``: the store directory and the features table.
- ``--workers``: how many parts of the work run at the same time. Each command
  says whether they are processes or threads and what its default is (chosen by
  measurement, see the README's Performance section), counted from
  ``available_cpus()``.
- ``--chunk-rows``: samples read from the store at a time, in whole series.
- ``--blocked-threshold``: samples with ``blocked`` above it are attack traffic.
- ``--prediction-id``: the object a single series belongs to (``plot``'s older
  ``--object`` is kept as a hidden alias).
- ``--quiet``: no progress bar (every long-running command has one).

Nothing heavy is imported here: ``floodmark --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodmark.machine import CHUNK_ROWS as CHUNK_ROWS  # the commands' default, re-exported
from floodmark.machine import available_cpus

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

ChunkRows = Annotated[
    int,
    typer.Option(
        "--chunk-rows",
        min=1,
        help=(
            "Samples read from the store at a time, in whole series (a longer series is "
            "its own chunk); memory grows with it."
        ),
    ),
]

BlockedThreshold = Annotated[
    float,
    typer.Option(
        "--blocked-threshold",
        min=0.0,
        help="Samples with blocked above this are attack traffic.",
    ),
]

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def workers_option(kind: str, default: str) -> object:
    """``--workers`` for a command that runs its parts in ``kind`` (processes or threads).

    ``default`` is said in words (``"1"``, ``"all cores"``, ``"cores + 1"``); a command
    whose default depends on the machine takes None as "not given" and computes it.
    """
    return Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            show_default=False,
            help=f"Parallel workers ({kind}); default: {default} ({available_cpus()} cores here).",
        ),
    ]


def positive(value: float | None) -> float | None:
    """A callback for options that must be above 0 (Typer's ``min`` includes it)."""
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be above 0, got {value:g}")
    return value


def fraction(value: float | None) -> float | None:
    """A callback for a share strictly between 0 and 1."""
    if value is not None and not 0 < value < 1:
        raise typer.BadParameter(f"must be between 0 and 1 (both excluded), got {value:g}")
    return value
