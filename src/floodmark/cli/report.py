"""``floodmark report``: the fleet report, one HTML file that works offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.options import FeaturesFile, StoreDir
from floodmark.cli.output import console

HELP = """Write one self-contained HTML report about a store and its results.

Sections: series by vector and metric; the quarantine by reason; feature
distributions per vector (daily_max_q90, log scale; missing samples); the
recommended thresholds per method and their fallbacks; recommended versus
expert thresholds per level (log-log, with y = x and a +/-25 % band); the
backtest table (method x level) and its detection / false-alarm chart, a
rolling backtest's false alarms step by step (backtest --refit-every) and
detection against the size of inserted attacks (backtest --inject; per
object too for a store of 2-12 objects); and the worst-fitting series
(largest |ln(recommended / expert)|), each with its plot.

Pieces that are missing (no labels, no backtest) are said in words. The file
carries plotly.js once and fetches nothing, so it opens offline and can be
attached to a ticket.

Examples:

  floodmark report --store fleet-store --features features.parquet
  --thresholds thresholds.parquet --backtest bt.json --out report.html

  floodmark report --store fleet-store --features features.parquet
  --thresholds rule-daily.parquet --thresholds evt.parquet --worst 20 --out report.html
"""


def register(app: typer.Typer) -> None:
    app.command("report", help=HELP)(report)


def report(
    store: StoreDir,
    features: FeaturesFile,
    thresholds: Annotated[
        list[Path],
        typer.Option(
            "--thresholds",
            exists=True,
            dir_okay=False,
            help="Thresholds table (from `floodmark recommend`); repeat to compare methods.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write (atomically).")],
    backtest: Annotated[
        Path | None,
        typer.Option(
            "--backtest",
            exists=True,
            dir_okay=False,
            help="Backtest result JSON (from `floodmark backtest --out`).",
        ),
    ] = None,
    super_peaks: Annotated[
        Path | None,
        typer.Option(
            "--super-peaks",
            exists=True,
            dir_okay=False,
            help="Super-peaks table; default: <features stem>.super_peaks.parquet.",
        ),
    ] = None,
    worst: Annotated[
        int, typer.Option("--worst", min=0, help="Worst-fitting series to plot (vs expert labels).")
    ] = 10,
    max_points: Annotated[
        int,
        typer.Option(
            "--max-points",
            min=100,
            help="Most points per level in the recommended-vs-expert chart (sampled).",
        ),
    ] = 5000,
    title: Annotated[str, typer.Option("--title", help="Report title.")] = "floodmark fleet report",
) -> None:
    """Build the report and write it."""
    from floodmark.report import write_report
    from floodmark.report.inputs import read_report_inputs
    from floodmark.store import open_store

    if out.suffix.lower() != ".html":
        raise typer.BadParameter("the report is an .html file", param_hint="--out")
    opened = open_store(store)
    inputs = read_report_inputs(features, thresholds, backtest=backtest, super_peaks=super_peaks)
    write_report(
        out,
        opened,
        inputs.features,
        inputs.thresholds,
        backtest=inputs.backtest,
        super_peaks=inputs.super_peaks,
        worst=worst,
        max_points=max_points,
        title=title,
    )
    console.print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
