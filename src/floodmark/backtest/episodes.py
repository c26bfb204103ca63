"""Episode counting on held-out traffic: false alarms, attack episodes, detection delays.

Everything here is vectorised over whole chunks of series (Polars expressions over
rows sorted by series and time); there is no Python loop per sample. An *episode*
is a maximal run of consecutive samples of one series (in time order) for which a
condition holds; a sample where it does not hold ends the run.

Definitions (product.md, "Backtest"):

- a sample is *attack* when it is attack traffic (``floodmark.domain.is_attack``:
  ``blocked > blocked_threshold``) or it lies in a labelled anomaly window; every
  other sample is *normal*;
- a **false alarm** is an episode of normal samples with ``passed > level``;
- an **attack episode** is a maximal run of attack samples; it is **detected** at a
  level when ``passed + blocked > level`` on at least one of its samples, and its
  **delay** is the 0-based position of the first such sample in the episode
  (0 = caught on the episode's first sample);
- a missing (null or NaN) threshold never alarms and never detects: it is what an
  unset threshold does on a real device;
- with a **minimum duration** of N samples (devices that "ban only after N
  seconds"), a level alarms only once its condition has held on N consecutive
  samples of the series: a false alarm is then a run of normal samples above the
  level at least N long, an attack is detected when N consecutive samples of it
  cross the level, and the delay is the position of the N-th of them.
"""

from __future__ import annotations

import polars as pl

from floodmark.domain import is_attack, run_ids, series_steps, with_series_ids
from floodmark.schema import KEY_COLUMNS

KEYS = list(KEY_COLUMNS)

#: Per series × method × level result of scoring one chunk.
SCORE_SCHEMA: dict[str, pl.DataType] = {
    **{k: pl.String() for k in KEY_COLUMNS},
    "method": pl.String(),
    "level": pl.String(),
    "min_duration": pl.Int64(),
    "threshold": pl.Float64(),
    "false_alarms": pl.Int64(),
    "attack_episodes": pl.Int64(),
    "detected": pl.Int64(),
}

#: One row per detected attack episode and level: how many samples it took.
DELAY_SCHEMA: dict[str, pl.DataType] = {
    **{k: pl.String() for k in KEY_COLUMNS},
    "method": pl.String(),
    "level": pl.String(),
    "min_duration": pl.Int64(),
    "delay_samples": pl.Int64(),
}

#: Per series summary of the test span, used for object-days.
SPAN_SCHEMA: dict[str, pl.DataType] = {
    **{k: pl.String() for k in KEY_COLUMNS},
    "n_test": pl.Int64(),
    "test_start": pl.Datetime("us", "UTC"),
    "test_end": pl.Datetime("us", "UTC"),
    "step_s": pl.Float64(),
}


def series_keys(df: pl.DataFrame) -> pl.DataFrame:
    """``sid`` → key columns, one row per series of a frame with ``sid``."""
    return df.group_by("sid").agg(pl.col(KEYS).first())


def _starts(cond: pl.Expr, first: pl.Expr) -> pl.Expr:
    """True where a run of ``cond`` begins: cond holds and did not hold on the row before."""
    cond = cond.fill_null(False)
    return cond & ~(cond.shift(1).fill_null(False) & ~first)


def _crosses(value: str, threshold: str) -> pl.Expr:
    """``value > threshold``, false where the threshold is missing (null or NaN)."""
    thr = pl.col(threshold).fill_nan(None)
    return (pl.col(value) > thr).fill_null(False)


def sustained(cond: pl.Expr, min_duration: int) -> pl.Expr:
    """``cond`` held on this row and the ``min_duration - 1`` rows before it, in one series.

    Rows must be sorted by ``sid`` and time; 1 is ``cond`` itself.
    """
    cond = cond.fill_null(False)
    if min_duration <= 1:
        return cond
    sid = pl.col("sid")
    return pl.all_horizontal(
        cond,
        *((cond.shift(k) & (sid == sid.shift(k))).fill_null(False) for k in range(1, min_duration)),
    )


def label_samples(
    samples: pl.DataFrame, *, blocked_threshold: float = 0.0, in_window: str | None = None
) -> pl.DataFrame:
    """Add ``sid`` (see :func:`with_series_ids`), the ``attack`` flag and ``attack_run`` ids.

    ``in_window`` names an optional boolean column marking labelled anomaly windows.
    ``attack_run`` numbers the runs of equal ``attack`` within the chunk (series
    boundaries always start a new run), and ``attack_pos`` is the position of a row
    within its run; both only matter on attack rows.
    """
    attack = is_attack(blocked_threshold)
    if in_window is not None:
        attack = attack | pl.col(in_window).fill_null(False)
    df = _with_sid(samples).with_columns(
        _first=(pl.col("sid") != pl.col("sid").shift(1)).fill_null(True),
        attack=attack,
    )
    return df.with_columns(attack_run=run_ids("sid", "attack")).with_columns(
        attack_pos=pl.int_range(pl.len(), dtype=pl.Int64).over("attack_run")
    )


def _with_sid(samples: pl.DataFrame) -> pl.DataFrame:
    """``with_series_ids`` unless the frame has them; then sorted by (sid, timestamp).

    Checking the order is much cheaper than sorting again.
    """
    if "sid" not in samples.columns:
        return with_series_ids(samples)
    sid, ts = pl.col("sid"), pl.col("timestamp")
    in_order = (sid > sid.shift(1)) | ((sid == sid.shift(1)) & (ts >= ts.shift(1)))
    if samples.select(in_order.fill_null(True).all()).item():
        return samples
    return samples.sort("sid", "timestamp")


def span_summary(labelled: pl.DataFrame, steps: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per series: number of test samples, first/last test timestamp and sampling step (s).

    ``steps`` (keys, ``median_step_s``: the store's catalog) gives each series' step;
    without it, or for a series it lacks, the step is the test samples' median step.
    """
    if labelled.is_empty():
        return pl.DataFrame(schema=SPAN_SCHEMA)
    spans = labelled.group_by("sid", maintain_order=True).agg(
        *(pl.col(k).first() for k in KEYS),
        n_test=pl.len().cast(pl.Int64),
        test_start=pl.col("timestamp").min(),
        test_end=pl.col("timestamp").max(),
    )
    spans = spans.join(series_steps(labelled, steps), on="sid", maintain_order="left")
    return spans.select(SPAN_SCHEMA.keys()).cast(SPAN_SCHEMA)


def score_thresholds(
    labelled: pl.DataFrame, thresholds: pl.DataFrame, min_duration: int = 1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Score every (method, level) threshold of every series against its test samples.

    Parameters
    ----------
    labelled: test samples after :func:`label_samples` (keys, sid, timestamp, passed,
        blocked, attack, attack_run, attack_pos, _first), sorted by sid and time.
    thresholds: long frame ``keys, method, level, threshold``; series without a row
        are scored with no threshold.
    min_duration: samples a condition must hold in a row before it alarms (1: at once).

    Returns
    -------
    (scores, delays): one row per series × method × level that has test samples
    (``SCORE_SCHEMA``), and one row per detected attack episode × method × level
    (``DELAY_SCHEMA``).
    """
    combos = thresholds.select("method", "level").unique(maintain_order=True)
    if labelled.is_empty() or combos.is_empty():
        return pl.DataFrame(schema=SCORE_SCHEMA), pl.DataFrame(schema=DELAY_SCHEMA)
    names = [f"thr_{i}" for i in range(combos.height)]
    ids = series_keys(labelled)
    wide = ids.join(_widen(thresholds, combos, names), on=KEYS, how="left").drop(KEYS)
    df = labelled.select(
        "sid", "passed", "blocked", "attack", "attack_run", "attack_pos", "_first"
    ).join(wide, on="sid", how="left", maintain_order="left")

    normal = ~pl.col("attack")
    attack = pl.col("attack")
    first = pl.col("_first")
    df = df.with_columns(total=pl.col("passed") + pl.col("blocked")).with_columns(
        *(sustained(normal & _crosses("passed", n), min_duration).alias(f"{n}_up") for n in names),
        *(sustained(attack & _crosses("total", n), min_duration).alias(f"{n}_in") for n in names),
    )
    alarms = df.group_by("sid").agg(
        *(_starts(pl.col(f"{n}_up"), first).sum().alias(f"{n}_fa") for n in names)
    )
    attack_rows = df.filter(attack)
    # Per attack episode: whether the level was crossed (long enough) and where first.
    episodes = attack_rows.group_by("sid", "attack_run").agg(
        *(pl.col(f"{n}_in").any().alias(f"{n}_hit") for n in names),
        *(pl.col("attack_pos").filter(pl.col(f"{n}_in")).min().alias(f"{n}_delay") for n in names),
    )
    per_series_episodes = episodes.group_by("sid").agg(
        pl.len().cast(pl.Int64).alias("attack_episodes"),
        *(pl.col(f"{n}_hit").sum().cast(pl.Int64).alias(f"{n}_hit") for n in names),
    )
    base = (
        ids.join(alarms, on="sid", how="left")
        .join(per_series_episodes, on="sid", how="left")
        .join(wide, on="sid", how="left")
        .sort("sid")
    )
    episodes = episodes.join(ids, on="sid", how="left").sort("sid", "attack_run")

    scores, delays = [], []
    for i, name in enumerate(names):
        method, level = combos.row(i)
        scores.append(
            base.select(
                *KEYS,
                method=pl.lit(method, pl.String),
                level=pl.lit(level, pl.String),
                min_duration=pl.lit(min_duration, pl.Int64),
                threshold=pl.col(name).fill_nan(None),
                false_alarms=pl.col(f"{name}_fa").cast(pl.Int64),
                attack_episodes=pl.col("attack_episodes").fill_null(0),
                detected=pl.col(f"{name}_hit").fill_null(0),
            )
        )
        delays.append(
            episodes.filter(pl.col(f"{name}_hit")).select(
                *KEYS,
                method=pl.lit(method, pl.String),
                level=pl.lit(level, pl.String),
                min_duration=pl.lit(min_duration, pl.Int64),
                delay_samples=pl.col(f"{name}_delay").cast(pl.Int64),
            )
        )
    return (
        pl.concat(scores).cast(SCORE_SCHEMA),
        pl.concat(delays).cast(DELAY_SCHEMA),
    )


def _widen(thresholds: pl.DataFrame, combos: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """One row per series, one Float64 column per (method, level) combination."""
    wide = thresholds.select(KEYS).unique(maintain_order=True)
    for i, name in enumerate(names):
        method, level = combos.row(i)
        col = thresholds.filter((pl.col("method") == method) & (pl.col("level") == level)).select(
            *KEYS, pl.col("threshold").cast(pl.Float64).alias(name)
        )
        wide = wide.join(col.unique(KEYS, keep="last"), on=KEYS, how="left")
    return wide
