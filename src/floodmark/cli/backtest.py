"""``floodmark backtest``: learn on the start of every series, count alarms on the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich import box
from rich.table import Table

from floodmark.cli.engine import Engine, SparkConf, SparkMaster, spark_engine, use_spark
from floodmark.cli.output import StoreDir, console, parse_csv_option, progress
from floodmark.cli.params import parse_params

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

- MdAPE % (median_ape_vs_expert_pct): median |threshold - ip_level| / ip_level in percent;
  ±25% (within_25pct): share of series within 25 % of the expert. Shown only
  when the store has expert labels.

Examples:

  floodmark backtest --store fleet-store --methods rule-max,rule-daily,evt,model --out bt.json

  floodmark backtest --store nab-store --methods rule-max,rule-daily,evt
  --learn-fraction 0.3 --windows combined_windows.json --out nab.json

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
            help="Comma-separated methods to compare: rule-max, rule-daily, evt, model.",
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
        typer.Option("--learn-days", min=0.0, help="Days from each series' start that learn."),
    ] = 21.0,
    learn_fraction: Annotated[
        float | None,
        typer.Option(
            "--learn-fraction",
            min=0.0,
            max=1.0,
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
    blocked_threshold: Annotated[
        float,
        typer.Option("--blocked-threshold", help="Samples with blocked above this are attacks."),
    ] = 0.0,
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
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows read from the store at a time.")
    ] = 2_000_000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    engine: Engine = "local",
    spark_master: SparkMaster = "local[*]",
    spark_conf: SparkConf = None,
) -> None:
    """Backtest threshold methods on a store and write the method x level table."""
    from floodmark.backtest import read_windows, run_backtest
    from floodmark.thresholds import METHODS

    if out.suffix.lower() != ".json":
        raise typer.BadParameter("the output is JSON: give a .json file", param_hint="--out")
    names = parse_csv_option(methods, list(METHODS), "methods")
    if learn_fraction is None and learn_days <= 0:
        raise typer.BadParameter("must be above 0", param_hint="--learn-days")
    method_params = parse_params(params, per_method=True)
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

        result = run_backtest(store, names, progress=report, chunk_rows=chunk_rows, **options)
    _finish(result, out)


def _finish(result, out: Path) -> None:
    """Write the result and print its table."""
    result.to_json(out)
    meta = result.meta
    _print_table(
        result.table,
        f"{meta.n_series_tested} of {meta.n_series} series tested, "
        f"{meta.n_objects_tested} objects, {meta.object_days:.1f} object-days; "
        f"learned on the {meta.split_text()}",
    )
    console.print(f"wrote {out}")


#: Short headers for the terminal; the JSON keeps the full column names.
DISPLAY = {
    "method": "method",
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
        + ("; MdAPE %, ±25%: against the experts' ip_*" if len(columns) > 8 else "")
    )


def _number(value: object, *, percent: bool = False) -> str:
    if value is None:
        return "-"
    if percent and isinstance(value, float):
        return f"{100 * value:.0f}%"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
