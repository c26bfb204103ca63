"""Merge semantics against a plain dictionary: the newest sample at each timestamp wins."""

from __future__ import annotations

from unittest import mock

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from store_builders import T0, batch, series_frame

from floodmark.store import ingest, ingestion, open_store

SERIES = [("a", "PT_SYN", "PPS"), ("b", "PT_SYN", "PPS"), ("c", "PT_SYN", "PPS"),
          ("a", "PT_UDP", "BW"), ("d", "PT_UDP", "BW")]  # fmt: skip

# One batch: some series, each with a few timestamps on a small grid (so inputs overlap).
batches = st.lists(
    st.tuples(
        st.sampled_from(SERIES),
        st.lists(st.integers(0, 15), min_size=1, max_size=8, unique=True),
        st.integers(0, 3),  # a value seed: equal seeds give equal values
    ),
    min_size=0,
    max_size=4,
)


def _frames(spec) -> list[pl.DataFrame]:
    return [
        series_frame(*key, T0 + 300 * np.array(slots), np.full(len(slots), float(seed)))
        for key, slots, seed in spec
    ]


@settings(max_examples=25)
@given(
    ingests=st.lists(st.lists(batches, min_size=1, max_size=2), min_size=1, max_size=3),
    max_file_rows=st.integers(3, 40),
    # Incoming fragments all in files, the first few in memory and the rest in files, all in memory.
    memory_bytes=st.sampled_from([0, 400, 1 << 30]),
)
def test_store_matches_a_last_write_wins_dictionary(
    tmp_path_factory, ingests, max_file_rows, memory_bytes
):
    with mock.patch.object(ingestion, "FRAGMENT_MEMORY_BYTES", memory_bytes):
        _check_against_dictionary(tmp_path_factory, ingests, max_file_rows)


def _check_against_dictionary(tmp_path_factory, ingests, max_file_rows):
    root = tmp_path_factory.mktemp("merge") / "store"
    oracle: dict[tuple, float] = {}
    for inputs in ingests:
        known = {k[:3] for k in oracle}
        before = dict(oracle)
        readers = []
        for spec in inputs:
            readers.append([batch(*_frames([item])) for item in spec])
            for key, slots, seed in spec:
                for slot in slots:
                    oracle[(*key, slot)] = float(seed)
        summary = ingest(root, readers, max_file_rows=max_file_rows)

        assert summary.samples_new == len(oracle) - len(before)
        assert summary.series_added == len({k[:3] for k in oracle} - known)
        changed = {k[:3] for k in oracle if before.get(k) != oracle[k]}
        assert summary.series_updated == len(changed & known)

        store = open_store(root)
        expected = (
            pl.DataFrame(
                [(p, v, m, T0 + 300 * s, val) for (p, v, m, s), val in oracle.items()],
                schema={
                    "prediction_id": pl.String,
                    "vector": pl.String,
                    "metric": pl.String,
                    "timestamp": pl.Int64,
                    "passed": pl.Float64,
                },  # fmt: skip
                orient="row",
            )
            .with_columns(
                pl.from_epoch("timestamp", time_unit="s")
                .dt.cast_time_unit("us")
                .dt.replace_time_zone("UTC"),
                blocked=pl.lit(0.0),
            )
            .sort("prediction_id", "vector", "metric", "timestamp")
        )
        assert_frame_equal(store.read_series(), expected, check_dtypes=False)
        counts = expected.group_by("prediction_id", "vector", "metric").len()
        cat = store.catalog().join(counts, on=["prediction_id", "vector", "metric"], how="full")
        assert (cat["n_samples"] == cat["len"]).all()
        index = store.index()
        assert index.group_by("prediction_id", "vector", "metric").len()["len"].max() in (1, None)
