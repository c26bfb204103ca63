"""Long tables in CSV and Parquet: time forms, validation, duplicates, round trip."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from io_builders import T0, long_frame, series_rows

from floodmark.errors import InputFormatError, SchemaError, SeriesDefect
from floodmark.io import (
    iter_long_table,
    read_long_table,
    scan_long_table,
    write_long_table,
)
from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA, VECTORS

HEADER = "prediction_id,vector,metric,timestamp,passed,blocked\n"


def csv_file(tmp_path, body: str, header: str = HEADER, name: str = "long.csv"):
    path = tmp_path / name
    path.write_text(header + body)
    return path


def test_time_forms_and_optional_blocked(tmp_path):
    path = csv_file(
        tmp_path,
        "0001,PT_TCP,PPS,1700000000,1\n"
        "0001,PT_TCP,PPS,1700000300.0,2\n"
        "0001,PT_TCP,PPS,2023-11-14 22:23:20,3\n"
        "0001,PT_TCP,PPS,2023-11-14T23:28:20+01:00,4\n",
        header="prediction_id,vector,metric,timestamp,passed\n",
    )
    result = read_long_table(path)
    assert result.samples.schema == pl.Schema(LONG_SCHEMA)
    assert result.samples["timestamp"].dt.epoch("s").to_list() == [T0, T0 + 300, T0 + 600, T0 + 900]
    assert result.samples["passed"].to_list() == [1.0, 2.0, 3.0, 4.0]
    assert result.samples["blocked"].to_list() == [0.0] * 4
    assert result.samples["prediction_id"].to_list() == ["0001"] * 4  # text, not the number 1


def test_duplicates_last_row_wins_and_are_counted(tmp_path):
    path = csv_file(
        tmp_path,
        "a,PT_TCP,PPS,1700000300,2,0\n"
        "a,PT_TCP,PPS,1700000000,1,0\n"
        "a,PT_TCP,PPS,1700000000,5,1\n"
        "a,PT_TCP,PPS,1700000000,7,\n",
    )
    result = read_long_table(path)
    assert result.repaired_duplicates == 2
    assert result.samples["passed"].to_list() == [7.0, 2.0]
    assert result.samples["blocked"].to_list() == [0.0, 0.0]  # an empty blocked cell is 0


DEFECT_ROWS = {
    "unknown_vector": "b,PT_WEB,PPS,1700000000,1,0\n",
    "unknown_metric": "b,PT_TCP,MBIT,1700000000,1,0\n",
    "missing_key": ",PT_TCP,PPS,1700000000,1,0\n",
    "negative_value": "b,PT_TCP,PPS,1700000000,-1,0\n",
    "nan_value": "b,PT_TCP,PPS,1700000000,NaN,0\n",
    "infinite_value": "b,PT_TCP,PPS,1700000000,1,inf\n",
}


KEY_DEFECTS = ("missing_key", "unknown_metric", "unknown_vector")


@pytest.mark.parametrize("reason", sorted(DEFECT_ROWS))
def test_defects_quarantine_the_series(tmp_path, reason):
    # A value defect takes the whole series out (its good first row too) and
    # points at the bad row; a key defect is a series of its own.
    earlier = "" if reason in KEY_DEFECTS else "b,PT_TCP,PPS,1699999700,1,0\n"
    body = "a,PT_TCP,PPS,1700000000,1,0\n" + earlier + DEFECT_ROWS[reason]
    path = csv_file(tmp_path, body + "c,PT_SYN,BW,1700000000,3,0\n")
    expected_row = 1 if reason in KEY_DEFECTS else 2
    result = read_long_table(path)
    [q] = result.quarantine.to_dicts()
    assert (q["reason"], q["source"], q["row"]) == (reason, str(path), expected_row)
    assert sorted(result.series["prediction_id"]) == ["a", "c"]
    assert result.samples["prediction_id"].to_list() == ["a", "c"]
    with pytest.raises(SeriesDefect) as info:
        read_long_table(path, errors="raise")
    assert info.value.reason == reason
    assert str(info.value).startswith(f"{path}, row {expected_row}")
    assert "\n" not in str(info.value)


def test_missing_columns_name_the_file_and_columns(tmp_path):
    path = csv_file(tmp_path, "a,PT_TCP,1\n", header="prediction_id,vector,passed\n")
    with pytest.raises(SchemaError, match=r"long\.csv.*metric, timestamp"):
        read_long_table(path)


@pytest.mark.parametrize(
    ("line", "reason", "message"),
    [
        ("b,PT_TCP,PPS,yesterday,1,0\n", "bad_time", "column 'timestamp': value cannot be read"),
        ("b,PT_TCP,PPS,,1,0\n", "bad_time", "column 'timestamp': value is empty"),
        ("b,PT_TCP,PPS,1700000000000,1,0\n", "bad_time", "column 'timestamp': 1700000000000.0 is"),
        ("b,PT_TCP,PPS,1700000300,lots,0\n", "bad_number", "column 'passed': 'lots' is not a"),
        ("b,PT_TCP,PPS,1700000300,1,some\n", "bad_number", "column 'blocked': 'some' is not"),
    ],
)
def test_an_unreadable_cell_quarantines_its_series_only(tmp_path, line, reason, message):
    body = "a,PT_TCP,PPS,1700000000,1,0\nb,PT_TCP,PPS,1700000000,2,0\n" + line
    path = csv_file(tmp_path, body + "c,PT_SYN,BW,1700000000,3,0\n")
    result = read_long_table(path)
    [q] = result.quarantine.to_dicts()
    assert (q["reason"], q["row"], q["prediction_id"]) == (reason, 2, "b")
    assert message in q["detail"]
    assert result.samples["prediction_id"].to_list() == ["a", "c"]
    with pytest.raises(SeriesDefect) as info:  # --strict: the old stop at the first
        read_long_table(path, errors="raise")
    assert str(info.value).startswith(f"{path}, row 2, series b/PT_TCP/PPS: {message}")
    assert info.value.reason == reason


def test_iter_yields_complete_series(tmp_path):
    rows = series_rows("b", "PT_TCP", "PPS", 4) + series_rows("a", "PT_UDP", "BW", 3)
    rows += series_rows("c", "PT_TCP", "PPS", 2)
    path = write_long_table(long_frame(rows).reverse(), tmp_path / "t.parquet")
    parts = list(iter_long_table(path, batch_rows=2))
    assert [p.series["prediction_id"].to_list() for p in parts] == [["a", "b"], ["c"]]
    assert [p.samples.height for p in parts] == [7, 2]


def test_only_broken_series_still_reports_them(tmp_path):
    path = csv_file(tmp_path, "a,PT_TCP,PPS,1700000000,-1,0\n")
    [part] = list(iter_long_table(path))
    assert part.samples.height == 0
    assert part.quarantine["reason"].to_list() == ["negative_value"]


values = st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_subnormal=False)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a1", "b2", "0003"]),
            st.sampled_from(VECTORS[:3]),
            st.sampled_from(("PPS", "BW")),
            st.integers(0, 100_000),
            values,
            values,
        ),
        max_size=40,
        unique_by=lambda r: r[:4],
    ),
    st.sampled_from([".csv", ".parquet"]),
)
def test_write_read_round_trip(tmp_path_factory, rows, suffix):
    samples = long_frame([(p, v, m, T0 + 60 * t, a, b) for p, v, m, t, a, b in rows])
    path = write_long_table(samples, tmp_path_factory.mktemp("lt") / f"t{suffix}")
    result = read_long_table(path)
    expected = samples.sort([*KEY_COLUMNS, "timestamp"])
    assert result.samples.equals(expected)
    assert scan_long_table(path).collect().sort([*KEY_COLUMNS, "timestamp"]).equals(expected)


def test_scan_is_lazy_and_typed(tmp_path):
    path = csv_file(tmp_path, "7,PT_TCP,PPS,2023-11-14 22:13:20,1,\n", header=HEADER)
    lazy = scan_long_table(path)
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect_schema() == pl.Schema(LONG_SCHEMA)
    frame = lazy.collect()
    assert frame["prediction_id"].to_list() == ["7"]
    assert frame["blocked"].to_list() == [0.0]
    assert frame["timestamp"].dt.epoch("s").to_list() == [T0]


def test_other_extensions_are_refused(tmp_path):
    with pytest.raises(InputFormatError, match="json"):
        read_long_table(tmp_path / "t.json")
