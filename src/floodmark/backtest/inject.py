"""Synthetic attacks inserted into the test part of real traffic, to measure detection by size.

``--inject plateau:12:0.5,1,2,4`` inserts into every series' test part one attack
episode per size (``plateau:12:0.5,1,2,4:3``: three per size, the sizes taking turns
through the test part): ``shape`` (``plateau``, ``ramp`` rising to its size, ``pulse``
switching between its size and a tenth of it every 2 samples), ``duration`` samples
long, of ``size`` × the series' own p99 of normal (baseline) traffic in its learning
part. The attack is added as blocked traffic plus a leaked share in ``passed``, so the
one attack rule (``floodmark.domain.is_attack``) scores it as an attack. Episodes sit in
the middle of equal slices of the test part, one slice per episode, so they never overlap.
Detection is counted per object too (``INJECTED_OBJECT_SCHEMA``): a store of a few
public traces has one curve per trace.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from floodmark.backtest.episodes import label_samples, score_thresholds
from floodmark.domain import is_baseline
from floodmark.errors import FloodmarkError
from floodmark.schema import KEY_COLUMNS, LEVELS

KEYS = list(KEY_COLUMNS)
SHAPES = ("plateau", "ramp", "pulse")

#: Detected injected episodes per method × minimum duration × level × size.
INJECTED_SCHEMA: dict[str, pl.DataType] = {
    "method": pl.String(),
    "min_duration": pl.Int64(),
    "level": pl.String(),
    "size": pl.Float64(),
    "episodes": pl.Int64(),
    "detected": pl.Int64(),
    "detection_rate": pl.Float64(),
}
#: The same per object (``prediction_id``).
INJECTED_OBJECT_SCHEMA: dict[str, pl.DataType] = {"prediction_id": pl.String(), **INJECTED_SCHEMA}


@dataclass(frozen=True)
class InjectSpec:
    """What to insert: shape, duration (samples), sizes (× p99 of normal traffic), episodes
    per size and series (``repeat``), leak."""

    shape: str
    duration: int
    sizes: tuple[float, ...]
    leak: float = 0.05
    repeat: int = 1

    @classmethod
    def parse(cls, text: str) -> InjectSpec:
        """``SHAPE:DURATION:SIZE[,SIZE…][:REPEAT]``, e.g. ``ramp:6:0.5,1,2,4`` or
        ``ramp:6:0.5,1,2,4:3`` (three episodes per size and series)."""
        parts = text.split(":")
        try:
            # plain ASCII numbers only (Python would also read 1_0 or other scripts' digits)
            if not text.isascii() or "_" in text:
                raise ValueError(text)
            shape, duration, sizes, *more = parts
            if len(more) > 1:
                raise ValueError(text)
            spec = cls(
                shape,
                int(duration),
                tuple(float(s) for s in sizes.split(",")),
                repeat=int(more[0]) if more else 1,
            )
        except ValueError:
            raise FloodmarkError(
                f"inject: expected SHAPE:DURATION:SIZE[,SIZE...][:REPEAT] such as "
                f"plateau:12:1,2,4 or plateau:12:1,2,4:3, got {text!r}"
            ) from None
        spec.check()
        return spec

    def check(self) -> None:
        if self.shape not in SHAPES:
            raise FloodmarkError(f"inject: shape must be one of {SHAPES}, got {self.shape!r}")
        if self.duration < 1:
            raise FloodmarkError(f"inject: duration must be >= 1 sample, got {self.duration}")
        if not self.sizes or not all(math.isfinite(s) and s > 0 for s in self.sizes):
            raise FloodmarkError(f"inject: sizes must be positive, got {list(self.sizes)}")
        if not 0 <= self.leak < 1:
            raise FloodmarkError(f"inject: leak must be in [0, 1), got {self.leak}")
        if self.repeat < 1:
            raise FloodmarkError(f"inject: repeat must be >= 1 episode per size, got {self.repeat}")

    def text(self) -> str:
        """The spec as ``parse`` reads it back (each size short, but exact)."""
        sizes = ",".join(f"{s:g}" if float(f"{s:g}") == s else repr(s) for s in self.sizes)
        text = f"{self.shape}:{self.duration}:{sizes}"
        return text if self.repeat == 1 else f"{text}:{self.repeat}"


def inject(
    test: pl.DataFrame, learn: pl.DataFrame, spec: InjectSpec, blocked_threshold: float = 0.0
) -> pl.DataFrame:
    """``test`` (rows by series, in time order) with the attacks added and ``inj_size``
    (the size of the injected episode a sample is in, else null)."""
    p99 = (
        learn.filter(is_baseline(blocked_threshold) & pl.col("passed").is_finite())
        .group_by(KEYS)
        .agg(p99=pl.col("passed").quantile(0.99, interpolation="linear"))
    )
    # one slot per episode; the sizes take turns, so each spans the whole test part.
    # More slots than rows leave every slot too short for an episode: capping them at
    # the rows changes nothing and keeps ``pos * k`` within 64 bits
    k, d = min(len(spec.sizes) * spec.repeat, max(test.height, 1)), spec.duration
    n = pl.len().over(KEYS)
    pos = pl.int_range(pl.len()).over(KEYS)
    df = test.join(p99, on=KEYS, how="left", maintain_order="left").with_columns(
        _slot=(pos * k) // n, _pos=pos, _n=n
    )
    slot, n = pl.col("_slot"), pl.col("_n")
    slot_start = (slot * n + k - 1) // k  # first row of the slot
    slot_len = ((slot + 1) * n + k - 1) // k - slot_start
    j = pl.col("_pos") - slot_start - (slot_len - d) // 2  # position within the episode
    inside = (j >= 0) & (j < d) & (slot_len >= d + 2) & (pl.col("p99") > 0)
    factor = {
        "plateau": pl.lit(1.0),
        "ramp": (j + 1) / d,
        "pulse": pl.when((j // 2) % 2 == 0).then(1.0).otherwise(0.1),
    }[spec.shape]
    size = (slot % len(spec.sizes)).replace_strict(
        list(range(len(spec.sizes))), list(spec.sizes), return_dtype=pl.Float64
    )
    df = df.with_columns(
        inj_size=pl.when(inside.fill_null(False)).then(size),
        _amount=(size * pl.col("p99") * factor).fill_null(0.0),
    ).with_columns(_amount=pl.when(pl.col("inj_size").is_not_null()).then("_amount").otherwise(0.0))
    # an injected sample must be an attack by the one rule: above the blocked threshold
    return df.with_columns(
        blocked=pl.col("blocked").fill_nan(0.0).fill_null(0.0)
        + pl.col("_amount") * (1 - spec.leak)
        + pl.when(pl.col("inj_size").is_not_null()).then(blocked_threshold).otherwise(0.0),
        passed=pl.col("passed") + pl.col("_amount") * spec.leak,
    ).drop("p99", "_amount", "_slot", "_pos", "_n")


def score_injected(
    test: pl.DataFrame,
    thresholds: pl.DataFrame,
    spec: InjectSpec,
    min_durations: Sequence[int],
) -> pl.DataFrame:
    """Injected episodes and detections per object × method × min_duration × level × size
    (counts)."""
    parts = [pl.DataFrame(schema=INJECTED_OBJECT_SCHEMA).drop("detection_rate")]
    # a size given twice is counted once: its pass already marks the episodes of both
    for size in dict.fromkeys(spec.sizes):
        # only this size's episodes are attacks here (no blocked value is above infinity)
        marked = test.with_columns(_this=(pl.col("inj_size") == size).fill_null(False))
        labelled = label_samples(marked, blocked_threshold=math.inf, in_window="_this")
        for n in min_durations:
            scores, _ = score_thresholds(labelled, thresholds, n)
            parts.append(
                scores.group_by("prediction_id", "method", "min_duration", "level").agg(
                    size=pl.lit(size, pl.Float64),
                    episodes=pl.col("attack_episodes").sum(),
                    detected=pl.col("detected").sum(),
                )
            )
    return pl.concat(parts, how="diagonal_relaxed")


def summarise_injected(counts: pl.DataFrame, *, by_object: bool = False) -> pl.DataFrame:
    """Counts of every chunk summed (over the fleet, or per object), with the detection rate."""
    schema = INJECTED_OBJECT_SCHEMA if by_object else INJECTED_SCHEMA
    by = [c for c in schema if c not in ("episodes", "detected", "detection_rate")]
    table = counts.group_by(by).agg(pl.col("episodes", "detected").sum())
    table = table.with_columns(
        detection_rate=pl.when(pl.col("episodes") > 0).then(pl.col("detected") / pl.col("episodes"))
    )
    order = pl.col("level").replace_strict(LEVELS, list(range(len(LEVELS))), default=len(LEVELS))
    keys = ["prediction_id"] if by_object else []
    return table.sort(*keys, "method", "min_duration", order, "size", maintain_order=True).select(
        pl.col(c).cast(t) for c, t in schema.items()
    )
