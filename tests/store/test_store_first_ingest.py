"""A first ingest written from whole-series blocks gives the store the general merge gives."""

from __future__ import annotations

import hashlib
from pathlib import Path
from unittest import mock

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from store_builders import T0, batch, regular, series_frame

from floodmark.io.read_result import ReadResult
from floodmark.io.series_blocks import BlockFile
from floodmark.store import ingest, ingestion, new_partition, open_store
from floodmark.store.incoming import blocks_of
from floodmark.store.tables import normalise_samples

KEYS = [("a", "PT_SYN", "PPS"), ("b", "PT_SYN", "PPS"), ("c", "PT_SYN", "PPS"),
        ("a", "PT_UDP", "BW"), ("dd", "PT_UDP", "BW"), ("é", "PT_UDP", "BW")]  # fmt: skip

# One series: its key, timestamps (slots on a 300 s grid, possibly irregular, possibly
# unsorted or repeated) and values.
one_series = st.tuples(
    st.sampled_from(KEYS),
    st.lists(st.integers(0, 60), min_size=1, max_size=12),
    st.sampled_from([True, False]),  # sorted and unique, as readers give them
    st.integers(0, 5),
)


def _frame(key, slots, tidy, seed) -> pl.DataFrame:
    slots = sorted(set(slots)) if tidy else slots
    values = np.arange(len(slots), dtype=np.float64) * (seed + 0.5)
    return series_frame(*key, T0 + 300 * np.array(slots), values, values / 3)


def _as_blocks(result, file: BlockFile | None):
    """A reader's batch handed over as blocks (in memory, or in a block file)."""
    samples = normalise_samples(result.samples)
    blocks = (blocks_of(samples),) if samples.height else ()
    if file is not None:
        blocks = tuple(b.written_to(file) for b in blocks)
    return ReadResult(
        series=result.series,
        quarantine=result.quarantine,
        repaired_duplicates=result.repaired_duplicates,
        blocks=blocks,
    )


def _ingest_both(tmp: Path, inputs, max_file_rows: int, memory_bytes: int, handoff: str = "frames"):
    """The same ingest twice: blocks allowed, and the general merge only."""
    out = []
    for allowed in (True, False):
        root = tmp / f"store-{allowed}"
        readers = [[batch(*[_frame(*s) for s in spec]) for spec in reader] for reader in inputs]
        if allowed and handoff != "frames":
            file = BlockFile(tmp / "blocks.bin") if handoff == "block file" else None
            readers = [[_as_blocks(b, file) for b in reader] for reader in readers]
        takes = new_partition.takes if allowed else (lambda *a: False)
        with (
            mock.patch.object(new_partition, "takes", takes),
            mock.patch.object(ingestion, "FRAGMENT_MEMORY_BYTES", memory_bytes),
        ):
            summary = ingest(root, readers, max_file_rows=max_file_rows)
        out.append((root, summary))
    return out


def _files(store) -> dict[str, str]:
    return {
        str(p.relative_to(store.series_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.series_dir.rglob("*.parquet"))
    }


@settings(max_examples=40, deadline=None)
@given(
    inputs=st.lists(
        st.lists(st.lists(one_series, max_size=4), min_size=1, max_size=3), min_size=1, max_size=2
    ),
    max_file_rows=st.integers(2, 30),
    memory_bytes=st.sampled_from([0, 200, 1 << 30]),  # spilled, partly spilled, in memory
    handoff=st.sampled_from(["frames", "blocks", "block file"]),  # what the reader gives
)
def test_first_ingest_from_blocks_equals_the_general_merge(
    tmp_path_factory, inputs, max_file_rows, memory_bytes, handoff
):
    tmp = tmp_path_factory.mktemp("first")
    (fast_root, fast), (general_root, general) = _ingest_both(
        tmp, inputs, max_file_rows, memory_bytes, handoff
    )
    assert fast == general
    a, b = open_store(fast_root), open_store(general_root)
    assert _files(a) == _files(b)  # the very same partition files, byte for byte
    assert_frame_equal(a.index(), b.index())
    assert_frame_equal(a.catalog(), b.catalog())
    assert_frame_equal(a.quarantine().drop("ingested_at"), b.quarantine().drop("ingested_at"))


def test_a_plain_first_ingest_is_written_from_blocks_and_an_update_merges(store_dir):
    frames = [series_frame(pid, "PT_SYN", "PPS", regular(50), np.arange(50.0)) for pid in "zyx"]
    taken = []
    real = new_partition.takes

    def spy(*args):
        taken.append(real(*args))
        return taken[-1]

    with mock.patch.object(new_partition, "takes", spy):
        ingest(store_dir, [batch(*frames)], max_file_rows=60)
        assert taken == [True]
        more = series_frame("x", "PT_SYN", "PPS", regular(5, start=T0 + 300 * 50), np.ones(5))
        summary = ingest(store_dir, [batch(more)], max_file_rows=60)
    assert taken == [True, False]  # the partition is stored now: the merge runs
    assert summary.samples_new == 5
    store = open_store(store_dir)
    assert store.catalog()["prediction_id"].to_list() == ["x", "y", "z"]
    assert store.catalog()["n_samples"].to_list() == [55, 50, 50]
    index = store.index()
    assert index.height == 3 and index["file"].n_unique() == 3  # 150 rows, files of <= 60
    assert store.read_series("x")["passed"].to_list() == [*np.arange(50.0), *np.ones(5)]
