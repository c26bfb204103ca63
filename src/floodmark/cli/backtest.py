"""``floodmark backtest``: learn on the start of every series, count alarms on the rest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from floodmark.cli.engine import Engine, SparkConf, SparkMaster, spark_engine, use_spark
from floodmark.cli.options import (
    CHUNK_ROWS,
    BlockedThreshold,
    ChunkRows,
    Quiet,
    StoreDir,
    fraction,
    positive,
)
from floodmark.cli.output import console, parse_csv_option, progress
from floodmark.cli.params import parse_params

if TYPE_CHECKING:  # imported where used: --help and other commands start without it
    import polars as pl

HELP = """Measure what thresholds would have cost and caught, method by method.

Every series is split in time: the first --learn-days days (or the first
--learn-fraction of its span) learn, the rest is the test. Each method learns
its thresholds (ss <= sc <= nw <= rl) on the learning part; the `model` method is
cross-fitted with GroupKFold by object, so no object is scored by a model that was
trained on it (it needs expert labels ip_ss..ip_rl in the store).

The printed table has one row per method x level (JSON names in parentheses):

- false alarms (false_alarms): episodes (runs of consecutive samples) of
  non-attack traffic with passed > level in the test part. A higher level can
  split one long episode into several, so this need not fall from ss to rl.

- per obj-day (false_alarms_per_object_day): false alarms / object-days, the
  sum over objects of their test span in days (object_days).

- attacks (attack_episodes): runs of samples with blocked > --blocked-threshold
  or inside a labelled window (--windows); caught (detected): episodes in which
  passed + blocked crossed the level; rate (detection_rate) = caught / attacks.

- delay (median_delay_samples): median samples from an episode's start to its
  first crossing (0 = the first sample), over caught episodes.

- N (min_duration, shown with several --min-duration values): an alarm only
  once the level has been exceeded on N consecutive samples; false alarms are
  then runs at least N long, and an attack is caught when N of its consecutive
  samples cross the level (the delay counts to the N-th).

- MdAPE % (median_ape_vs_expert_pct): median |threshold - ip_level| / ip_level in percent;
  ±25% (within_25pct): share of series within 25 % of the expert. Shown only
  when the store has expert labels.

Examples:

  floodmark backtest --store fleet-store --methods rule-max,rule-daily,evt,model --out bt.json

  floodmark backtest --store fleet-store --methods default,experts,rule-max,rule-p95
  --min-duration 1,3 --out bt.json

  floodmark backtest --store nab-store --methods rule-max,rule-daily,evt
  --learn-fraction 0.3 --windows combined_windows.json --out nab.json

  floodmark backtest --store cesnet-store --methods default,rule-max
  --learn-days 21 --refit-every 7 --out weekly.json

See docs/backtest.md for the definitions and measured examples.
"""


def register(app: typer.Typer) -> None:
    app.command("backtest", help=HELP)(backtest)


def backtest(
    store: StoreDir,
    methods: Annotated[
        str,
        typer.Option(
            "--methods",
            help=(
                "Comma-separated methods to compare: rule-max, rule-daily, rule-p95, evt, "
                "model, experts (the ip_* labels), default (the method floodmark picks for "
                "the store)."
            ),
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="JSON file to write: {meta, table, per_series} (written atomically)."
        ),
    ],
    learn_days: Annotated[
        float,
        typer.Option(
            "--learn-days", callback=positive, help="Days from each series' start that learn (> 0)."
        ),
    ] = 21.0,
    learn_fraction: Annotated[
        float | None,
        typer.Option(
            "--learn-fraction",
            callback=fraction,
            help="Instead of --learn-days: the first fraction (0-1) of each series' span learns.",
        ),
    ] = None,
    windows: Annotated[
        Path | None,
        typer.Option(
            "--windows",
            exists=True,
            dir_okay=False,
            help=(
                "Labelled anomaly windows counted as attacks and left out of learning: NAB "
                "combined_windows.json (keys map to the file stem), or CSV/Parquet "
                "prediction_id,start,end."
            ),
        ),
    ] = None,
    blocked_threshold: BlockedThreshold = 0.0,
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            help='Method parameters as JSON, e.g. \'{"rule-daily": {"factors": [2, 3, 4, 6]}}\'.',
        ),
    ] = None,
    folds: Annotated[
        int, typer.Option("--folds", min=2, help="GroupKFold folds (by object) for the model.")
    ] = 5,
    chunk_rows: ChunkRows = CHUNK_ROWS,
    min_duration: Annotated[
        str,
        typer.Option(
            "--min-duration",
            help=(
                "Samples a level must be exceeded in a row before it alarms (devices that ban "
                "only after N seconds); comma-separated values give one table row each, "
                "e.g. 1,3,6."
            ),
        ),
    ] = "1",
    inject: Annotated[
        str | None,
        typer.Option(
            "--inject",
            metavar="SHAPE:DURATION:SIZES[:REPEAT]",
            help=(
                "Insert synthetic attacks into every series' test part and measure detection "
                "by size, over the fleet and per object: SHAPE plateau, ramp or pulse; "
                "DURATION in samples; SIZES in multiples of the series' p99 of normal learning "
                "traffic; REPEAT episodes per size and series (default 1), e.g. "
                "plateau:12:0.5,1,2,4,8 or plateau:12:0.5,1,2,4,8:4."
            ),
        ),
    ] = None,
    refit_every: Annotated[
        float | None,
        typer.Option(
            "--refit-every",
            callback=positive,
            metavar="DAYS",
            help=(
                "Roll instead of one split, as an operator re-learning every DAYS days: learn "
                "--learn-days, test the next DAYS, slide by DAYS across the whole store, "
                "refitting every method at each step; the table sums all steps. At least "
                "the store's finest sampling step."
            ),
        ),
    ] = None,
    quiet: Quiet = False,
    engine: Engine = "local",
    spark_master: SparkMaster = "local[*]",
    spark_conf: SparkConf = None,
) -> None:
    """Backtest threshold methods on a store and write the method x level table."""
    from floodmark.backtest import read_windows, run_backtest
    from floodmark.backtest.inject import InjectSpec
    from floodmark.errors import FloodmarkError
    from floodmark.thresholds import METHODS
    from floodmark.thresholds.default import DEFAULT

    if out.suffix.lower() != ".json":
        raise typer.BadParameter("the output is JSON: give a .json file", param_hint="--out")
    names = parse_csv_option(methods, [*METHODS, DEFAULT], "methods")
    method_params = parse_params(params, per_method=True)
    durations = _durations(min_duration)
    try:
        injection = None if inject is None else InjectSpec.parse(inject)
    except FloodmarkError as exc:
        raise typer.BadParameter(str(exc), param_hint="--inject") from None
    if refit_every is not None and learn_fraction is not None:
        raise typer.BadParameter(
            "a rolling backtest slides --learn-days: drop --learn-fraction",
            param_hint="--refit-every",
        )
    window_frame = None if windows is None else read_windows(windows)

    options = dict(
        learn_days=learn_days,
        learn_fraction=learn_fraction,
        windows=window_frame,
        blocked_threshold=blocked_threshold,
        method_params=method_params,
        model_folds=folds,
    )
    if use_spark(engine, spark_master, spark_conf):
        if durations != [1] or injection is not None or refit_every is not None:
            raise typer.BadParameter(
                "--min-duration, --inject and --refit-every run on the local engine only",
                param_hint="--engine",
            )
        with spark_engine(spark_master, spark_conf) as spark:
            from floodmark.spark import spark_backtest

            result = spark_backtest(spark, store, names, **options)
        _finish(result, out)
        return

    with progress(disable=quiet) as bar:
        tasks: dict[str, object] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = run_backtest(
            store,
            names,
            progress=report,
            chunk_rows=chunk_rows,
            min_durations=durations,
            injection=injection,
            refit_every=refit_every,
            **options,
        )
    _finish(result, out)


def _finish(result, out: Path) -> None:
    """Write the result and print its table."""
    result.to_json(out)
    meta = result.meta
    _print_table(
        result.table,
        f"{meta.n_series_tested} of {meta.n_series} series tested, "
        f"{meta.n_objects_tested} objects, {meta.object_days:.1f} object-days; "
        f"learned on the {meta.split_text()}"
        + (f"; default = {meta.default_method}" if meta.default_method else ""),
    )
    _print_default(result)
    if result.injected is not None:
        _print_injected(result.injected)
    console.print(f"wrote {out}")


def _durations(text: str) -> list[int]:
    try:
        values = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise typer.BadParameter(
            f"give whole numbers >= 1, e.g. 1,3,6 (got {text!r})", param_hint="--min-duration"
        )
    return values


#: Short headers for the terminal; the JSON keeps the full column names.
DISPLAY = {
    "method": "method",
    "min_duration": "N",
    "level": "level",
    "false_alarms": "false\nalarms",
    "false_alarms_per_object_day": "per\nobj-day",
    "attack_episodes": "attacks",
    "detected": "caught",
    "detection_rate": "rate",
    "median_delay_samples": "delay",
    "median_ape_vs_expert_pct": "MdAPE\n%",
    "within_25pct": "±25%",
}

#: Columns dropped from the terminal table when the store has no expert labels.
EXPERT_COLUMNS = ("median_ape_vs_expert_pct", "within_25pct")
#: Shares shown as percentages on the terminal (the JSON keeps 0-1 fractions).
PERCENT = ("detection_rate", "within_25pct")


def _print_table(table: pl.DataFrame, title: str) -> None:
    """The method × level table, compact enough for an 80-column terminal."""
    columns = [c for c in DISPLAY if not (c in EXPERT_COLUMNS and table[c].is_null().all())]
    if table["min_duration"].n_unique() == 1:
        columns.remove("min_duration")
    out = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in columns:
        numeric = table[name].dtype.is_numeric()
        out.add_column(DISPLAY[name], justify="right" if numeric else "left", no_wrap=True)
    for row in table.select(columns).iter_rows():
        out.add_row(*(_number(v, percent=c in PERCENT) for c, v in zip(columns, row, strict=True)))
    console.print(out)
    console.print(
        "attacks: attack episodes; caught: detected; rate = caught / attacks; delay: median "
        "samples to detection"
        + ("; MdAPE %, ±25%: against the experts' ip_*" if "within_25pct" in columns else "")
        + (
            "; N: samples above the level in a row before an alarm"
            if "min_duration" in columns
            else ""
        )
    )


def _print_default(result) -> None:
    """With ``default`` among the methods: does it dominate the competitors, and does it
    keep its promise?"""
    import polars as pl

    from floodmark.backtest.dominance import calibration, calibration_by_step, dominance

    dom = dominance(result.table)
    if not dom.is_empty():
        _print_rows(
            dom.with_columns(
                dominates=pl.when("dominates").then(pl.lit("yes")).otherwise(pl.lit("no"))
            ),
            "default against the competitors: fewer false alarms and as many detections?",
        )
    cal = calibration(result, "default")
    if not cal.is_empty():
        _print_rows(cal, "default: false alarms per object-day, promised and measured")
    by_step = calibration_by_step(result, "default")
    if not by_step.is_empty():
        _print_rows(
            by_step,
            "default, step by step: steps whose false alarms exceeded 1.5 x their promise, "
            "and the step furthest above it (alarms, promised)",
        )


#: Short headers of the dominance and calibration tables (the library keeps full names).
SHORT = {
    "competitor": "against",
    "min_duration": "N",
    "fa": "FA/obj-day",
    "fa_other": "theirs",
    "detected": "caught",
    "detected_other": "theirs",
    "attack_episodes": "attacks",
    "dominates": "wins",
    "over": "over 1.5x",
    "worst_start": "worst from",
    "worst_alarms": "alarms",
    "worst_promised": "promised",
}


def _print_rows(frame: pl.DataFrame, title: str) -> None:
    out = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in frame.columns:
        numeric = frame[name].dtype.is_numeric()
        out.add_column(SHORT.get(name, name), justify="right" if numeric else "left", no_wrap=True)
    for row in frame.iter_rows():
        out.add_row(*(_number(v) for v in row))
    console.print(out)


def _print_injected(injected: pl.DataFrame) -> None:
    """Detection of inserted attacks: one row per method x N x level, one column per size."""
    sizes = sorted(injected["size"].unique().to_list())
    out = Table(
        title="inserted attacks caught, by size (x p99 of normal traffic)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for name in ("method", "N", "level"):
        out.add_column(name, no_wrap=True)
    for size in sizes:
        out.add_column(f"{size:g}x", justify="right", no_wrap=True)
    import polars as pl

    keys = injected.select("method", "min_duration", "level").unique(maintain_order=True)
    for method, n, level in keys.iter_rows():
        rows = injected.filter(
            (pl.col("method") == method)
            & (pl.col("min_duration") == n)
            & (pl.col("level") == level)
        )
        rate = dict(zip(rows["size"], rows["detection_rate"], strict=True))
        out.add_row(method, str(n), level, *(_number(rate.get(s), percent=True) for s in sizes))
    if injected["detection_rate"].null_count():
        out.caption = (
            "-: no episode of that size was inserted (the test days of every series are too "
            "short for one, or their learning days hold no normal traffic to size it by)"
        )
    console.print(out)


def _number(value: object, *, percent: bool = False) -> str:
    if value is None:
        return "-"
    if percent and isinstance(value, float):
        return f"{100 * value:.0f}%"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
