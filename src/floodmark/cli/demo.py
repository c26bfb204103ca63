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
    objects_csv = out / "objects.csv"
    db = out / "floodmark.db"
    device_conf = out / "fastnetmon" / "fastnetmon.conf"

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

    write_demo_objects(store, objects_csv)
    # The generator's BW series are in kbit/s.
    registry_steps: list[list[str | Path]] = [
        ["objects", "import", objects_csv, "--db", db],
        ["publish", "--db", db, "--thresholds", thresholds["model"], "--note", "demo"],
        ["approve", "latest", "--db", db, "--by", "demo", "--reason", "demo run"],
        ["export", "--db", db, "--set", "approved", "--level", "nw", "--format", "fastnetmon",
         "--bw-unit", "kbps", "--out", device_conf],
    ]  # fmt: skip
    for argv in registry_steps:
        run_command([str(arg) for arg in argv])
    console.rule("done")
    console.print(f"Report: [bold]{report.resolve()}[/] (open it in a browser; it works offline)")
    console.print(f"FastNetMon configuration (level nw): [bold]{device_conf.resolve()}[/]")
    console.print(f"Registry: [bold]{db.resolve()}[/] (floodmark sets --db {db})")
    key = create_demo_key(db)
    console.print(
        f"Console: floodmark serve --store {store} --db {db}\n"
        f"  then open http://127.0.0.1:8000/console/ and log in with this reviewer key "
        f"(shown once): {key}",
        markup=False,
    )


def create_demo_key(db: Path) -> str:
    """A fresh reviewer key for the console on the demo's registry."""
    from floodmark.registry import open_registry
    from floodmark.registry.keys import create_key

    with open_registry(db) as registry:
        _, key = create_key(registry, name="demo", role="reviewer", by="demo")
    return key


def write_demo_objects(store: Path, path: Path) -> None:
    """Give every generated object test networks (documentation ranges) in an objects CSV."""
    from floodmark.generate.objects import fleet_objects
    from floodmark.io.objects import write_objects_csv
    from floodmark.store import open_store

    ids = open_store(store).catalog()["prediction_id"].unique(maintain_order=True).to_list()
    write_objects_csv(fleet_objects(sorted(ids)), path)
    console.print()
    console.print(f"# {path}: test networks for the {len(ids)} generated objects", markup=False)


def run_command(argv: list[str]) -> None:
    """Run one floodmark command in this process, echoing it like a shell would."""
    from floodmark.cli import app  # the app imports this module, so import late

    console.print()
    console.print(f"$ floodmark {shlex.join(argv)}", style="bold cyan", markup=False)
    command = typer.main.get_command(app)
    command.main(args=argv, prog_name="floodmark", standalone_mode=False)
