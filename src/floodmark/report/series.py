"""The per-series figure: the notebook's plot plus levels, labels, attacks and super peaks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import plotly.graph_objects as go
import polars as pl

from floodmark.domain import is_baseline, median_step_s
from floodmark.report.data import (
    Row,
    as_row,
    attack_periods,
    daily_aggregates,
    finite,
    one_series,
)
from floodmark.report.style import (
    ATTACK_FILL,
    ATTACK_LEGEND,
    CALM_COLOR,
    DAILY_MAX_COLOR,
    DAILY_Q90_COLOR,
    LEVEL_COLORS,
    METRIC_UNITS,
    RAW_COLOR,
    SUPER_PEAK_COLOR,
    TEMPLATE,
    fmt_number,
)
from floodmark.schema import KEY_COLUMNS, LEVELS

# Half a day: daily markers sit in the middle of the UTC day they summarise.
_NOON = dt.timedelta(hours=12)


def series_figure(
    samples: pl.DataFrame,
    *,
    features_row: Row | pl.DataFrame | None = None,
    thresholds_row: Row | pl.DataFrame | None = None,
    labels_row: Row | pl.DataFrame | None = None,
    super_peaks: pl.DataFrame | None = None,
    daily: pl.DataFrame | None = None,
    blocked_threshold: float = 0.0,
    super_peak_factor: float = 3.0,
    title: str | None = None,
) -> go.Figure:
    """Plot one series with what floodmark knows about it.

    samples: the long-table rows of one series (``LONG_SCHEMA``).
    features_row: its row of the features table (for the ``daily_max_q90`` lines).
    thresholds_row: its row of a thresholds table (``ss … rl``, ``method``, ``basis``).
    labels_row: its catalog row (expert ``ip_ss … ip_rl``, drawn dashed).
    super_peaks: the super-peaks table (rows of other series are ignored).
    daily: per-day ``day, daily_max, daily_q90`` markers; derived from the
        samples' baseline traffic when omitted.
    blocked_threshold: samples with ``blocked`` above it are attack traffic
        (``floodmark.domain.is_attack``): shaded, and left out of the markers.

    Example::

        fig = series_figure(store.read_series("ab12", "PT_TCP", "PPS"))
        write_figure(fig, "ab12.html")
    """
    s = one_series(samples)
    features, thresholds, labels = as_row(features_row), as_row(thresholds_row), as_row(labels_row)
    keys = _keys(s, features, thresholds, labels)
    fig = go.Figure()
    if s.height == 0:
        _layout(fig, keys, title, "no samples")
        fig.add_annotation(text="this series has no samples", showarrow=False, font_size=16)
        return fig

    x = _naive(s["timestamp"])
    span = (x[0], x[-1])
    fig.add_scatter(
        x=x,
        y=s["passed"].to_numpy(),
        mode="lines",
        name="passed (raw)",
        line={"color": RAW_COLOR, "width": 1},
    )
    fig.add_scatter(
        x=x,
        y=s.select(pl.when(is_baseline(blocked_threshold)).then("passed")).to_series().to_numpy(),
        mode="markers",
        name="passed, attacks removed",
        marker={"color": CALM_COLOR, "size": 3},
    )
    if (s["blocked"] > 0).any():
        fig.add_scatter(
            x=x,
            y=s["blocked"].to_numpy(),
            mode="lines",
            name="blocked (dropped)",
            line={"color": "#d62728", "width": 1},
            visible="legendonly",
        )
    _add_daily(
        fig,
        daily if daily is not None else daily_aggregates(s, blocked_threshold=blocked_threshold),
        span,
    )
    _add_feature_lines(fig, features, span, super_peak_factor)
    _add_levels(fig, thresholds, labels, span)
    n_attacks = _add_attacks(fig, s, blocked_threshold)
    _add_super_peaks(fig, super_peaks, keys)
    subtitle = (
        f"{s.height:,} samples, {s['timestamp'][0]:%Y-%m-%d} to {s['timestamp'][-1]:%Y-%m-%d} UTC, "
        f"{n_attacks} attack period{'s' if n_attacks != 1 else ''} shaded"
    )
    _layout(fig, keys, title, subtitle)
    return fig


def _keys(s: pl.DataFrame, *rows: dict | None) -> dict[str, str]:
    for row in (*rows, s.row(0, named=True) if s.height else None):
        if row and all(row.get(k) is not None for k in KEY_COLUMNS):
            return {k: str(row[k]) for k in KEY_COLUMNS}
    return {}


def _naive(ts: pl.Series) -> np.ndarray:
    """Timestamps as naive UTC datetime64 (Plotly shows them as written, labelled UTC)."""
    if isinstance(ts.dtype, pl.Datetime) and ts.dtype.time_zone is not None:
        ts = ts.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return ts.to_numpy()


def _hline(
    fig: go.Figure,
    span: tuple,
    y: float,
    name: str,
    color: str,
    dash: str,
    hover: str,
    width: float = 1.5,
) -> None:
    fig.add_scatter(
        x=list(span),
        y=[y, y],
        mode="lines",
        name=name,
        line={"color": color, "dash": dash, "width": width},
        hovertemplate=f"{hover}<extra></extra>",
    )


def _add_daily(fig: go.Figure, daily: pl.DataFrame, span: tuple) -> None:
    if daily.height == 0:
        return
    # Mid-day, kept inside the series' span so a partial first or last day does not
    # put a marker where there is no traffic.
    days = np.clip(_naive(daily["day"]) + np.timedelta64(_NOON), span[0], span[1])
    for col, name, symbol, color in (
        ("daily_max", "daily max", "triangle-up", DAILY_MAX_COLOR),
        ("daily_q90", "daily 90th pct", "diamond", DAILY_Q90_COLOR),
    ):
        fig.add_scatter(
            x=days,
            y=daily[col].to_numpy(),
            mode="markers",
            name=name,
            marker={
                "symbol": symbol,
                "size": 9,
                "color": color,
                "line": {"width": 1, "color": "white"},
            },
            hovertemplate=f"{name} %{{x|%Y-%m-%d}}: %{{y:.4g}}<extra></extra>",
        )


def _add_feature_lines(fig: go.Figure, features: dict | None, span: tuple, factor: float) -> None:
    if not features:
        return
    q90, q70 = finite(features.get("daily_max_q90")), finite(features.get("daily_max_q70"))
    if q90 is not None:
        _hline(
            fig,
            span,
            q90,
            f"daily_max_q90 = {fmt_number(q90)}",
            "#555555",
            "solid",
            "daily_max_q90 (feature)",
        )
    if q70 is not None:
        _hline(
            fig,
            span,
            q70,
            f"daily_max_q70 = {fmt_number(q70)}",
            "#999999",
            "solid",
            "daily_max_q70 (feature)",
        )
    if q90 is not None:
        big = factor * q90
        _hline(
            fig,
            span,
            big,
            f"{factor:g} × daily_max_q90 = {fmt_number(big)}",
            "#7b3294",
            "dot",
            "super-peak line",
            width=2,
        )


def _add_levels(fig: go.Figure, thresholds: dict | None, labels: dict | None, span: tuple) -> None:
    method = str(thresholds.get("method") or "") if thresholds else ""
    basis = str(thresholds.get("basis") or "") if thresholds else ""
    for level in LEVELS:
        color = LEVEL_COLORS[level]
        rec = finite(thresholds.get(level)) if thresholds else None
        if rec is not None:
            how = f" ({method})" if method else ""
            _hline(
                fig,
                span,
                rec,
                f"recommended {level} = {fmt_number(rec)}{how}",
                color,
                "solid",
                f"recommended {level}{how}: {fmt_number(rec)}<br>{basis}",
                width=2.5,
            )
        expert = finite(labels.get(f"ip_{level}")) if labels else None
        if expert is not None:
            _hline(
                fig,
                span,
                expert,
                f"expert ip_{level} = {fmt_number(expert)}",
                color,
                "dash",
                f"expert ip_{level}: {fmt_number(expert)}",
                width=2,
            )


def _add_attacks(fig: go.Figure, s: pl.DataFrame, blocked_threshold: float) -> int:
    runs = attack_periods(s, blocked_threshold=blocked_threshold)
    if runs.height == 0:
        return 0
    # Widen each run by half a sampling step so a one-sample attack is still visible.
    step_s = s.select(median_step_s()).item()
    half = dt.timedelta(seconds=step_s / 2 if step_s is not None else 150)
    for start, end in zip(_naive(runs["start"]), _naive(runs["end"]), strict=True):
        fig.add_vrect(
            x0=start - np.timedelta64(half),
            x1=end + np.timedelta64(half),
            fillcolor=ATTACK_FILL,
            line_width=0,
            layer="below",
        )
    # Shapes have no legend entry: a proxy trace explains the shading.
    fig.add_scatter(
        x=[None],
        y=[None],
        mode="markers",
        name=f"attack periods ({runs.height})",
        marker={"symbol": "square", "size": 12, "color": ATTACK_LEGEND},
        hoverinfo="skip",
    )
    return runs.height


def _add_super_peaks(fig: go.Figure, peaks: pl.DataFrame | None, keys: dict) -> None:
    if peaks is None or peaks.height == 0:
        return
    if keys and all(k in peaks.columns for k in KEY_COLUMNS):
        peaks = peaks.filter(*(pl.col(k) == v for k, v in keys.items()))
    value = next((c for c in ("passed", "value", "passed_val") if c in peaks.columns), None)
    if peaks.height == 0 or value is None or "timestamp" not in peaks.columns:
        return
    fig.add_scatter(
        x=_naive(peaks["timestamp"]),
        y=peaks[value].to_numpy(),
        mode="markers",
        name=f"super peaks ({peaks.height})",
        marker={"symbol": "x", "size": 11, "color": SUPER_PEAK_COLOR, "line": {"width": 1}},
        hovertemplate="super peak %{x}: %{y:.4g}<extra></extra>",
    )


def _layout(fig: go.Figure, keys: dict, title: str | None, subtitle: str) -> None:
    metric = keys.get("metric", "")
    heading = title or (" · ".join(keys[k] for k in KEY_COLUMNS) if keys else "series")
    fig.update_layout(
        template=TEMPLATE,
        title={"text": heading, "subtitle": {"text": subtitle}, "x": 0.01, "font": {"size": 16}},
        xaxis={"title": {"text": "time (UTC)"}},
        yaxis={
            "title": {"text": f"{metric} ({METRIC_UNITS.get(metric, 'value')})".strip()},
            "rangemode": "tozero",
        },
        legend={"font": {"size": 11}, "groupclick": "toggleitem"},
        margin={"l": 70, "r": 20, "t": 80, "b": 50},
        height=620,
        hovermode="closest",
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                # Above the legend, clear of Plotly's mode bar in the top corner.
                "x": 1.02,
                "xanchor": "left",
                "y": 1.01,
                "yanchor": "bottom",
                "showactive": True,
                "buttons": [
                    {"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
                    {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
                ],
            }
        ],
    )
