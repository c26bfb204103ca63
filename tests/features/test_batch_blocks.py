"""``batch_features`` over a reader's series blocks: the same features as
``compute_features`` of the same samples, however the stream is cut or computed."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from floodmark.errors import SchemaError
from floodmark.features import chunked, compute_features, find_super_peaks
from floodmark.features.chunked import batch_features
from floodmark.io import iter_vendor_export, read_vendor_export, write_vendor_export

T0 = 1_700_000_000  # epoch seconds

KEYS = [
    (pid, vector, metric)
    for pid in "ab"
    for vector in ("PT_TOTAL", "PT_UDP")
    for metric in ("PPS", "BW")
]


@st.composite
def exports(draw) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A long table of a few series and the series list (some without samples)."""
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=6, unique=True))
    rows = []
    for key in keys:
        n = draw(st.sampled_from([0, 1, 2, 7, 40, 300]))
        step = draw(st.sampled_from([1, 300, 3_600, 86_400]))
        values = draw(st.lists(st.sampled_from([0.0, 1.0, 2.5, 1e9, 7e-3]), min_size=n, max_size=n))
        hits = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        rows += [
            (*key, T0 + i * step, value, value * 2 if hit else 0.0)
            for i, (value, hit) in enumerate(zip(values, hits, strict=True))
        ]
    series = pl.DataFrame(keys, schema=["prediction_id", "vector", "metric"], orient="row")
    return long_frame(rows), series


def expected(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    samples = read_vendor_export(path).samples
    return compute_features(samples), find_super_peaks(samples)


@given(
    export=exports(),
    batch_rows=st.integers(1, 5),
    workers=st.integers(1, 3),
    part_rows=st.sampled_from([1, 50, 2_000_000]),
)
def test_blocks_give_the_features_of_the_long_table(export, batch_rows, workers, part_rows):
    samples, series = export
    with tempfile.TemporaryDirectory() as tmp:
        path = write_vendor_export(samples, Path(tmp) / "export.parquet", series=series)
        want_features, want_peaks = expected(path)
        with mock.patch.object(chunked, "PART_ROWS", part_rows):
            got = batch_features(iter_vendor_export(path, batch_rows=batch_rows), workers=workers)
    assert_frame_equal(got.features, want_features, check_exact=True)
    assert_frame_equal(got.super_peaks, want_peaks, check_exact=True)
    assert got.samples == samples.height
    assert got.chunks == -(-series.height // batch_rows)


def test_blocks_decoded_in_processes_and_spilled_to_files(tmp_path):
    rows = [
        (*key, T0 + i * 300, float(i % 17), float(i % 5 == 0)) for key in KEYS for i in range(500)
    ]
    path = write_vendor_export(long_frame(rows), tmp_path / "export.parquet")
    stream = iter_vendor_export(path, batch_rows=3, workers=2, spill_dir=tmp_path / "spill")
    got = batch_features(stream, workers=2)
    assert got.chunks == 3 and list((tmp_path / "spill").glob("decoded-*.bin"))
    want_features, want_peaks = expected(path)
    assert_frame_equal(got.features, want_features, check_exact=True)
    assert_frame_equal(got.super_peaks, want_peaks, check_exact=True)


def long_frame(rows: list[tuple]) -> pl.DataFrame:
    """A long table from ``(pid, vector, metric, epoch_s, passed, blocked)`` rows."""
    names = ["prediction_id", "vector", "metric", "timestamp", "passed", "blocked"]
    frame = pl.DataFrame(rows, schema=names, orient="row")
    micros = pl.from_epoch(pl.col("timestamp"), time_unit="s").dt.cast_time_unit("us")
    return frame.with_columns(
        micros.dt.replace_time_zone("UTC"), pl.col("passed", "blocked").cast(pl.Float64)
    )


def export_rows(tmp_path: Path, *series: list[tuple]) -> Path:
    """A vendor export with one row per argument: the same key may come twice."""
    parts = []
    for number, rows in enumerate(series):
        part = tmp_path / f"part-{number}.parquet"
        parts.append(pl.read_parquet(write_vendor_export(long_frame(rows), part)))
    path = tmp_path / "export.parquet"
    pl.concat(parts).write_parquet(path)
    return path


KEY = ("a", "PT_UDP", "PPS")


def test_a_key_repeated_within_a_batch_is_one_series(tmp_path):
    first = [(*KEY, T0, 1.0, 0.0), (*KEY, T0 + 300, 2.0, 0.0)]
    other = [(*KEYS[0], T0, 3.0, 0.0)]
    later = [(*KEY, T0 + 600, 5.0, 1.0), (*KEY, T0 + 900, 1.0, 0.0)]
    path = export_rows(tmp_path, first, other, later)
    got = batch_features(iter_vendor_export(path))
    assert got.features.height == 2
    assert got.features.filter(pl.col("vector") == "PT_UDP")["n_samples"].item() == 4
    assert_frame_equal(got.features, expected(path)[0], check_exact=True)


def test_a_key_repeated_with_the_same_timestamp_is_refused_as_before(tmp_path):
    rows = [(*KEY, T0, 1.0, 0.0)]
    path = export_rows(tmp_path, rows, rows)
    with pytest.raises(SchemaError, match="repeats within the series"):
        batch_features(iter_vendor_export(path))


def test_an_export_of_empty_series_gives_empty_tables(tmp_path):
    series = pl.DataFrame([KEY], schema=["prediction_id", "vector", "metric"], orient="row")
    path = write_vendor_export(long_frame([]), tmp_path / "export.parquet", series=series)
    got = batch_features(iter_vendor_export(path))
    assert got.features.height == 0 and got.super_peaks.height == 0 and got.samples == 0
    assert got.features.columns == compute_features(read_vendor_export(path).samples).columns


@given(
    counts=st.lists(st.sampled_from([0, 0, 1, 3, 10]), max_size=30), part_rows=st.integers(1, 12)
)
def test_parts_hold_whole_series_and_every_sample_once(counts, part_rows):
    counts = np.array(counts, dtype=np.int64)
    with mock.patch.object(chunked, "PART_ROWS", part_rows):
        parts = chunked._whole_series_parts(counts)
    covered = np.zeros(counts.size, dtype=int)
    for part in parts:
        covered[part] += 1
        assert counts[part].sum() > 0
        # Over the limit only by its last series.
        assert counts[part][:-1].sum() < part_rows or part.stop - part.start == 1
    assert (covered[counts > 0] == 1).all() and covered.max(initial=0) <= 1
