"""The vendor export (batch layout): round trip, defects, streaming, labels."""

from __future__ import annotations

import base64
import hashlib
import os

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from io_builders import (
    DAY_S,
    GOOD,
    T0,
    blob,
    doc,
    gzip_bomb,
    long_frame,
    series_rows,
    write_vendor_rows,
)

from floodmark.errors import InputFormatError, SchemaError, SeriesDefect
from floodmark.io import iter_vendor_export, read_vendor_export, write_vendor_export
from floodmark.schema import KEY_COLUMNS, LABEL_SCHEMA, LONG_SCHEMA, QUARANTINE_SCHEMA, VECTORS

ORDER = [*KEY_COLUMNS, "timestamp"]

values = st.one_of(
    st.just(0.0),
    st.just(1e15),
    st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_subnormal=False),
)


@st.composite
def long_tables(draw):
    """Random fleets: several series, many days, zeros, huge values, gaps, attacks."""
    keys = draw(
        st.lists(
            st.tuples(
                st.from_regex(r"[0-9a-f]{1,12}", fullmatch=True),
                st.sampled_from(VECTORS),
                st.sampled_from(("PPS", "BW")),
            ),
            unique=True,
            max_size=4,
        )
    )
    rows = []
    for pid, vector, metric in keys:
        steps = draw(st.sets(st.integers(0, 40 * DAY_S // 300), min_size=1, max_size=60))
        all_blocked_zero = draw(st.booleans())  # an empty blocked side
        for step in sorted(steps):
            blocked = 0.0 if all_blocked_zero else draw(values)
            rows.append((pid, vector, metric, T0 + 300 * step, draw(values), blocked))
    return long_frame(rows)


@given(long_tables(), st.integers(1, 3))
def test_round_trip_is_exact(tmp_path_factory, samples, batch_rows):
    path = tmp_path_factory.mktemp("rt") / "export.parquet"
    write_vendor_export(samples, path)
    result = read_vendor_export(path, batch_rows=batch_rows)
    assert result.quarantine.height == 0
    assert result.repaired_duplicates == 0
    assert result.samples.schema == pl.Schema(LONG_SCHEMA)
    assert result.samples.equals(samples.sort(ORDER))
    assert result.series.height == samples.select(KEY_COLUMNS).unique().height


def test_labels_and_series_without_samples_round_trip(tmp_path):
    samples = long_frame(series_rows("aa", "PT_TCP", "PPS", 3))
    labels = pl.DataFrame(
        {
            "prediction_id": ["aa", "bb"],
            "vector": ["PT_TCP", "PT_UDP"],
            "metric": ["PPS", "BW"],
            "request_id": ["395", "396"],
            "ip_ss": [2.0, 7.0],
            "range_rl": [9, None],
        }
    )
    path = write_vendor_export(samples, tmp_path / "v.parquet", series=labels)
    raw = pl.read_parquet(path)
    assert raw.filter(pl.col("prediction_id") == "aa")["start_time"].to_list() == [T0]
    assert raw.filter(pl.col("prediction_id") == "aa")["end_time"].to_list() == [T0 + 600]
    result = read_vendor_export(path)
    assert result.samples.equals(samples)
    series = result.series.sort("prediction_id")
    assert series["prediction_id"].to_list() == ["aa", "bb"]
    assert series["request_id"].to_list() == ["395", "396"]
    assert series["ip_ss"].to_list() == [2.0, 7.0]
    assert series["range_rl"].to_list() == [9.0, None]
    assert series["ip_sc"].to_list() == [None, None]
    assert series["source"].to_list() == [str(path)] * 2
    assert dict(series.select(list(LABEL_SCHEMA)).schema) == LABEL_SCHEMA


def test_same_input_same_bytes(tmp_path):
    samples = long_frame(
        series_rows("aa", "PT_TCP", "PPS", 50) + series_rows("ab", "PT_SYN", "BW", 9)
    )
    a = write_vendor_export(samples, tmp_path / "a.parquet")
    b = write_vendor_export(samples.reverse(), tmp_path / "b.parquet")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def test_writer_refuses_values_it_cannot_encode(tmp_path):
    bad = long_frame([("aa", "PT_TCP", "PPS", T0, -1.0, 0.0)])
    with pytest.raises(SeriesDefect, match="aa/PT_TCP/PPS"):
        write_vendor_export(bad, tmp_path / "v.parquet")
    assert not (tmp_path / "v.parquet").exists()


def test_streams_in_batches_and_workers_agree(tmp_path):
    rows = []
    for i in range(7):
        rows += series_rows(f"{i:02x}", "PT_TCP", "PPS", 20 + i)
    samples = long_frame(rows)
    path = write_vendor_export(samples, tmp_path / "v.parquet")
    parts = list(iter_vendor_export(path, batch_rows=3))
    assert [p.series.height for p in parts] == [3, 3, 1]
    for part in parts:  # every part holds complete series
        assert part.samples.group_by(KEY_COLUMNS).len()["len"].sort().to_list() == sorted(
            20 + int(pid, 16) for pid in part.series["prediction_id"]
        )
    pooled = list(iter_vendor_export(path, batch_rows=3, workers=2))
    assert [p.samples.equals(q.samples) for p, q in zip(parts, pooled, strict=True)] == [True] * 3
    assert pl.concat([p.samples for p in pooled]).equals(samples)


def test_workers_with_a_spill_folder_send_back_metadata_not_samples(tmp_path):
    rows = []
    for i in range(7):
        rows += series_rows(f"{i:02x}", "PT_TCP", "PPS", 20 + i)
    hostile = {"prediction_id": "zz", "vector": "PT_TCP", "metric": "PPS"}
    table = pl.read_parquet(write_vendor_export(long_frame(rows), tmp_path / "a.parquet"))
    bad = pl.DataFrame([{**hostile, "time_series": "%%%"}])
    path = tmp_path / "v.parquet"
    pl.concat([table, bad], how="diagonal_relaxed").write_parquet(path)
    piped = list(iter_vendor_export(path, batch_rows=3, workers=2))
    spilled = list(iter_vendor_export(path, batch_rows=3, workers=2, spill_dir=tmp_path / "s"))
    blocks = [b for part in spilled for b in part.blocks]
    assert blocks and all(b.arrays is None and b.file for b in blocks)  # all in block files
    assert {os.path.dirname(b.file) for b in blocks} == {str(tmp_path / "s")}
    for a, b in zip(piped, spilled, strict=True):
        assert a.samples.equals(b.samples) and a.series.equals(b.series)
        assert a.quarantine.equals(b.quarantine)
        assert a.repaired_duplicates == b.repaired_duplicates
    assert pl.concat([p.quarantine for p in spilled])["reason"].to_list() == ["bad_base64"]


# One broken row between two good ones, per defect the reader must catch.
DEFECTS = {
    "bad_base64": {"time_series": "%%%not base64%%%"},
    "bad_gzip": {"time_series": "aGVsbG8gd29ybGQ="},
    "bad_json": {"time_series": blob(b'{"passedDays": {')},
    "wrong_shape": {"time_series": blob({"passedDays": {"d": [1, 2]}})},
    "missing_passed_days": {"time_series": blob({"blockedDays": {}})},
    "negative_value": {"time_series": blob(doc([(T0, -3.0)]))},
    "nan_value": {
        "time_series": blob(b'{"passedDays":{"d":{"values":[{"value":NaN,"timeStamp":1}]}}}')
    },
    "infinite_value": {
        "time_series": blob(b'{"passedDays":{"d":{"values":[{"value":-Infinity,"timeStamp":1}]}}}')
    },
    "unknown_vector": {"vector": "PT_HTTP"},
    "unknown_metric": {"metric": "bps"},
    "missing_key": {"prediction_id": ""},
}


def defect_file(tmp_path, change: dict):
    good = {"prediction_id": "aa", "vector": "PT_TCP", "metric": "PPS", "time_series": blob(GOOD)}
    rows = [good, {**good, "prediction_id": "bb", **change}, {**good, "prediction_id": "cc"}]
    return write_vendor_rows(tmp_path / "defects.parquet", rows), rows[1]


@pytest.mark.parametrize("reason", sorted(DEFECTS))
def test_defect_is_quarantined_and_the_rest_is_read(tmp_path, reason):
    path, bad = defect_file(tmp_path, DEFECTS[reason])
    result = read_vendor_export(path)
    assert result.quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)
    [q] = result.quarantine.to_dicts()
    assert q["reason"] == reason
    assert (q["source"], q["row"]) == (str(path), 1)
    assert (q["prediction_id"], q["vector"], q["metric"]) == tuple(bad[k] for k in KEY_COLUMNS)
    assert q["detail"]
    assert result.series["prediction_id"].to_list() == ["aa", "cc"]
    assert result.samples["prediction_id"].unique().sort().to_list() == ["aa", "cc"]
    assert result.samples.height == 4


@pytest.mark.parametrize("reason", sorted(DEFECTS))
def test_defect_raises_naming_file_row_and_series(tmp_path, reason):
    path, bad = defect_file(tmp_path, DEFECTS[reason])
    with pytest.raises(SeriesDefect) as info:
        read_vendor_export(path, errors="raise")
    err = info.value
    assert err.reason == reason
    assert (err.file, err.row) == (str(path), 1)
    message = str(err)
    assert "\n" not in message
    assert message.startswith(f"{path}, row 1")
    if reason != "missing_key":
        assert f"series {bad['prediction_id']}/{bad['vector']}/{bad['metric']}" in message


def test_duplicate_timestamps_are_repaired_and_counted(tmp_path):
    dup = doc([(T0, 1.0), (T0, 2.0), (T0 + 300, 3.0)], [(T0, 4.0), (T0, 5.0)])
    path = write_vendor_rows(
        tmp_path / "v.parquet",
        [{"prediction_id": "aa", "vector": "PT_TCP", "metric": "PPS", "time_series": blob(dup)}],
    )
    result = read_vendor_export(path)
    assert result.repaired_duplicates == 2
    assert result.samples["passed"].to_list() == [2.0, 3.0]
    assert result.samples["blocked"].to_list() == [5.0, 0.0]


def test_blocked_side_with_other_timestamps_is_aligned(tmp_path):
    series = doc([(T0, 1.0), (T0 + 300, 2.0)], [(T0 + 300, 9.0), (T0 + 600, 8.0)])
    path = write_vendor_rows(
        tmp_path / "v.parquet",
        [{"prediction_id": "aa", "vector": "PT_TCP", "metric": "PPS", "time_series": blob(series)}],
    )
    got = read_vendor_export(path).samples
    assert got["timestamp"].dt.epoch("s").to_list() == [T0, T0 + 300, T0 + 600]
    assert got["passed"].to_list() == [1.0, 2.0, 0.0]
    assert got["blocked"].to_list() == [0.0, 9.0, 8.0]


def test_integer_keys_and_labels_are_cast(tmp_path):
    path = tmp_path / "v.parquet"
    pl.DataFrame(
        {
            "prediction_id": [12345],
            "vector": ["PT_TCP"],
            "metric": ["PPS"],
            "request_id": [395],
            "ip_ss": ["2.5"],
            "extra": ["ignored"],
            "time_series": [blob(GOOD)],
        }
    ).write_parquet(path)
    result = read_vendor_export(path)
    assert result.samples["prediction_id"].unique().to_list() == ["12345"]
    row = result.series.row(0, named=True)
    assert (row["request_id"], row["ip_ss"], row["ip_rl"]) == ("395", 2.5, None)


def test_not_parquet_or_missing_columns_is_a_whole_file_error(tmp_path):
    text = tmp_path / "export.parquet"
    text.write_text("prediction_id,vector\n")
    with pytest.raises(InputFormatError, match="export.parquet.*not a Parquet file"):
        read_vendor_export(text)
    no_blob = tmp_path / "keys.parquet"
    pl.DataFrame({"prediction_id": ["a"], "vector": ["PT_TCP"], "metric": ["PPS"]}).write_parquet(
        no_blob
    )
    with pytest.raises(SchemaError, match="keys.parquet.*time_series"):
        read_vendor_export(no_blob)
    numbers = write_vendor_rows(
        tmp_path / "numbers.parquet",
        [{"prediction_id": "a", "vector": "PT_TCP", "metric": "PPS", "time_series": 5}],
    )
    with pytest.raises(
        SchemaError, match=r"numbers\.parquet: vendor export column time_series is int64, not"
    ):
        read_vendor_export(numbers)
    with pytest.raises(InputFormatError, match="file not found"):
        read_vendor_export(tmp_path / "absent.parquet")


def test_defects_and_labels_cross_the_process_pool(tmp_path):
    good = {"vector": "PT_TCP", "metric": "PPS", "time_series": blob(GOOD)}
    rows = [{**good, "prediction_id": p, "ip_ss": float(i)} for i, p in enumerate("abcdefg")]
    rows[1]["time_series"] = rows[4]["time_series"] = "not base64!"
    path = write_vendor_rows(tmp_path / "v.parquet", rows)
    alone = read_vendor_export(path, batch_rows=5)
    pooled = read_vendor_export(path, batch_rows=5, workers=2)  # 3 + 2 rows, then 2
    assert pooled.quarantine.equals(alone.quarantine)
    assert pooled.quarantine["row"].to_list() == [1, 4]
    assert pooled.series.equals(alone.series)
    assert pooled.series["ip_ss"].to_list() == [0.0, 2.0, 3.0, 5.0, 6.0]
    assert pooled.samples.equals(alone.samples)
    with pytest.raises(SeriesDefect, match=r"row 1, series b/PT_TCP/PPS"):
        read_vendor_export(path, workers=2, errors="raise")


def test_a_batch_with_every_row_quarantined_still_concatenates(tmp_path):
    good = {"prediction_id": "aa", "vector": "PT_TCP", "metric": "PPS", "time_series": blob(GOOD)}
    rows = [{**good, "prediction_id": "bb", "vector": "PT_HTTP"}, good]
    result = read_vendor_export(write_vendor_rows(tmp_path / "v.parquet", rows), batch_rows=1)
    assert result.series["prediction_id"].to_list() == ["aa"]
    assert result.quarantine["reason"].to_list() == ["unknown_vector"]


HOSTILE = {
    "bad_json": blob(b'{"passedDays":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "too_large": base64.b64encode(gzip_bomb(8 << 20)).decode("ascii"),
    "wrong_shape": blob(b'{"passedDays":{"d":{"values":[{"value":true,"timeStamp":1}]}}}'),
}


@pytest.mark.parametrize("workers", [1, 2])
def test_hostile_cells_are_quarantined_and_the_rest_of_the_file_is_read(tmp_path, workers):
    good = {"vector": "PT_TCP", "metric": "PPS", "time_series": blob(GOOD)}
    rows = [{**good, "prediction_id": "aa"}]
    rows += [{**good, "prediction_id": r, "time_series": cell} for r, cell in HOSTILE.items()]
    rows += [{**good, "prediction_id": "zz"}]
    path = write_vendor_rows(tmp_path / "hostile.parquet", rows)
    result = read_vendor_export(path, workers=workers, max_series_bytes=4 << 20)
    quarantined = dict(result.quarantine.select("prediction_id", "reason").iter_rows())
    assert quarantined == {reason: reason for reason in HOSTILE}
    assert result.series["prediction_id"].to_list() == ["aa", "zz"]
    assert result.samples.height == 4
    # The default limit lets this bomb's 8 MB through, to fail as JSON instead.
    assert read_vendor_export(path).quarantine["reason"].to_list()[1] == "bad_json"


def test_a_series_twice_in_one_file_is_read_once_and_counted(tmp_path):
    first = doc([(T0, 1.0), (T0 + 300, 2.0)])
    again = doc([(T0 + 300, 20.0), (T0 + 600, 30.0)])  # conflicts at T0 + 300
    keys = {"prediction_id": "aa", "vector": "PT_TCP", "metric": "PPS"}
    other = {**keys, "prediction_id": "bb", "time_series": blob(GOOD)}
    rows = [{**keys, "time_series": blob(first)}, other, {**keys, "time_series": blob(again)}]
    path = write_vendor_rows(tmp_path / "twice.parquet", rows)
    for batch_rows in (1, 3):
        result = read_vendor_export(path, batch_rows=batch_rows)
        assert result.repaired_duplicates == 1
        aa = result.samples.filter(prediction_id="aa")
        assert aa["passed"].to_list() == [1.0, 20.0, 30.0]  # the later row wins
        assert result.series["prediction_id"].to_list() == ["bb", "aa"]


def test_streaming_an_export_does_not_keep_the_batches_already_read(tmp_path):
    # 24 row groups of 8 rows, each cell ~64 kB of base64 that inflates to nothing
    # valid (quarantined), beside a column the reader does not read (as exports
    # have): what matters is the Arrow memory while streaming.
    cells = [base64.b64encode(os.urandom(48_000)).decode() for _ in range(8)]
    table = pa.table(
        {
            "prediction_id": [f"obj-{i}" for i in range(8)],
            "vector": ["PT_SYN"] * 8,
            "metric": ["PPS"] * 8,
            "time_series": cells,
            "request_id": cells,
        }
    )
    path = tmp_path / "export.parquet"
    with pq.ParquetWriter(path, table.schema, compression="none") as writer:
        for _ in range(24):
            writer.write_table(table)
    before, held = pa.total_allocated_bytes(), []
    for part in iter_vendor_export(path, batch_rows=8):
        assert part.quarantine.height == 8
        held.append(pa.total_allocated_bytes())
    one_group = table.nbytes
    # Bounded by a few row groups, not by the file (24 row groups).
    assert max(held) - before < 4 * one_group
