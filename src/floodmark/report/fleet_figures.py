"""Figures of the fleet report: feature distributions, recommended vs expert, backtest."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from floodmark.report.style import (
    LEVEL_NAMES,
    METRIC_UNITS,
    TEMPLATE,
    method_color,
)
from floodmark.schema import LEVELS, METRICS, VECTORS, series_name

AGREEMENT_BAND = 0.25


def vector_order(present: list[str]) -> list[str]:
    """Known vectors in the product's order, then any others alphabetically."""
    known = [v for v in VECTORS if v in present]
    return known + sorted(v for v in present if v not in VECTORS)


def distribution_figure(
    features: pl.DataFrame, column: str, *, log: bool, units: bool
) -> go.Figure:
    """Box plot of one feature per vector, one panel per metric.

    units: the feature is in traffic units (say which in the panel titles).
    """
    metrics = [m for m in METRICS if m in features["metric"].unique().to_list()]
    metrics += sorted(set(features["metric"].unique().to_list()) - set(metrics))
    fig = make_subplots(
        rows=len(metrics),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=[
            f"{column}, {m}" + (f" ({METRIC_UNITS.get(m, 'value')})" if units else "")
            for m in metrics
        ],
    )
    vectors = vector_order(features["vector"].unique().to_list())
    for row, metric in enumerate(metrics, start=1):
        for vector in vectors:
            values = (
                features.filter((pl.col("metric") == metric) & (pl.col("vector") == vector))[column]
                .cast(pl.Float64)
                .fill_nan(None)
                .drop_nulls()
            )
            if log:
                values = values.filter(values > 0)
            if values.len() == 0:
                continue
            fig.add_box(
                y=values.to_numpy(),
                name=vector,
                x0=vector,
                marker={"size": 3},
                line={"width": 1},
                boxpoints="outliers",
                showlegend=False,
                marker_color="#1f3b73",
                row=row,
                col=1,
            )
        fig.update_yaxes(type="log" if log else "linear", row=row, col=1)
    fig.update_xaxes(categoryorder="array", categoryarray=vectors, tickangle=-30)
    fig.update_layout(
        template=TEMPLATE,
        height=330 * len(metrics) + 60,
        margin={"l": 70, "r": 20, "t": 40, "b": 80},
    )
    return fig


def expert_figure(pairs: pl.DataFrame) -> go.Figure:
    """Recommended vs expert per level: log-log, y = x and a ±25 % band."""
    fig = make_subplots(
        rows=2,
        cols=2,
        horizontal_spacing=0.09,
        vertical_spacing=0.13,
        subplot_titles=[f"level {LEVEL_NAMES[lv]}" for lv in LEVELS],
    )
    methods = sorted(pairs["method"].unique().to_list())
    for i, level in enumerate(LEVELS):
        row, col = divmod(i, 2)
        row, col = row + 1, col + 1
        at = pairs.filter(pl.col("level") == level)
        if at.height == 0:
            continue
        lo = min(at["expert"].min(), at["recommended"].min())
        hi = max(at["expert"].max(), at["recommended"].max())
        lo, hi = lo / 2, hi * 2
        band_x = [lo, hi, hi, lo, lo]
        band_y = [
            lo * (1 - AGREEMENT_BAND),
            hi * (1 - AGREEMENT_BAND),
            hi * (1 + AGREEMENT_BAND),
            lo * (1 + AGREEMENT_BAND),
            lo * (1 - AGREEMENT_BAND),
        ]
        fig.add_scatter(
            x=band_x,
            y=band_y,
            fill="toself",
            fillcolor="rgba(44, 160, 44, 0.12)",
            line={"width": 0},
            mode="lines",
            name="±25 % of expert",
            legendgroup="band",
            showlegend=i == 0,
            hoverinfo="skip",
            row=row,
            col=col,
        )
        fig.add_scatter(
            x=[lo, hi],
            y=[lo, hi],
            mode="lines",
            line={"color": "#444", "dash": "dash", "width": 1},
            name="recommended = expert",
            legendgroup="diag",
            showlegend=i == 0,
            hoverinfo="skip",
            row=row,
            col=col,
        )
        for method in methods:
            pts = at.filter(pl.col("method") == method)
            if pts.height == 0:
                continue
            names = [
                series_name(*k) for k in pts.select("prediction_id", "vector", "metric").iter_rows()
            ]
            fig.add_scatter(
                x=pts["expert"].to_numpy(),
                y=pts["recommended"].to_numpy(),
                mode="markers",
                marker={"size": 5, "opacity": 0.6, "color": method_color(methods, method)},
                name=method,
                legendgroup=method,
                showlegend=i == 0,
                text=names,
                hovertemplate=(
                    f"{method} {level}<br>%{{text}}<br>expert %{{x:.4g}}"
                    "<br>recommended %{y:.4g}<extra></extra>"
                ),
                row=row,
                col=col,
            )
        axis = {"type": "log", "range": [math.log10(lo), math.log10(hi)]}
        fig.update_xaxes(title_text=f"expert ip_{level}", **axis, row=row, col=col)
        fig.update_yaxes(title_text=f"recommended {level}", **axis, row=row, col=col)
    fig.update_layout(
        template=TEMPLATE,
        height=900,
        margin={"l": 70, "r": 20, "t": 50, "b": 60},
        legend={"orientation": "h", "y": -0.08},
    )
    return fig


def backtest_figure(table: pl.DataFrame, promised: dict | None = None) -> go.Figure:
    """Per level: false alarms per object-day and detection rate, a bar per method.

    promised: ``{method: {level: expected false alarms per object-day}}`` (the
    method's own expectation, e.g. evt's budgets), drawn as diamonds beside the bars.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=["false alarms per object-day (measured)", "attack episodes detected"],
    )
    methods = sorted(table["method"].unique().to_list())
    levels = [lv for lv in LEVELS if lv in table["level"].unique().to_list()]
    for method in methods:
        rows = table.filter(pl.col("method") == method)
        by_level = {r["level"]: r for r in rows.iter_rows(named=True)}
        color = method_color(methods, method)
        fa = [by_level.get(lv, {}).get("false_alarms_per_object_day") for lv in levels]
        rate = [by_level.get(lv, {}).get("detection_rate") for lv in levels]
        fig.add_bar(
            x=levels,
            y=fa,
            name=method,
            legendgroup=method,
            marker_color=color,
            hovertemplate=f"{method} %{{x}}: %{{y:.4g}} false alarms / object-day<extra></extra>",
            row=1,
            col=1,
        )
        fig.add_bar(
            x=levels,
            y=rate,
            name=method,
            legendgroup=method,
            marker_color=color,
            showlegend=False,
            hovertemplate=f"{method} %{{x}}: %{{y:.1%}} detected<extra></extra>",
            row=1,
            col=2,
        )
        own = (promised or {}).get(method) or {}
        if any(own.get(lv) is not None for lv in levels):
            fig.add_scatter(
                x=levels,
                y=[own.get(lv) for lv in levels],
                mode="markers",
                name=f"{method}: its own expectation",
                legendgroup=method,
                marker={
                    "symbol": "diamond",
                    "size": 11,
                    "color": color,
                    "line": {"width": 1.5, "color": "black"},
                },
                hovertemplate=f"{method} %{{x}}: expects %{{y:.4g}} / object-day<extra></extra>",
                row=1,
                col=1,
            )
    fig.update_xaxes(
        title_text="level (most to least sensitive)", categoryorder="array", categoryarray=levels
    )
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], row=1, col=2)
    fig.update_layout(
        template=TEMPLATE,
        height=420,
        barmode="group",
        margin={"l": 70, "r": 20, "t": 40, "b": 60},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def injected_figure(injected: pl.DataFrame) -> go.Figure:
    """Detection of inserted attacks against their size, one panel per level, a line per method.

    ``injected`` is the backtest's ``injected`` table at one minimum duration; with a
    ``prediction_id`` column (``injected_by_object``) there is one row of panels per object.
    """
    levels = [lv for lv in LEVELS if lv in injected["level"].unique().to_list()]
    objects = (
        sorted(injected["prediction_id"].unique().to_list())
        if "prediction_id" in injected.columns
        else [None]
    )
    fig = make_subplots(
        rows=len(objects),
        cols=len(levels),
        shared_yaxes=True,
        horizontal_spacing=0.04,
        vertical_spacing=min(0.12, 0.5 / len(objects)),
        subplot_titles=[
            LEVEL_NAMES.get(lv, lv) if obj is None else f"{obj} · {lv}"
            for obj in objects
            for lv in levels
        ],
    )
    methods = sorted(injected["method"].unique().to_list())
    for row, obj in enumerate(objects, start=1):
        rows_of = injected if obj is None else injected.filter(pl.col("prediction_id") == obj)
        for col, level in enumerate(levels, start=1):
            for method in methods:
                rows = rows_of.filter(
                    (pl.col("method") == method) & (pl.col("level") == level)
                ).sort("size")
                where = f"{method} {level}" if obj is None else f"{obj} {method} {level}"
                fig.add_scatter(
                    x=rows["size"].to_list(),
                    y=rows["detection_rate"].to_list(),
                    mode="lines+markers",
                    name=method,
                    legendgroup=method,
                    showlegend=row == 1 and col == 1,
                    line={"color": method_color(methods, method)},
                    hovertemplate=(
                        f"{where}: size %{{x:.3g}} × p99 → %{{y:.0%}} detected<extra></extra>"
                    ),
                    row=row,
                    col=col,
                )
    sizes = sorted(injected["size"].unique().to_list())
    # ticks at the inserted sizes only: log minor ticks crowd the few points
    fig.update_xaxes(type="log", tickvals=sizes, ticktext=[f"{v:g}×" for v in sizes])
    fig.update_xaxes(title_text="size (× p99 of normal traffic)", row=len(objects))
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    fig.update_yaxes(title_text="inserted attacks detected", col=1)
    fig.update_layout(
        template=TEMPLATE,
        height=300 * len(objects) + 80,
        margin={"l": 70, "r": 20, "t": 40, "b": 60},
        legend={"orientation": "h", "y": -0.25 / len(objects)},
    )
    return fig


def steps_figure(steps: pl.DataFrame) -> go.Figure:
    """A rolling backtest step by step: false alarms per object-day of each step's test days,
    a line per method, and dashed the method's own promise (one panel per level).

    ``steps`` is the backtest's ``steps`` table at one minimum duration.
    """
    levels = [lv for lv in LEVELS if lv in steps["level"].unique().to_list()]
    fig = make_subplots(
        rows=1,
        cols=len(levels),
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=[LEVEL_NAMES.get(lv, lv) for lv in levels],
    )
    methods = sorted(steps["method"].unique().to_list())
    rate = pl.col("false_alarms") / pl.col("object_days")
    for col, level in enumerate(levels, start=1):
        for method in methods:
            rows = steps.filter((pl.col("method") == method) & (pl.col("level") == level))
            rows = rows.sort("step").with_columns(rate=rate)
            color = method_color(methods, method)
            fig.add_scatter(
                x=rows["test_start"].to_list(),
                y=rows["rate"].to_list(),
                mode="lines+markers",
                marker={"size": 4},
                name=method,
                legendgroup=method,
                showlegend=col == 1,
                line={"color": color, "width": 1.5},
                hovertemplate=(
                    f"{method} {level}, test from %{{x}}: %{{y:.3g}} false alarms / "
                    "object-day<extra></extra>"
                ),
                row=1,
                col=col,
            )
            if rows["promised_fa_per_object_day"].is_not_null().any():
                fig.add_scatter(
                    x=rows["test_start"].to_list(),
                    y=rows["promised_fa_per_object_day"].to_list(),
                    mode="lines",
                    name=f"{method}: its promise",
                    legendgroup=f"{method} promise",
                    showlegend=col == 1,
                    line={"color": color, "width": 1.5, "dash": "dash"},
                    hovertemplate=(
                        f"{method} {level}, test from %{{x}}: promised %{{y:.3g}}<extra></extra>"
                    ),
                    row=1,
                    col=col,
                )
    fig.update_xaxes(type="date", title_text="test part starting")
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(title_text="false alarms per object-day", row=1, col=1)
    fig.update_layout(
        template=TEMPLATE,
        height=400,
        margin={"l": 70, "r": 20, "t": 40, "b": 60},
        legend={"orientation": "h", "y": -0.3},
    )
    return fig
