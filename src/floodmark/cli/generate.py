"""``floodmark generate``: write a synthetic fleet as a vendor export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.options import Quiet, workers_option
from floodmark.cli.output import console, progress
from floodmark.errors import FloodmarkError

HELP = (
    "Generate a realistic synthetic fleet as a vendor export (Parquet, one row per series)."
    "\n\n"
    "Every object gets all 13 vectors x 2 metrics (PPS in packets/s, BW in kbit/s), sampled "
    "every --step seconds for --days days: sizes spread over orders of magnitude, daily and "
    "weekly cycles in the object's time zone, noise, slow trends, missing timestamps and "
    "outages, dead periods, legitimate flash crowds (super peaks, never blocked) and attacks "
    "(blocked traffic on one or a few vectors, a few percent leaking into passed)."
    "\n\n"
    "Each series carries expert-like labels ip_ss <= ip_sc <= ip_nw <= ip_rl (and range_* for "
    "some objects). The same --seed gives the same file, byte for byte, whatever --workers "
    "is. The model is described in docs/traffic-model.md."
)


#: Processes, one object at a time each; all cores (the work is pure computation).
Workers = workers_option("processes", "all cores")


def register(app: typer.Typer) -> None:
    app.command("generate", help=HELP)(generate)


def _step(value: int) -> int:
    if value < 1 or 86_400 % value:
        raise typer.BadParameter(f"must be a number of seconds dividing a day, got {value}")
    return value


def _out(value: Path) -> Path:
    if value.suffix.lower() != ".parquet":
        raise typer.BadParameter(f"must end in .parquet, got {value.name!r}")
    return value


def _start(value: str) -> str:
    from floodmark.generate.fleet import parse_start

    try:
        parse_start(value)
    except FloodmarkError as exc:
        raise typer.BadParameter(exc.message) from None
    return value


def generate(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", callback=_out, help="Parquet file to write (atomically)."),
    ],
    objects: Annotated[
        int, typer.Option("--objects", min=1, help="Protected objects to generate.")
    ] = 50,
    days: Annotated[int, typer.Option("--days", min=1, help="Days of history per series.")] = 30,
    step: Annotated[
        int,
        typer.Option("--step", callback=_step, help="Seconds between samples; must divide a day."),
    ] = 300,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed: the same seed gives the same bytes.")
    ] = 0,
    start: Annotated[
        str,
        typer.Option("--start", callback=_start, help="First sample time, ISO date/time (UTC)."),
    ] = "2026-01-01",
    workers: Workers = None,
    quiet: Quiet = False,
) -> None:
    from floodmark.generate import generate_fleet
    from floodmark.machine import available_cpus

    with progress(disable=quiet) as bar:
        task = bar.add_task("objects", total=objects)
        summary = generate_fleet(
            out,
            objects=objects,
            days=days,
            step=step,
            seed=seed,
            start=start,
            workers=workers or available_cpus(),
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    console.print(
        f"generated {summary.objects:,} objects, {summary.series:,} series, "
        f"{summary.samples:,} samples, {summary.attack_episodes:,} attacks, "
        f"{_size(summary.file_bytes)} in {summary.seconds:.1f} s -> {summary.path}"
    )


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
