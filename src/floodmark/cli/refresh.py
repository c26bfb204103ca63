"""``floodmark refresh``: new exports in, a draft set out, and what needs review."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.output import console
from floodmark.cli.registry_common import (
    ByOption,
    DbOption,
    DiffOutOption,
    GuardOption,
    check_out,
    open_db,
    parse_guard,
    report_review,
    who,
)

HELP = """Ingest new exports, publish a draft set of new thresholds and show what needs review.

The weekly loop in one command: ingest INPUT files into the store, recompute the
features of the series that changed, recommend thresholds for every series, publish
them as a draft set, and diff it against the approved set.

Features are kept beside the store (STORE.features.parquet, or --features) with a
fingerprint of each series' samples, so only series whose samples changed are
computed again. The method is --method (rule-max, rule-daily, evt) or, with --model,
the trained model.

Prints what needs review; exit code 3 when anything does (every series is new while
no set is approved). Running it again on the same inputs changes nothing: no new
set, no audit entry.

Example:

  floodmark refresh export-week46.parquet --store fleet-store --db floodmark.db
  --model model/
"""


def register(app: typer.Typer) -> None:
    app.command("refresh", help=HELP)(refresh)


def refresh(
    inputs: Annotated[
        list[Path],
        typer.Argument(exists=True, metavar="INPUT", help="New exports, oldest first."),
    ],
    store: Annotated[
        Path,
        typer.Option("--store", file_okay=False, help="Store directory (created when missing)."),
    ],
    db: DbOption = None,
    method: Annotated[
        str | None,
        typer.Option("--method", help="rule-max (default), rule-daily, evt, or model."),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", exists=True, file_okay=False, help="Model directory (`floodmark train`)."
        ),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option("--features", help="Features file kept between runs (.parquet)."),
    ] = None,
    guard: GuardOption = "0.5,2",
    out: DiffOutOption = None,
    note: Annotated[str | None, typer.Option("--note", help="A note kept with the set.")] = None,
    by: ByOption = None,
) -> None:
    from floodmark.registry import refresh as run_refresh
    from floodmark.thresholds import METHODS

    if method is not None and method not in METHODS:
        raise typer.BadParameter(f"choose from {', '.join(METHODS)}", param_hint="--method")
    if (method == "model") and model is None:
        raise typer.BadParameter("--method model needs --model MODEL_DIR", param_hint="--model")
    if model is not None and method not in (None, "model"):
        raise typer.BadParameter("--model is only for --method model", param_hint="--model")
    if features is not None and features.suffix.lower() != ".parquet":
        raise typer.BadParameter("must end in .parquet", param_hint="--features")
    check_out(out)
    bounds = parse_guard(guard)
    with open_db(db) as registry:
        result = run_refresh(
            registry,
            store,
            inputs,
            method=method,
            model=model,
            features=features,
            guard=bounds,
            by=who(by),
            note=note,
        )
    console.print(f"{store}: {result.ingest.describe()}", markup=False)
    console.print(f"features: {result.recomputed} of {result.series} series recomputed")
    published = result.published
    console.print(
        f"published set {published.set_id} ({published.series} series, draft)"
        if published.created
        else f"set {published.set_id} already holds these thresholds: nothing new published"
    )
    console.print(
        f"diff against the approved set {result.approved}"
        if result.approved is not None
        else "no set is approved yet: every series is new"
    )
    report_review(result.diff, out)
