"""Ingest then read back: samples, catalog, quarantine, merge and idempotence."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from store_builders import T0, batch, regular, series_frame, snapshot, vendor_frame

from floodmark.errors import SchemaError
from floodmark.io.read_result import ReadResult
from floodmark.io.vendor import write_vendor_export
from floodmark.schema import LONG_SCHEMA
from floodmark.store import (
    CATALOG_SCHEMA,
    STORE_QUARANTINE_SCHEMA,
    ingest,
    ingest_files,
    open_store,
)

KEYS = ["prediction_id", "vector", "metric", "timestamp"]


def _fleet() -> list[pl.DataFrame]:
    rng = np.random.default_rng(3)
    frames = []
    for pid in ("0a1f", "9bc2", "77de"):
        for vector, metric in (("PT_SYN", "PPS"), ("PT_TOTAL", "BW"), ("PT_UDP", "PPS")):
            n = int(rng.integers(5, 40))
            frames.append(
                vendor_frame(
                    pid, vector, metric, regular(n), rng.gamma(2.0, 50.0, n), rng.random(n) < 0.1
                )
            )
    return frames


def test_ingest_then_read_back_identical_samples(store_dir):
    frames = _fleet()
    expected = pl.concat(frames).sort(KEYS)
    summary = ingest(store_dir, [batch(*frames[:4]), batch(*frames[4:])])
    assert summary.series_added == len(frames)
    assert summary.samples_written == summary.samples_new == expected.height
    assert summary.inputs == 1

    store = open_store(store_dir)
    assert_frame_equal(store.read_series(), expected)
    assert_frame_equal(store.scan().collect().sort(KEYS), expected)
    assert store.scan().collect_schema() == pl.Schema(LONG_SCHEMA)
    # The public path is a plain Hive dataset any Parquet reader can scan.
    public = pl.scan_parquet(store_dir / "series", hive_partitioning=True).collect()
    assert_frame_equal(public.select(LONG_SCHEMA.keys()).sort(KEYS), expected)
    one = store.read_series("9bc2", "PT_TOTAL", "BW")
    assert_frame_equal(one, expected.filter(prediction_id="9bc2", vector="PT_TOTAL", metric="BW"))
    assert store.read_series(vector=["PT_UDP"]).height == expected.filter(vector="PT_UDP").height
    assert store.read_series("no-such-id").height == 0


def test_partition_files_are_sorted_hive_parquet(store_dir):
    frames = [
        series_frame(pid, "PT_SYN", "PPS", regular(20)[::-1], np.arange(20.0))
        for pid in ("c", "a", "b")
    ]
    ingest(store_dir, batch(*frames), max_file_rows=25)
    store = open_store(store_dir)
    assert [(v, m) for v, m, _ in store.partitions()] == [("PT_SYN", "PPS")]
    part_dir = store_dir / "series" / "vector=PT_SYN" / "metric=PPS"
    files = sorted(part_dir.glob("part-*.parquet"))
    assert len(files) == 3  # 60 rows with at most ~25 per file, never splitting a series
    whole = pl.concat([pl.read_parquet(f) for f in files])
    assert whole.columns == ["prediction_id", "timestamp", "passed", "blocked"]
    assert whole.equals(whole.sort("prediction_id", "timestamp"))


def test_catalog_columns(store_dir):
    steps = regular(4, step=300)
    irregular = np.array([T0, T0 + 60, T0 + 360, T0 + 960, T0 + 1260])  # steps 60,300,600,300
    frames = [
        series_frame("a", "PT_SYN", "PPS", steps, [1, 2, 3, 4]),
        series_frame("b", "PT_SYN", "PPS", irregular, np.ones(5)),
        series_frame("c", "PT_TCP", "BW", [T0], [7.0]),
    ]
    b = batch(
        *frames,
        source="export.parquet",
        labels={"ip_ss": 10.0, "range_rl": 99.0},
        meta_only=[("empty", "PT_ICMP", "PPS")],
    )
    ingest(store_dir, b)
    cat = open_store(store_dir).catalog()
    assert cat.schema == pl.Schema(CATALOG_SCHEMA)
    rows = {r["prediction_id"]: r for r in cat.iter_rows(named=True)}
    assert rows["a"]["n_samples"] == 4
    assert rows["a"]["first_timestamp"] == dt.datetime.fromtimestamp(T0, dt.UTC)
    assert rows["a"]["last_timestamp"] == dt.datetime.fromtimestamp(T0 + 900, dt.UTC)
    assert rows["a"]["median_step_s"] == 300.0
    assert rows["b"]["median_step_s"] == 300.0
    assert rows["c"]["n_samples"] == 1 and rows["c"]["median_step_s"] is None
    assert rows["empty"]["n_samples"] == 0 and rows["empty"]["first_timestamp"] is None
    assert rows["a"]["source"] == "export.parquet"
    assert rows["a"]["ip_ss"] == 10.0 and rows["a"]["range_rl"] == 99.0
    assert rows["a"]["ip_sc"] is None
    assert cat["prediction_id"].to_list() == sorted(rows)


def test_overlapping_inputs_newer_wins(store_dir):
    first = series_frame("a", "PT_SYN", "PPS", regular(6), np.full(6, 1.0))
    second = series_frame("a", "PT_SYN", "PPS", regular(6, start=T0 + 900), np.full(6, 2.0))
    # Two inputs in one ingest: the second is newer.
    summary = ingest(store_dir, [[batch(first)], [batch(second, source="later.parquet")]])
    assert summary.inputs == 2 and summary.series_added == 1
    got = open_store(store_dir).read_series()
    assert got["timestamp"].n_unique() == got.height == 9  # 6 + 6 - 3 overlapping
    assert got["passed"].to_list() == [1.0] * 3 + [2.0] * 6
    assert open_store(store_dir).catalog()["source"].item() == "later.parquet"

    # A later ingest is newer still.
    third = series_frame("a", "PT_SYN", "PPS", regular(2, start=T0), [5.0, 5.0], [1.0, 0.0])
    summary = ingest(store_dir, batch(third, source="fix.parquet"))
    assert (summary.series_added, summary.series_updated) == (0, 1)
    assert summary.samples_written == 2 and summary.samples_new == 0
    got = open_store(store_dir).read_series()
    assert got.height == 9
    assert got["passed"].to_list()[:4] == [5.0, 5.0, 1.0, 2.0]
    assert got["blocked"].to_list()[:3] == [1.0, 0.0, 0.0]


def test_values_changed_at_same_timestamps_count_as_updated(store_dir):
    ingest(store_dir, batch(series_frame("a", "PT_SYN", "PPS", regular(3), [1, 1, 1])))
    summary = ingest(store_dir, batch(series_frame("a", "PT_SYN", "PPS", regular(3), [1, 9, 1])))
    assert (summary.series_added, summary.series_updated, summary.samples_new) == (0, 1, 0)
    assert open_store(store_dir).read_series()["passed"].to_list() == [1, 9, 1]


def test_reingest_is_idempotent(store_dir):
    frames = _fleet()
    bad = {"source": "x.parquet", "row": 3, "prediction_id": "dead", "vector": "PT_SYN",
           "metric": "PPS", "reason": "bad_gzip", "detail": "not gzip"}  # fmt: skip
    batches = [batch(*frames[:5], quarantine=[bad], repaired=2), batch(*frames[5:])]
    ingest(store_dir, batches)
    before = snapshot(store_dir)
    store = open_store(store_dir)
    samples, catalog, quarantine = store.read_series(), store.catalog(), store.quarantine()

    summary = ingest(store_dir, batches)
    assert (summary.series_added, summary.series_updated, summary.samples_new) == (0, 0, 0)
    assert summary.samples_written == samples.height
    assert summary.quarantined == {"bad_gzip": 1} and summary.repaired_duplicates == 2
    # Nothing changed, so nothing was written: the whole directory is byte-identical.
    assert snapshot(store_dir) == before
    again = open_store(store_dir)
    assert_frame_equal(again.read_series(), samples)
    assert_frame_equal(again.catalog(), catalog)
    assert_frame_equal(again.quarantine(), quarantine)
    assert again.quarantine().height == 1


def test_unchanged_files_are_hard_links_not_rewrites(store_dir):
    frames = [
        series_frame(f"id{i:02d}", "PT_SYN", "PPS", regular(10), np.ones(10)) for i in range(6)
    ]
    ingest(store_dir, batch(*frames), max_file_rows=20)
    part = store_dir / "series" / "vector=PT_SYN" / "metric=PPS"
    inodes = {p.name: os.stat(p).st_ino for p in part.glob("*.parquet")}
    assert len(inodes) == 3
    # A new series after every existing id lands in the last file only.
    extra = series_frame("id99", "PT_SYN", "PPS", regular(10), np.ones(10))
    other = series_frame("id00", "PT_TCP", "PPS", regular(10), np.ones(10))
    ingest(store_dir, batch(extra, other), max_file_rows=20)
    after = {p.name: os.stat(p).st_ino for p in part.glob("*.parquet")}
    assert after["part-00000.parquet"] == inodes["part-00000.parquet"]
    assert after["part-00001.parquet"] == inodes["part-00001.parquet"]
    assert after["part-00002.parquet"] != inodes["part-00002.parquet"]
    assert len(list((store_dir / ".versions").iterdir())) == 1  # the old version is gone
    assert open_store(store_dir).read_series().height == 80


def test_new_series_between_existing_ones_keep_files_ordered(store_dir):
    def five(pid: str) -> pl.DataFrame:
        return series_frame(pid, "PT_SYN", "PPS", regular(5), np.ones(5))

    ids = [f"{i:03d}" for i in range(0, 60, 3)]
    ingest(store_dir, batch(*map(five, ids)), max_file_rows=20)
    more = [f"{i:03d}" for i in range(1, 60, 7)]
    ingest(store_dir, batch(*map(five, more)), max_file_rows=20)
    store = open_store(store_dir)
    part = store_dir / "series" / "vector=PT_SYN" / "metric=PPS"
    ordered = pl.concat([pl.read_parquet(p) for p in sorted(part.glob("*.parquet"))])
    assert ordered["prediction_id"].unique(maintain_order=True).to_list() == sorted(set(ids + more))
    assert store.catalog().height == len(set(ids + more))
    index = store.index()
    assert index.group_by("prediction_id").len()["len"].max() == 1  # a series is in one file


def test_quarantine_rows_and_rest_ingested(store_dir):
    rows = [
        {"source": "e.parquet", "row": 1, "prediction_id": "x", "vector": "PT_SYN",
         "metric": "PPS", "reason": "negative_value", "detail": "passedDays: -1"},
        {"source": "e.parquet", "row": None, "prediction_id": None, "vector": None,
         "metric": None, "reason": "bad_json", "detail": "broken"},
    ]  # fmt: skip
    good = series_frame("ok", "PT_SYN", "PPS", regular(4), np.ones(4))
    summary = ingest(store_dir, batch(good, quarantine=rows))
    assert summary.quarantined == {"bad_json": 1, "negative_value": 1}
    store = open_store(store_dir)
    q = store.quarantine()
    assert q.schema == pl.Schema(STORE_QUARANTINE_SCHEMA)
    assert sorted(q["reason"].to_list()) == ["bad_json", "negative_value"]
    assert q["ingested_at"].null_count() == 0
    assert store.catalog()["prediction_id"].to_list() == ["ok"]
    first_time = q["ingested_at"].to_list()

    # The same broken input again: no new rows, the first ingested_at is kept.
    ingest(store_dir, batch(good, quarantine=rows))
    assert open_store(store_dir).quarantine()["ingested_at"].to_list() == first_time
    # A new defect is appended.
    ingest(store_dir, batch(quarantine=[{**rows[0], "row": 7}]))
    assert open_store(store_dir).quarantine().height == 3


def test_labels_newest_non_null_wins(store_dir):
    a = series_frame("a", "PT_SYN", "PPS", regular(3), np.ones(3))
    ingest(store_dir, batch(a, labels={"ip_ss": 1.0, "ip_sc": 2.0}))
    summary = ingest(store_dir, batch(a, labels={"ip_ss": 5.0}, source="new.parquet"))
    assert summary.series_updated == 1 and summary.samples_new == 0
    row = open_store(store_dir).catalog().row(0, named=True)
    assert (row["ip_ss"], row["ip_sc"], row["source"]) == (5.0, 2.0, "new.parquet")


def test_refuses_samples_the_readers_should_have_quarantined(store_dir):
    ingest(store_dir, batch(series_frame("a", "PT_SYN", "PPS", regular(3), np.ones(3))))
    before = snapshot(store_dir)
    for frame in (
        series_frame("b", "PT_NOPE", "PPS", regular(3), np.ones(3)),
        series_frame("b", "PT_SYN", "PPS", regular(3), [1.0, -1.0, 1.0]),
        series_frame("b", "PT_SYN", "PPS", regular(3), [1.0, np.nan, 1.0]),
    ):
        with pytest.raises(SchemaError, match="b/PT_"):
            ingest(store_dir, batch(frame))
        assert snapshot(store_dir) == before
    with pytest.raises(SchemaError, match="lacks column"):
        ingest(store_dir, _no_blocked())
    assert snapshot(store_dir) == before


def _no_blocked() -> ReadResult:
    frame = series_frame("b", "PT_SYN", "PPS", regular(3), np.ones(3)).drop("blocked")
    return ReadResult(samples=frame)


def test_empty_ingest_creates_an_empty_store(store_dir):
    summary = ingest(store_dir, [])
    assert summary.inputs == 0 and summary.samples_written == 0
    store = open_store(store_dir)
    assert store.catalog().height == 0 and store.quarantine().height == 0
    assert store.read_series().height == 0 and store.scan().collect().height == 0
    assert list(store.iter_chunks()) == []


def test_store_path_with_glob_and_hive_like_characters(tmp_path):
    root = tmp_path / "we[ir]d*" / "site=eu" / "store"
    frames = [
        series_frame("a", "PT_SYN", "PPS", regular(5), np.ones(5)),
        series_frame("b", "PT_TCP", "BW", regular(4), np.ones(4)),
    ]
    ingest(root, batch(frames[0]))
    ingest(root, batch(frames[1]))
    store = open_store(root)
    expected = pl.concat(frames).sort(KEYS)
    assert_frame_equal(store.scan().collect().sort(KEYS), expected)
    assert store.scan().collect_schema() == pl.Schema(LONG_SCHEMA)
    assert_frame_equal(store.read_series(), expected)
    assert sum(c.height for c in store.iter_chunks()) == expected.height


def test_progress_reports_batches_then_partitions(store_dir):
    events = []
    frames = _fleet()
    ingest(
        store_dir,
        [batch(*frames[:3]), batch(*frames[3:])],
        progress=lambda *event: events.append(event),
    )
    assert events[:2] == [("read", 1, None), ("read", 2, None)]
    assert events[2:] == [("merge", i, 3) for i in (1, 2, 3)]


def test_ingest_files_reads_a_vendor_export_with_labels(store_dir, tmp_path):
    frames = _fleet()[:4]
    samples = pl.concat(frames).sort(KEYS)
    labels = samples.select("prediction_id", "vector", "metric").unique().sort(pl.all())
    labels = labels.with_columns(
        request_id=pl.lit("req-1"), ip_ss=pl.int_range(pl.len()).cast(pl.Float64) + 10.0
    )
    path = write_vendor_export(samples, tmp_path / "export.parquet", series=labels)
    summary = ingest_files(store_dir, [path], format="vendor", errors="raise", workers=1)
    assert (summary.series_added, summary.samples_new, summary.inputs) == (4, samples.height, 1)
    store = open_store(store_dir)
    assert_frame_equal(store.read_series(), samples)
    cat = store.catalog().join(labels, on=["prediction_id", "vector", "metric"], suffix="_in")
    assert cat.height == 4
    assert (cat["ip_ss"] == cat["ip_ss_in"]).all() and (cat["request_id"] == "req-1").all()
    assert set(cat["source"]) == {str(path)}


def test_a_series_twice_in_one_input_counts_its_replaced_samples(store_dir, tmp_path):
    first = series_frame("aa", "PT_SYN", "PPS", regular(3), [1.0, 2.0, 3.0])
    again = series_frame("aa", "PT_SYN", "PPS", regular(3)[1:], [20.0, 30.0])  # conflicts twice
    other = series_frame("bb", "PT_SYN", "PPS", regular(2), [5.0, 5.0])
    twice = write_vendor_export(pl.concat([first, other]), tmp_path / "a.parquet")
    table = pl.read_parquet(twice)
    repeat = pl.read_parquet(write_vendor_export(again, tmp_path / "b.parquet"))
    pl.concat([table, repeat]).write_parquet(twice)  # rows aa, bb, aa
    for workers in (1, 2):
        summary = ingest_files(store_dir, [twice], workers=workers)
        assert summary.repaired_duplicates == 2  # on a re-ingest too: the file still has them
    got = open_store(store_dir).read_series("aa", "PT_SYN", "PPS")
    assert got["passed"].to_list() == [1.0, 20.0, 30.0]
    # Two inputs that overlap are an update, not a repair.
    once = write_vendor_export(first, tmp_path / "c.parquet")
    later = write_vendor_export(again, tmp_path / "d.parquet")
    assert ingest_files(tmp_path / "other", [once, later]).repaired_duplicates == 0


# --- inputs that made the current version are not read again ------------------------------


def _never_read(*args, **kwargs):
    raise AssertionError("the input was read again")


def test_the_inputs_of_the_current_version_are_not_read_again(store_dir, tmp_path, monkeypatch):
    path = write_vendor_export(pl.concat(_fleet()), tmp_path / "export.parquet")
    first = ingest_files(store_dir, [path])
    before = snapshot(store_dir)
    monkeypatch.setattr("floodmark.io.open_input", _never_read)
    again = ingest_files(store_dir, [path], workers=2)  # same input, same reading
    assert again.skipped and not first.skipped
    assert (again.series_added, again.series_updated, again.samples_new) == (0, 0, 0)
    assert again.samples_written == first.samples_written and again.inputs == 1
    assert "not read again" in again.describe()
    assert snapshot(store_dir) == before


def test_an_input_is_read_again_once_another_changed_the_store(store_dir, tmp_path):
    old = series_frame("aa", "PT_SYN", "PPS", regular(3), [1.0, 2.0, 3.0])
    new = series_frame("aa", "PT_SYN", "PPS", regular(3), [7.0, 8.0, 9.0])
    first = write_vendor_export(old, tmp_path / "first.parquet")
    ingest_files(store_dir, [first])
    ingest_files(store_dir, [write_vendor_export(new, tmp_path / "second.parquet")])
    summary = ingest_files(store_dir, [first])  # older values, but the newer input wins
    assert not summary.skipped and summary.series_updated == 1
    got = open_store(store_dir).read_series("aa", "PT_SYN", "PPS")
    assert got["passed"].to_list() == [1.0, 2.0, 3.0]


def test_changed_bytes_or_reading_options_read_the_input_again(store_dir, tmp_path):
    path = tmp_path / "export.parquet"
    write_vendor_export(series_frame("aa", "PT_SYN", "PPS", regular(3), [1.0, 2.0, 3.0]), path)
    ingest_files(store_dir, [path])
    assert not ingest_files(store_dir, [path], max_series_bytes=10).skipped  # now too_large
    assert open_store(store_dir).quarantine()["reason"].to_list() == ["too_large"]
    write_vendor_export(series_frame("aa", "PT_SYN", "PPS", regular(3), [4.0, 5.0, 6.0]), path)
    assert not ingest_files(store_dir, [path], max_series_bytes=10).skipped  # same name, new bytes
    summary = ingest_files(store_dir, [path])
    assert not summary.skipped and summary.series_updated == 1
    assert ingest_files(store_dir, [path]).skipped


def test_inputs_that_add_nothing_are_recorded_and_not_read_a_second_time(store_dir, tmp_path):
    path = write_vendor_export(pl.concat(_fleet()), tmp_path / "export.parquet")
    ingest_files(store_dir, [path])
    first = path.read_bytes()
    # the same export in other bytes (downloaded again, compressed otherwise)
    pl.read_parquet(path).write_parquet(path, compression="gzip")
    assert path.read_bytes() != first
    before = open_store(store_dir).read_series()
    summary = ingest_files(store_dir, [path])
    assert not summary.skipped and (summary.series_added, summary.series_updated) == (0, 0)
    assert ingest_files(store_dir, [path]).skipped  # recorded, though it added nothing
    assert_frame_equal(open_store(store_dir).read_series(), before)
    assert not ingest_files(store_dir, [path], format="vendor").skipped  # another reading
