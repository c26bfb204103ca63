"""Readers hand series to the store as blocks: in memory, in the ingest's spill file, or
in block files the decoding processes wrote. Every hand-off gives the store the general
path gives (long tables merged), byte for byte, whatever the workers and threads."""

from __future__ import annotations

import hashlib
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from store_builders import T0, batch, regular, series_frame

from floodmark.errors import FloodmarkError
from floodmark.io import iter_vendor_export
from floodmark.io.codec import encode_time_series
from floodmark.io.read_result import ReadResult
from floodmark.store import ingest, ingest_files, ingestion, new_partition, open_store

KEYS = [(pid, vector, metric) for pid in ("a", "b", "c", "dd") for vector in ("PT_SYN", "PT_UDP")
        for metric in ("PPS", "BW")]  # fmt: skip
HOSTILE = ["%%%not base64%%%", "aGVsbG8gd29ybGQ=", ""]  # bad base64, bad gzip, empty

# One vendor row: a key, its sample slots (maybe none: empty days; maybe a slot twice) and
# blocked values, or a broken cell.
row = st.tuples(
    st.sampled_from(KEYS),
    st.lists(st.integers(0, 40), max_size=10),
    st.integers(0, 3),
    st.one_of(st.none(), st.sampled_from(HOSTILE)),
)


def _cell(slots: list[int], seed: int) -> str:
    ts = T0 + 300 * np.array(slots, dtype=np.int64)
    passed = np.arange(len(slots), dtype=np.float64) * (seed + 0.25)
    hit = np.arange(len(slots)) % 2 == 0
    return encode_time_series(ts, passed, ts[hit], passed[hit] / 4)


def _export(path: Path, rows: list[tuple]) -> Path:
    keys = [key for key, *_ in rows]
    cells = [_cell(slots, seed) if bad is None else bad for _, slots, seed, bad in rows]
    table = pa.table(
        {
            "prediction_id": [k[0] for k in keys],
            "vector": [k[1] for k in keys],
            "metric": [k[2] for k in keys],
            "time_series": cells,
            "ip_ss": [float(i) for i in range(len(rows))],  # a label
        }
    )
    pq.write_table(table, path, row_group_size=3)
    return path


def _files(store) -> dict[str, str]:
    return {
        str(p.relative_to(store.series_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.series_dir.rglob("*.parquet"))
    }


def _as_long_tables(path: Path, batch_rows: int) -> list[ReadResult]:
    """The reader's batches as long tables: the general path's input."""
    return [
        ReadResult(
            samples=part.samples,
            series=part.series,
            quarantine=part.quarantine,
            repaired_duplicates=part.repaired_duplicates,
        )
        for part in iter_vendor_export(path, batch_rows=batch_rows)
    ]


def _same_store(a_root: Path, b_root: Path) -> None:
    a, b = open_store(a_root), open_store(b_root)
    assert _files(a) == _files(b)  # the very same partition files, byte for byte
    assert_frame_equal(a.index(), b.index())
    assert_frame_equal(a.catalog(), b.catalog())
    assert_frame_equal(a.quarantine().drop("ingested_at"), b.quarantine().drop("ingested_at"))


@settings(max_examples=15, deadline=None)
@given(
    rows=st.lists(row, min_size=1, max_size=12),
    batch_rows=st.integers(1, 5),
    max_file_rows=st.integers(3, 40),
)
def test_every_hand_off_of_a_vendor_export_gives_the_general_paths_store(
    tmp_path_factory, rows, batch_rows, max_file_rows
):
    tmp = tmp_path_factory.mktemp("handover")
    path = _export(tmp / "export.parquet", rows)
    with (
        mock.patch.object(new_partition, "takes", lambda *a: False),
    ):
        general = ingest(
            tmp / "general", [_as_long_tables(path, batch_rows)], max_file_rows=max_file_rows
        )
    kwdefaults = {**ingestion.ingest.__kwdefaults__, "max_file_rows": max_file_rows}
    variants = {
        "workers 1, blocks in memory": (1, 1 << 30),
        "workers 1, blocks in the spill file": (1, 0),
        "workers 2, blocks in the workers' files, 2 threads": (2, 1 << 30),
    }
    for name, (workers, memory_bytes) in variants.items():
        root = tmp / name.replace(" ", "-").replace(",", "").replace("'", "")
        with (
            mock.patch.object(ingestion, "FRAGMENT_MEMORY_BYTES", memory_bytes),
            mock.patch.dict(ingestion.ingest.__kwdefaults__, kwdefaults),
        ):
            summary = ingest_files(root, [path], workers=workers, batch_rows=batch_rows)
        assert summary == general, name
        _same_store(root, tmp / "general")


def _frames(n_series: int) -> list:
    return [
        series_frame(f"s{i:03d}", vector, "PPS", regular(20 + i), np.arange(20.0 + i) * 0.5)
        for i in range(n_series)
        for vector in ("PT_SYN", "PT_UDP", "PT_TCP")
    ]


@pytest.mark.parametrize("threads", [2, 3])
def test_partitions_written_by_threads_are_the_same_files(tmp_path, threads):
    readers = [[batch(*_frames(12)[:20]), batch(*_frames(12)[20:])]]
    one = ingest(tmp_path / "one", readers, max_file_rows=100)
    many = ingest(tmp_path / "many", readers, max_file_rows=100, threads=threads)
    assert one == many
    _same_store(tmp_path / "one", tmp_path / "many")
    # An update (the general merge) by threads too.
    more = [batch(series_frame("s000", "PT_SYN", "PPS", regular(5, start=T0 + 6000), np.ones(5)))]
    assert ingest(tmp_path / "one", more) == ingest(tmp_path / "many", more, threads=threads)
    _same_store(tmp_path / "one", tmp_path / "many")


def test_threads_must_be_positive(store_dir):
    with pytest.raises(FloodmarkError, match="threads"):
        ingest(store_dir, [batch(*_frames(1))], threads=0)
    assert not store_dir.exists()
