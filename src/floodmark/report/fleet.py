"""The fleet report: one offline HTML file about a whole store and its results."""

from __future__ import annotations

import datetime as dt
import math
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from floodmark.backtest.result import BacktestMeta, BacktestResult
from floodmark.io.atomic import atomic_path
from floodmark.report import markup as html
from floodmark.report.data import (
    expert_pairs,
    has_labels,
    select_series,
    worst_fitting,
)
from floodmark.report.fleet_figures import (
    backtest_figure,
    distribution_figure,
    expert_figure,
    injected_figure,
    steps_figure,
    vector_order,
)
from floodmark.report.series import series_figure
from floodmark.report.style import fmt_number, fmt_percent
from floodmark.schema import DEFECT_REASONS, KEY_COLUMNS, LEVELS, METRICS, series_name

if TYPE_CHECKING:
    from floodmark.store import Store

DEFAULT_TITLE = "floodmark fleet report"
#: Most objects whose own detection-by-size curves the report draws (a few public traces).
MAX_OBJECT_CURVES = 12


def build_report(
    store: Store,
    features: pl.DataFrame | None = None,
    thresholds: pl.DataFrame | None = None,
    *,
    backtest: BacktestResult | None = None,
    super_peaks: pl.DataFrame | None = None,
    worst: int = 10,
    max_points: int = 5000,
    title: str = DEFAULT_TITLE,
    blocked_threshold: float | None = None,
) -> str:
    """The fleet report as one self-contained HTML document.

    store: a ``floodmark.store`` Store (catalog, quarantine and the worst series' samples).
    features: the features table (``floodmark features``); optional.
    thresholds: a thresholds table (``ss … rl`` per series and method); optional.
    backtest: a ``BacktestResult`` (``.table``, ``.meta``); optional.
    super_peaks: the super-peaks table written beside the features; optional.
    worst: how many worst-fitting series (vs expert labels) to plot.
    max_points: at most this many points per level in the recommended-vs-expert chart
        (a seeded sample of a large fleet keeps the file light).
    blocked_threshold: samples with ``blocked`` above it are attack traffic, shaded in
        the series plots; default the backtest's, else 0.

    Missing pieces are said in words, never drawn as empty charts.
    """
    if blocked_threshold is None:
        blocked_threshold = 0.0 if backtest is None else backtest.meta.parameters.blocked_threshold
    catalog = store.catalog()
    quarantine = store.quarantine()
    parts: list[tuple[str, str, str]] = [
        ("overview", "Fleet", _overview(catalog, quarantine, features, thresholds, backtest)),
        ("quarantine", "Quarantine", _quarantine(quarantine)),
        ("features", "Feature distributions", _features(features)),
        ("methods", "Recommended thresholds", _methods(thresholds)),
        ("experts", "Recommended vs expert", _experts(catalog, thresholds, max_points)),
        ("backtest", "Backtest", _backtest(backtest)),
        (
            "worst",
            "Worst-fitting series",
            _worst(store, catalog, features, thresholds, super_peaks, worst, blocked_threshold),
        ),
    ]
    source = getattr(store, "root", None) or getattr(store, "path", None) or ""
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = f"store {source} · generated {created}" if source else f"generated {created}"
    body = "\n".join(html.section(anchor, heading, content) for anchor, heading, content in parts)
    return html.page(title, subtitle, [(a, h) for a, h, _ in parts], body)


def write_report(path: str | Path, *args: Any, **kwargs: Any) -> Path:
    """Build the report (same arguments as :func:`build_report`) and write it atomically."""
    path = Path(path)
    text = build_report(*args, **kwargs)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _overview(catalog, quarantine, features, thresholds, backtest) -> str:
    n_objects = catalog["prediction_id"].n_unique() if catalog.height else 0
    methods = sorted(thresholds["method"].unique().to_list()) if _has(thresholds, "method") else []
    items = [
        ("objects", f"{n_objects:,}"),
        ("series", f"{catalog.height:,}"),
        ("quarantined", f"{quarantine.height:,}"),
        ("series with features", f"{features.height:,}" if features is not None else "none"),
        ("methods", ", ".join(methods) if methods else "none"),
        ("expert labels", "yes" if has_labels(catalog) else "none"),
        ("backtest", "yes" if backtest is not None else "none"),
    ]
    if catalog.height == 0:
        return html.cards(items) + html.empty("The store holds no series.")
    counts = (
        catalog.group_by("vector", "metric")
        .agg(n=pl.len())
        .pivot(on="metric", index="vector", values="n")
    )
    metric_cols = [m for m in METRICS if m in counts.columns]
    metric_cols += sorted(c for c in counts.columns if c not in {"vector", *metric_cols})
    counts = counts.select("vector", *(pl.col(m).fill_null(0) for m in metric_cols))
    counts = counts.with_columns(total=pl.sum_horizontal(metric_cols))
    order = vector_order(counts["vector"].to_list())
    counts = counts.sort(pl.col("vector").replace_strict({v: i for i, v in enumerate(order)}))
    top = float(counts.select(metric_cols).max_horizontal().max() or 0)
    return (
        html.cards(items)
        + "<h3>Series by vector and metric</h3>"
        + html.table(counts, shade={m: top for m in metric_cols})
    )


def _quarantine(quarantine: pl.DataFrame) -> str:
    if quarantine.height == 0:
        return html.empty("No series were quarantined: every input series was read.")
    summary = (
        quarantine.group_by("reason")
        .agg(
            series=pl.len(),
            sources=pl.col("source").n_unique(),
            example=pl.format("{} row {}: {}", "source", "row", "detail").first(),
        )
        .sort("series", descending=True)
        .with_columns(meaning=pl.col("reason").replace_strict(DEFECT_REASONS, default=""))
        .select("reason", "meaning", "series", "sources", "example")
    )
    return html.note(
        f"{quarantine.height:,} series were set aside at ingest, by reason:"
    ) + html.table(summary)


def _features(features: pl.DataFrame | None) -> str:
    if features is None or features.height == 0:
        return html.empty("No features table given (floodmark features --store … --out …).")
    parts = []
    if "daily_max_q90" in features.columns:
        parts.append(
            html.note(
                "daily_max_q90 per vector: the 90th percentile, across days, of each day's "
                "maximum non-blocked traffic (log scale; series where it is 0 or undefined "
                "cannot be drawn and are left out)."
            )
        )
        parts.append(
            html.figure(
                distribution_figure(features, "daily_max_q90", log=True, units=True),
                "fig-daily-max-q90",
            )
        )
    if "missing_tmstmp_percentage" in features.columns:
        missing = features["missing_tmstmp_percentage"].cast(pl.Float64).fill_nan(None)
        parts.append("<h3>Data quality</h3>")
        if missing.drop_nulls().n_unique() <= 1:
            # One value everywhere (usually 0): a sentence says it better than flat boxes.
            value = missing.drop_nulls().first() if missing.null_count() < missing.len() else None
            parts.append(
                html.empty(
                    f"missing_tmstmp_percentage is {fmt_number(value)} % for every series."
                    if value is not None
                    else "missing_tmstmp_percentage is undefined everywhere."
                )
            )
        else:
            parts.append(
                html.note(
                    "missing_tmstmp_percentage per vector: share of samples missing against each "
                    "series' own sampling step (0–100 %)."
                )
            )
            parts.append(
                html.figure(
                    distribution_figure(
                        features, "missing_tmstmp_percentage", log=False, units=False
                    ),
                    "fig-missing",
                )
            )
    return "\n".join(parts) or html.empty("The features table has no plottable columns.")


def _methods(thresholds: pl.DataFrame | None) -> str:
    if thresholds is None or thresholds.height == 0:
        return html.empty("No thresholds table given (floodmark recommend … --out …).")
    t = (
        thresholds
        if "method" in thresholds.columns
        else thresholds.with_columns(method=pl.lit("?"))
    )
    fallback = pl.col("fallback").is_not_null() if "fallback" in t.columns else pl.lit(False)
    summary = t.group_by("method").agg(series=pl.len(), with_fallback=fallback.sum()).sort("method")
    parts = [html.table(summary, headers={"with_fallback": "used a fallback rule"})]
    if "fallback" in t.columns and t["fallback"].is_not_null().any():
        from floodmark.thresholds import fallback_summary

        # Grouped by rule and reason, as `floodmark recommend` prints them.
        reasons = pl.concat(
            [
                fallback_summary(t.filter(pl.col("method") == m)).select(
                    pl.lit(m).alias("method"), "fallback", "series"
                )
                for m in sorted(t["method"].unique().to_list())
            ]
        )
        parts += ["<h3>Fallbacks, by rule and reason</h3>", html.table(reasons)]
    return "\n".join(parts)


def _experts(catalog: pl.DataFrame, thresholds: pl.DataFrame | None, max_points: int) -> str:
    if not has_labels(catalog):
        return html.empty(
            "This store has no expert labels (ip_ss … ip_rl), so recommended thresholds "
            "cannot be compared with expert ones."
        )
    if thresholds is None or thresholds.height == 0:
        return html.empty("No thresholds table given: nothing to compare with the expert labels.")
    pairs = expert_pairs(thresholds, catalog)
    positive = pairs.filter((pl.col("recommended") > 0) & (pl.col("expert") > 0))
    if positive.height == 0:
        return html.empty("No series has both a positive recommendation and an expert label.")
    dropped = pairs.height - positive.height
    shown = positive
    sampled = []
    for (level, method), group in positive.group_by("level", "method"):
        if group.height > max_points:
            sampled.append(f"{method} {level}: {max_points:,} of {group.height:,}")
    if sampled:
        shown = positive.group_by("level", "method").map_groups(
            lambda g: g.sample(n=min(g.height, max_points), seed=0)
        )
    text = (
        "Each point is one series at one level. On the dashed line the recommendation equals "
        "the expert's; inside the green band it is within ±25 %. Above the line the "
        "recommendation is less sensitive than the expert's."
    )
    if dropped:
        text += f" {dropped:,} pairs with a zero value cannot be drawn on log axes."
    if sampled:
        text += " Drawn: a seeded sample (" + "; ".join(sorted(sampled)) + ")."
    return html.note(text) + html.figure(expert_figure(shown), "fig-experts")


def _backtest(backtest: Any | None) -> str:
    if backtest is None:
        return html.empty(
            "No backtest given (floodmark backtest --store … --out FILE.json, "
            "then --backtest FILE)."
        )
    table: pl.DataFrame = backtest.table
    meta: BacktestMeta = backtest.meta
    if table.height == 0:
        return html.empty("The backtest has no rows (no series had a test period).")
    every = meta.parameters.refit_every
    split = (
        f"re-learned every {fmt_number(every)} days: the {fmt_number(meta.learn_days)} days "
        f"before each test learn ({meta.n_steps} steps, summed)"
        if every is not None and meta.learn_days is not None
        else f"first {fmt_number(meta.learn_days)} days learn, the rest tests"
        if meta.learn_days is not None
        else f"first {fmt_percent(meta.learn_fraction)} of each series learns"
        if meta.learn_fraction is not None
        else ""
    )
    facts = [
        f"{k.replace('_', ' ')}: {fmt_number(getattr(meta, k))}"
        for k in ("n_series_tested", "n_objects_tested", "object_days")
    ]
    intro = "; ".join([s for s in (split, *facts, meta.source) if s])
    promised = meta.expected_false_alarms_per_object_day
    shown = table
    if promised:
        own = pl.DataFrame(
            [(m, lv, v) for m, per in promised.items() for lv, v in (per or {}).items()],
            schema={"method": pl.String, "level": pl.String, "promised_fa": pl.Float64},
            orient="row",
        )
        shown = shown.join(own, on=["method", "level"], how="left", maintain_order="left")
    pct = {c: fmt_percent for c in ("detection_rate", "within_25pct") if c in shown.columns}
    # median_ape_vs_expert_pct is already in percent; the rates are 0-1 shares.
    pct["median_ape_vs_expert_pct"] = lambda v: "–" if v is None else f"{fmt_number(v, 3)} %"
    headers = {
        "false_alarms_per_object_day": "false alarms / object-day",
        "promised_fa": "method's own expected FA / object-day",
        "median_delay_samples": "median delay (samples)",
        "median_ape_vs_expert_pct": "median |error| vs expert",
        "within_25pct": "within ±25 % of expert",
    }
    if table["detection_rate"].is_null().all():
        chart = html.empty(
            "No attack episode fell in the test period, so detection cannot be measured: "
            "the table's false alarms still hold."
        )
    else:
        # the figure reads alarms as they fire at once (the smallest minimum duration)
        first = table.filter(pl.col("min_duration") == pl.col("min_duration").min())
        chart = html.figure(backtest_figure(first, promised), "fig-backtest")
    return (
        (html.note(intro) if intro else "")
        + html.table(shown, formats=pct, headers=headers)
        + chart
        + _steps(backtest)
        + _injected(backtest)
    )


def _steps(backtest: Any) -> str:
    """A rolling backtest's steps (``backtest --refit-every``), if any, as a picture."""
    steps = getattr(backtest, "steps", None)
    if steps is None or steps.is_empty():
        return ""
    first = steps.filter(pl.col("min_duration") == pl.col("min_duration").min())
    return (
        "<h3>Step by step: false alarms of each re-learned test part</h3>"
        + html.note(
            f"Every method was re-learned every {fmt_number(backtest.meta.parameters.refit_every)} "
            "days; each point is one step's test part (false alarms per object-day), dashed a "
            "method's own promise for that step. Alarms at once (the smallest minimum duration)."
        )
        + html.figure(steps_figure(first), "fig-steps")
    )


def _injected(backtest: Any) -> str:
    """Detection against the size of inserted attacks (``backtest --inject``), if measured."""
    injected = getattr(backtest, "injected", None)
    if injected is None or injected.is_empty():
        return ""
    first = injected.filter(pl.col("min_duration") == pl.col("min_duration").min())
    spec = backtest.meta.parameters.inject or ""
    parts = [
        f"<h3>Inserted attacks: detection by size ({escape(spec)})</h3>",
        html.note(
            "Synthetic attacks inserted into every series' test part (one per size, or "
            "REPEAT per size), sized in multiples of the series' own p99 of normal learning "
            "traffic. Alarms at once (the smallest minimum duration)."
        ),
        html.figure(injected_figure(first), "fig-injected"),
    ]
    by_object = getattr(backtest, "injected_by_object", None)
    n_objects = 0 if by_object is None else by_object["prediction_id"].n_unique()
    if 1 < n_objects <= MAX_OBJECT_CURVES:
        # a store of a few traces: one row of curves per trace
        first = by_object.filter(pl.col("min_duration") == pl.col("min_duration").min())
        parts += [
            "<h3>By object</h3>",
            html.note(f"The same for each of the {n_objects} objects."),
            html.figure(injected_figure(first), "fig-injected-objects"),
        ]
    elif n_objects > MAX_OBJECT_CURVES:
        parts.append(
            html.note(
                f"{n_objects:,} objects: per-object curves are drawn for at most "
                f"{MAX_OBJECT_CURVES} (the backtest file keeps them all, injected_by_object)."
            )
        )
    return "".join(parts)


def _worst(store, catalog, features, thresholds, super_peaks, n: int, blocked: float) -> str:
    if n <= 0:
        return html.empty("No worst-fitting series requested (--worst 0).")
    if not has_labels(catalog):
        return html.empty("Without expert labels there is no fit to rank series by.")
    if thresholds is None or thresholds.height == 0:
        return html.empty("No thresholds table given: nothing to rank against the expert labels.")
    ranked = worst_fitting(expert_pairs(thresholds, catalog), n)
    if ranked.height == 0:
        return html.empty("No series has both a positive recommendation and an expert label.")
    parts = [
        html.note(
            f"The {ranked.height} series (and method) whose recommendation is farthest from the "
            "expert's at some level, by |ln(recommended / expert)|. Solid lines: recommended; "
            f"dashed: expert; shaded: attack periods (blocked > {blocked:g})."
        )
    ]
    for i, row in enumerate(ranked.iter_rows(named=True), start=1):
        parts.append(_worst_one(i, row, store, catalog, features, thresholds, super_peaks, blocked))
    return "\n".join(parts)


def _worst_one(i, row, store, catalog, features, thresholds, super_peaks, blocked) -> str:
    """One worst-fitting series: what is wrong in words, its levels side by side, its plot."""
    keys = [row[k] for k in KEY_COLUMNS]
    t_row = _first(select_series(thresholds, *keys, method=row["method"])) or {}
    labels = _first(select_series(catalog, *keys)) or {}
    head = (
        f"{i}. {series_name(*keys)} — {row['method']}, worst at {row['level']}: recommended "
        f"{fmt_number(row['recommended'])} vs expert {fmt_number(row['expert'])} "
        f"(× {fmt_number(math.exp(row['log_ratio']), 3)})"
    )
    levels = pl.DataFrame(
        {
            "level": list(LEVELS),
            "recommended": [t_row.get(lv) for lv in LEVELS],
            "expert": [labels.get(f"ip_{lv}") for lv in LEVELS],
        },
        schema={"level": pl.String, "recommended": pl.Float64, "expert": pl.Float64},
    )
    fig = series_figure(
        store.read_series(prediction_id=keys[0], vector=keys[1], metric=keys[2]),
        features_row=_first(select_series(features, *keys)) if features is not None else None,
        thresholds_row=t_row,
        labels_row=labels,
        super_peaks=super_peaks,
        blocked_threshold=blocked,
    )
    basis = t_row.get("basis")
    return (
        f'<div class="worst"><h3>{escape(head)}</h3>'
        + (html.note(f"basis: {basis}") if basis else "")
        + html.table(levels)
        + html.figure(fig, f"fig-worst-{i}")
        + "</div>"
    )


def _first(frame: pl.DataFrame) -> dict | None:
    return frame.row(0, named=True) if frame.height else None


def _has(frame: pl.DataFrame | None, column: str) -> bool:
    return frame is not None and column in frame.columns and frame.height > 0
