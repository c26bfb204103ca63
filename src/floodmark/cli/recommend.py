"""``floodmark recommend``: the thresholds table for every series, by one method."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from floodmark.cli.engine import Engine, SparkConf, SparkMaster, spark_engine, use_spark
from floodmark.cli.options import (
    CHUNK_ROWS,
    BlockedThreshold,
    ChunkRows,
    FeaturesFile,
    Quiet,
    StoreDir,
)
from floodmark.cli.output import console, print_frame, progress
from floodmark.cli.params import parse_params

if TYPE_CHECKING:  # imported where used: --help and other commands start without it
    import polars as pl

HELP = (
    "Recommend ss <= sc <= nw <= rl thresholds for every series and write them.\n\n"
    "Methods:\n\n"
    '- rule-max: max (or mean, --params \'{"statistic": "mean"}\') of baseline passed '
    "traffic over the learning window x 1.2/1.5/2/3 (mean: 3/5/8/12).\n\n"
    "- rule-daily: 1.5/2/3/5 x daily_max_q90 (nw is the notebook's 3 x daily_max_q90); "
    '--params \'{"variant": "p95"}\' uses the 95th percentile of daily maxima, read from '
    "the store's samples.\n\n"
    "- evt: an extreme-value (GEV) fit of each series' daily maxima; each level is a "
    "false-alarm budget (one a week, a month, a quarter, a year) and expected_fa_per_day_* "
    "says what it costs. Reads the samples from the store chunk by chunk (--chunk-rows "
    "bounds memory).\n\n"
    "- model: a model from `floodmark train` (--model is required).\n\n"
    "- rule-p95: Cloudflare-style, 1/1.5/2/4 x the 95th percentile of the daily maxima of "
    "the last 7 learning days.\n\n"
    "- experts: the store's own ip_* labels (to compare with).\n\n"
    "- budget (the default; --method default): --target-fa false alarms per object per "
    "week at each level (default 3.5,1.5,1.2,0.9), spent series by series where the "
    "attacks learned on the same kind of traffic say it buys the most detection; "
    "expected_fa_per_day_* is what each series is expected to raise (its curve read with "
    "the rates of its own kind of traffic).\n\n"
    "Methods that read samples (evt, rule-daily p95) leave attack samples (blocked > "
    "--blocked-threshold) out of what they learn; the others read the features, computed "
    "with `floodmark features --blocked-threshold`.\n\n"
    "Every row has a basis (how the number was made) and, when the method could not apply, "
    "a fallback (the rule used instead and why). Floors (--floors: CSV, JSON or Parquet with "
    "columns vector,metric,ss,sc,nw,rl; * matches any) keep silent vectors from getting "
    "absurd values.\n\n"
    "Examples:\n\n"
    "floodmark recommend --store fleet-store --features features.parquet --method evt "
    "--out thresholds.parquet\n\n"
    "floodmark recommend --store fleet-store --features features.parquet --method default "
    "--target-fa 7,3,1.8,1.2 --out thresholds.parquet\n\n"
    "floodmark recommend --store fleet-store --features features.parquet --method model "
    "--model model/ --floors floors.csv --out thresholds.csv\n\n"
    "With --engine spark every series is fitted on Spark executors (a trained model's text "
    "files are shipped to them; budget and default are measured there and fitted once over "
    "the fleet on the driver; experts runs on the local engine)."
)


def register(app: typer.Typer) -> None:
    app.command("recommend", help=HELP)(recommend)


def recommend(
    store: StoreDir,
    features: FeaturesFile,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help=(
                "rule-max, rule-daily, rule-p95, evt, model, experts, or default (the method "
                "floodmark picks for the store: model with expert labels, else rule-max)."
            ),
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Thresholds table to write: .parquet, .csv or .json (atomically)."
        ),
    ],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            exists=True,
            file_okay=False,
            help="Model directory from `floodmark train`.",
        ),
    ] = None,
    floors: Annotated[
        Path | None,
        typer.Option(
            "--floors",
            exists=True,
            dir_okay=False,
            help="Floors table (vector,metric,ss,sc,nw,rl).",
        ),
    ] = None,
    params: Annotated[
        str | None,
        typer.Option("--params", help='Method parameters as JSON, e.g. \'{"variant": "p95"}\'.'),
    ] = None,
    blocked_threshold: BlockedThreshold = 0.0,
    target_fa: Annotated[
        str | None,
        typer.Option(
            "--target-fa",
            help=(
                "budget (and default): false alarms per object per week at ss,sc,nw,rl, "
                "e.g. 7,3,1.8,1.2; the thresholds spend it where it buys the most detection "
                "and expected_fa_per_day_* says what each series is expected to cost."
            ),
        ),
    ] = None,
    chunk_rows: ChunkRows = CHUNK_ROWS,
    quiet: Quiet = False,
    engine: Engine = "local",
    spark_master: SparkMaster = "local[*]",
    spark_conf: SparkConf = None,
) -> None:
    """Write the thresholds table (one row per series) and print a short summary."""
    from floodmark.io.atomic import TABLE_SUFFIXES, read_table, write_table
    from floodmark.store import open_store
    from floodmark.thresholds import METHODS, Floors, fallback_summary, resolve_method
    from floodmark.thresholds.default import DEFAULT
    from floodmark.thresholds.recommend import recommend_by_name

    if method not in METHODS and method != DEFAULT:
        raise typer.BadParameter(
            f"choose from {', '.join([*METHODS, DEFAULT])}", param_hint="--method"
        )
    opened = open_store(store)
    method = resolve_method(method, opened.catalog())
    if method == "model" and model is None:
        raise typer.BadParameter("--method model needs --model MODEL_DIR", param_hint="--model")
    if method != "model" and model is not None:
        raise typer.BadParameter("--model is only for --method model", param_hint="--model")
    if out.suffix.lower() not in TABLE_SUFFIXES:
        raise typer.BadParameter(f"use one of {', '.join(TABLE_SUFFIXES)}", param_hint="--out")
    extra = parse_params(params)
    if target_fa is not None:
        if method != "budget":
            raise typer.BadParameter(
                "only the budget method (and default) takes a target", param_hint="--target-fa"
            )
        extra["target_fa"] = _targets(target_fa)
    if method == "model" and extra:
        raise typer.BadParameter("a trained model takes no parameters", param_hint="--params")
    if blocked_threshold and "blocked_threshold" not in METHODS[method].parameters:
        raise typer.BadParameter(
            f"{method} reads the features: give it to `floodmark features` instead",
            param_hint="--blocked-threshold",
        )

    floor_table = None if floors is None else Floors.from_file(floors)
    if use_spark(engine, spark_master, spark_conf):
        if method == "experts":
            raise typer.BadParameter(
                f"{method} runs on the local engine only", param_hint="--engine"
            )
        with spark_engine(spark_master, spark_conf) as spark:
            from floodmark.spark.recommend import recommend_store

            recommend_store(
                spark,
                opened,
                features,
                method,
                out,
                params=extra,
                model_dir=model,
                floors=floor_table,
                blocked_threshold=blocked_threshold,
            )
        table = read_table(out)
        _summary(table, method, opened.catalog(), fallback_summary(table))
        console.print(f"wrote {out}")
        return
    frame = read_table(features)
    with progress(disable=quiet) as bar:
        tasks: list = []  # shown from the first report: methods reading only features make none

        def report(done: int, total: int) -> None:
            if not tasks:
                tasks.append(bar.add_task(f"{method}: fitting", total=total))
            bar.update(tasks[0], completed=done, total=total)

        table = recommend_by_name(
            opened,
            frame,
            method,
            params=extra,
            model_dir=model,
            floors=floor_table,
            blocked_threshold=blocked_threshold,
            chunk_rows=chunk_rows,
            progress=report,
        )
    write_table(table, out)
    _summary(table, method, opened.catalog(), fallback_summary(table))
    console.print(f"wrote {out}")


def _targets(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise typer.BadParameter(
            f"give four numbers (ss,sc,nw,rl), e.g. 7,3,1.8,1.2 (got {text!r})",
            param_hint="--target-fa",
        )
    return values


def _summary(
    table: pl.DataFrame, method: str, catalog: pl.DataFrame, fallbacks: pl.DataFrame
) -> None:
    import polars as pl

    from floodmark.schema import KEY_COLUMNS, LEVELS

    keys = list(KEY_COLUMNS)
    n_fallback = int(fallbacks["series"].sum()) if fallbacks.height else 0
    console.print(
        f"{method}: {table.height} series, {n_fallback} fell back"
        + "".join(f", median {lv} {table[lv].median():.4g}" for lv in LEVELS if table.height)
    )
    if fallbacks.height:
        print_frame(fallbacks, title="fallbacks (rule: reason)")
    if catalog.height:
        without = catalog.select(pl.col(k).cast(pl.String) for k in keys).join(
            table.select(keys), on=keys, how="anti"
        )
        if without.height:
            console.print(f"{without.height} series of the store have no row in the features table")
