"""Reading Spark results back for comparison with the single-machine engine."""

from __future__ import annotations

import polars as pl
import pytest

from floodmark.schema import KEY_COLUMNS

#: Every Spark test: the ``spark`` marker, and one xdist group so that all share one
#: worker and so one SparkSession.
SPARK = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def collected(frame, sort: list[str] | None = None) -> pl.DataFrame:
    """A (small, test-sized) Spark DataFrame as a Polars frame sorted by ``sort``."""
    out = pl.from_arrow(frame.toArrow())
    return out.sort(sort or list(KEY_COLUMNS))
