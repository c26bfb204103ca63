"""``floodmark plot``: one series with its features, recommended levels and expert labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.options import BlockedThreshold, StoreDir
from floodmark.cli.output import console

HELP = """Plot one series: the notebook's figure plus what floodmark recommends.

Drawn: passed traffic (line) and passed with attack samples removed (markers);
daily max and daily 90th-percentile markers; the lines daily_max_q90,
daily_max_q70 and 3 x daily_max_q90 (the super-peak line); the recommended
levels ss, sc, nw, rl from --thresholds (solid) and the expert labels
ip_ss..ip_rl from the store (dashed, same colour per level); attack periods
(blocked > --blocked-threshold) shaded; super peaks marked.

Features and super peaks come from --features (and the <stem>.super_peaks.parquet
written beside it by `floodmark features`); without it they are computed for this
one series.

--out FILE.html writes an interactive page that works offline; --out FILE.png a
static image for tickets, rendered by a headless Chromium (install `chromium`, or
set BROWSER_PATH / --browser).

Examples:

  floodmark plot --store fleet-store --prediction-id 3fa2... --vector PT_SYN --metric PPS
  --thresholds thresholds.parquet --features features.parquet --out syn.html

  floodmark plot --store fleet-store --prediction-id 3fa2... --vector PT_UDP --metric BW
  --thresholds evt.parquet --out udp.png
"""


def register(app: typer.Typer) -> None:
    app.command("plot", help=HELP)(plot)


def plot(
    store: StoreDir,
    prediction_id: Annotated[
        str | None,
        typer.Option("--prediction-id", show_default=False, help="The series' object (required)."),
    ] = None,
    object_id: Annotated[str | None, typer.Option("--object", hidden=True)] = None,
    *,
    vector: Annotated[str, typer.Option("--vector", help="Vector, e.g. PT_SYN.")],
    metric: Annotated[str, typer.Option("--metric", help="PPS or BW.")],
    out: Annotated[Path, typer.Option("--out", help="FILE.html (interactive) or FILE.png.")],
    thresholds: Annotated[
        Path | None,
        typer.Option(
            "--thresholds",
            exists=True,
            dir_okay=False,
            help="Thresholds table (from `floodmark recommend`) with this series' ss..rl.",
        ),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(
            "--features",
            exists=True,
            dir_okay=False,
            help="Features table (from `floodmark features`); computed when omitted.",
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option("--method", help="Which method's levels, when the table holds several."),
    ] = None,
    blocked_threshold: BlockedThreshold = 0.0,
    super_peak_factor: Annotated[
        float,
        typer.Option(
            "--super-peak-factor", min=0.0, help="Super peaks are above this × daily_max_q90."
        ),
    ] = 3.0,
    browser: Annotated[
        Path | None,
        typer.Option(
            "--browser",
            envvar="FLOODMARK_BROWSER",
            help="Chromium executable for PNG output (default: found on PATH).",
        ),
    ] = None,
    width: Annotated[int, typer.Option("--width", min=300, help="PNG width in pixels.")] = 1400,
    height: Annotated[int, typer.Option("--height", min=200, help="PNG height in pixels.")] = 620,
) -> None:
    """Write the figure of one series as HTML or PNG."""
    from floodmark.report import series_figure, write_figure
    from floodmark.report.export import FIGURE_SUFFIXES
    from floodmark.report.inputs import read_series_inputs
    from floodmark.store import open_store

    if out.suffix.lower() not in FIGURE_SUFFIXES:
        raise typer.BadParameter(f"use one of {', '.join(FIGURE_SUFFIXES)}", param_hint="--out")
    if (prediction_id is None) == (object_id is None):
        raise typer.BadParameter("give the series' object once", param_hint="--prediction-id")
    inputs = read_series_inputs(
        open_store(store),
        prediction_id or object_id,
        vector,
        metric,
        features=features,
        thresholds=thresholds,
        method=method,
        blocked_threshold=blocked_threshold,
        super_peak_factor=super_peak_factor,
    )
    for note in inputs.notes:
        console.print(f"note: {note}")
    fig = series_figure(
        inputs.samples,
        features_row=inputs.features_row,
        thresholds_row=inputs.thresholds_row,
        labels_row=inputs.labels_row,
        super_peaks=inputs.super_peaks,
        blocked_threshold=blocked_threshold,
        super_peak_factor=super_peak_factor,
    )
    write_figure(fig, out, browser=browser, width=width, height=height)
    console.print(f"wrote {out}")
