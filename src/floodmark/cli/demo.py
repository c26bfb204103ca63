"""``floodmark demo``: the whole flow on a generated fleet."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(Path("demo-output"), help="Folder for everything the demo writes."),
    objects: int = typer.Option(50, min=1, help="Objects in the generated fleet."),
    days: int = typer.Option(30, min=1, help="Days of history per series."),
    seed: int = typer.Option(7, help="Random seed: the same seed gives the same fleet."),
) -> None:
    """Generate a small fleet, run the whole flow on it and print where the results are."""
    raise NotImplementedError("demo is assembled once the pieces exist")
