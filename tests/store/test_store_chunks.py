"""iter_chunks / chunk_plan / read_chunk: complete series, every sample exactly once."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from store_builders import batch, regular, series_frame

from floodmark.schema import LONG_SCHEMA
from floodmark.store import ChunkSpec, ingest, open_store, read_chunk, read_chunk_runs

KEYS = ["prediction_id", "vector", "metric"]
ORDER = ["vector", "metric", "prediction_id", "timestamp"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    """Series of very different lengths over three partitions and several small files,
    with tiny row groups so chunk boundaries fall inside row groups and across them."""
    rng = np.random.default_rng(11)
    frames = []
    for i in range(30):
        vector, metric = [("PT_SYN", "PPS"), ("PT_UDP", "BW"), ("PT_TOTAL", "PPS")][i % 3]
        n = int(rng.choice([1, 2, 7, 40, 130]))
        frames.append(series_frame(f"obj{i:02d}", vector, metric, regular(n), rng.random(n)))
    root = tmp_path_factory.mktemp("chunks") / "store"
    ingest(root, batch(*frames), max_file_rows=150, row_group_rows=16)
    return root


@settings(max_examples=60)
@given(max_rows=st.integers(min_value=1, max_value=700))
def test_iter_chunks_never_splits_and_covers_once(fleet, max_rows):
    store = open_store(fleet)
    everything = store.read_series().sort(ORDER)
    sizes = {
        tuple(r[:3]): r[3] for r in everything.group_by(KEYS, maintain_order=True).len().rows()
    }
    chunks = list(store.iter_chunks(max_rows))
    seen: set[tuple] = set()
    for chunk in chunks:
        assert chunk.schema == pl.Schema(LONG_SCHEMA)
        counts = chunk.group_by(KEYS).len().rows()
        for *key, n in counts:
            assert tuple(key) not in seen, "a series is in two chunks"
            assert sizes[tuple(key)] == n, "a series is split"
            seen.add(tuple(key))
        assert chunk.height <= max_rows or len(counts) == 1
    assert seen == set(sizes)
    assert_frame_equal(pl.concat(chunks), everything)  # store order, each sample once
    plan = store.chunk_plan(max_rows)
    assert [s.n_rows for s in plan] == [c.height for c in chunks]
    for spec, chunk in zip(plan, chunks, strict=True):
        assert_frame_equal(read_chunk(spec), chunk)
        assert_runs_match(spec, chunk)


def assert_runs_match(spec, chunk: pl.DataFrame) -> None:
    """read_chunk_runs: the same samples, the series listed in row order with their sizes."""
    keys, values = read_chunk_runs(spec)
    assert_frame_equal(values, chunk.select("timestamp", "passed", "blocked"))
    runs = chunk.group_by(KEYS, maintain_order=True).len("n_samples")
    assert_frame_equal(keys, runs, check_dtypes=False)


def test_chunks_filter_by_vector_and_metric(fleet):
    store = open_store(fleet)
    got = pl.concat(store.iter_chunks(50, vectors=["PT_UDP"], metrics="BW"))
    assert_frame_equal(got, store.read_series(vector="PT_UDP").sort(ORDER))
    assert list(store.iter_chunks(50, vectors="PT_ICMP")) == []
    with pytest.raises(ValueError):
        store.chunk_plan(0)


def test_chunk_spec_is_read_in_another_process(fleet):
    store = open_store(fleet)
    plan = store.chunk_plan(200)
    assert pickle.loads(pickle.dumps(plan)) == plan
    assert all(isinstance(s, ChunkSpec) and s.pieces for s in plan)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        frames = list(pool.map(read_chunk, plan))
    assert_frame_equal(pl.concat(frames), store.read_series().sort(ORDER))


@settings(max_examples=15)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=12),
    max_file_rows=st.integers(min_value=1, max_value=120),
    max_rows=st.integers(min_value=1, max_value=150),
)
def test_random_layouts(tmp_path_factory, lengths, max_file_rows, max_rows):
    root = tmp_path_factory.mktemp("layout") / "store"
    frames = [
        series_frame(f"s{i:02d}", "PT_TCP", "PPS", regular(n), np.arange(n, dtype=float))
        for i, n in enumerate(lengths)
    ]
    ingest(root, batch(*frames), max_file_rows=max_file_rows, row_group_rows=5)
    store = open_store(root)
    chunks = list(store.iter_chunks(max_rows))
    got = pl.concat(chunks)
    assert_frame_equal(got, pl.concat(frames).sort(ORDER))
    for chunk in chunks:
        assert chunk.height <= max_rows or chunk["prediction_id"].n_unique() == 1
    ids = [c["prediction_id"].unique().to_list() for c in chunks]
    flat = [i for group in ids for i in group]
    assert len(flat) == len(set(flat)) == len(lengths)
