"""``floodmark demo``: the whole flow on a generated fleet, one real command at a time.

The demo runs the same commands a user would type (and prints each one first), so it
doubles as a tutorial: copy any printed line to redo that step on your own data.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.options import Quiet
from floodmark.cli.output import console

#: Methods the demo backtests; the report shows them side by side.
DEMO_METHODS = ("rule-max", "rule-daily", "evt", "model")
#: The steps that show a progress bar (and take ``--quiet``).
QUIET_COMMANDS = ("generate", "ingest", "features", "recommend", "backtest")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Annotated[Path, typer.Option(help="Folder for everything the demo writes.")] = Path(
        "demo-output"
    ),
    objects: Annotated[
        int, typer.Option(min=2, help="Objects in the generated fleet (26 series each).")
    ] = 50,
    days: Annotated[int, typer.Option(min=4, help="Days of history per series.")] = 30,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed: the same seed gives the same fleet.")
    ] = 7,
    learn_days: Annotated[
        int, typer.Option(min=1, help="Backtest: days learned from; the rest is the test.")
    ] = 21,
    quiet: Quiet = False,
) -> None:
    """Generate a fleet, ingest it, compute features, train, recommend, backtest, report.

    Prints every command it runs, then where the report is. Re-running is safe: the
    fleet is the same for the same seed and ingesting it again changes nothing.

    Example: floodmark demo --objects 20 --days 14 --out /tmp/demo
    """
    if learn_days >= days:
        raise typer.BadParameter(f"must be below --days ({days})", param_hint="--learn-days")
    fleet = out / "fleet.parquet"
    store = out / "store"
    features = out / "features.parquet"
    model = out / "model"
    thresholds = {m: out / f"thresholds-{m}.parquet" for m in ("model", "evt")}
    backtest = out / "backtest.json"
    report = out / "report.html"

    steps: list[list[str | Path]] = [
        ["generate", "--objects", objects, "--days", days, "--seed", seed, "--out", fleet],
        ["ingest", fleet, "--store", store],
        ["features", "--store", store, "--out", features],
        ["train", "--store", store, "--features", features, "--out", model],
        *(
            ["recommend", "--store", store, "--features", features, "--method", method,
             *(["--model", model] if method == "model" else []), "--out", path]
            for method, path in thresholds.items()
        ),
        ["backtest", "--store", store, "--methods", ",".join(DEMO_METHODS),
         "--learn-days", learn_days, "--out", backtest],
        ["report", "--store", store, "--features", features,
         *(arg for path in thresholds.values() for arg in ("--thresholds", path)),
         "--backtest", backtest, "--out", report],
    ]  # fmt: skip
    for argv in steps:
        if quiet and argv[0] in QUIET_COMMANDS:
            argv.append("--quiet")
        run_command([str(arg) for arg in argv])
    console.rule("done")
    console.print(f"Report: [bold]{report.resolve()}[/] (open it in a browser; it works offline)")


def run_command(argv: list[str]) -> None:
    """Run one floodmark command in this process, echoing it like a shell would."""
    from floodmark.cli import app  # the app imports this module, so import late

    console.print()
    console.print(f"$ floodmark {shlex.join(argv)}", style="bold cyan", markup=False)
    command = typer.main.get_command(app)
    command.main(args=argv, prog_name="floodmark", standalone_mode=False)
