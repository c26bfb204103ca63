"""Labelled windows: NAB reader, table reader, validation and marking of samples."""

from __future__ import annotations

import datetime as dt

import orjson
import polars as pl
import pytest

from floodmark.backtest.windows import (
    WINDOW_SCHEMA,
    mark_windows,
    merge_windows,
    normalise_windows,
    read_nab_windows,
    read_windows,
)
from floodmark.errors import InputFormatError

UTC = dt.UTC


def test_read_nab_windows_maps_keys_to_file_stems(tmp_path):
    path = tmp_path / "combined_windows.json"
    path.write_bytes(
        orjson.dumps(
            {
                "realAWSCloudwatch/ec2_network_in_257a54.csv": [
                    ["2014-04-15 14:44:00.000000", "2014-04-16 03:24:00.000000"]
                ],
                "realAWSCloudwatch/quiet.csv": [],
                "other/x.csv": [
                    ["2014-01-01 00:00:00.000000", "2014-01-01 01:00:00.000000"],
                    ["2014-01-02 00:00:00.000000", "2014-01-02 01:00:00.000000"],
                ],
            }
        )
    )
    w = read_nab_windows(path)
    assert w.schema == pl.Schema(WINDOW_SCHEMA)
    assert w["prediction_id"].to_list() == ["ec2_network_in_257a54", "x", "x"]
    assert w["start"][0] == dt.datetime(2014, 4, 15, 14, 44, tzinfo=UTC)
    assert w["end"][0] == dt.datetime(2014, 4, 16, 3, 24, tzinfo=UTC)
    mapped = read_nab_windows(path, {"other/x.csv": "custom"})
    assert mapped["prediction_id"].to_list() == ["ec2_network_in_257a54", "custom", "custom"]


def test_read_nab_windows_on_the_public_file(shared_data):
    w = read_nab_windows(shared_data / "nab-aws-network" / "combined_windows.json")
    ours = w.filter(pl.col("prediction_id") == "ec2_network_in_257a54")
    assert ours.height >= 1
    assert (ours["end"] > ours["start"]).all()


@pytest.mark.parametrize(
    "doc, message",
    [
        ([1, 2], "must map"),
        ({"a.csv": "x"}, "must be a list"),
        ({"a.csv": [["2014-01-01"]]}, r"must be \[start, end\]"),
        ({"a.csv": [["yesterday", "2014-01-01"]]}, "is not a time"),
        ({"a.csv": [["2014-01-02", "2014-01-01"]]}, "ending before"),
    ],
)
def test_bad_nab_windows_are_named_errors(tmp_path, doc, message):
    path = tmp_path / "w.json"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(InputFormatError, match=message) as info:
        read_nab_windows(path)
    assert info.value.file == str(path)


def test_not_json_is_a_named_error(tmp_path):
    path = tmp_path / "w.json"
    path.write_text("{nope")
    with pytest.raises(InputFormatError, match="not valid JSON"):
        read_nab_windows(path)


def test_read_windows_from_a_csv_table(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("prediction_id,start,end\na,2024-01-01 00:10:00,2024-01-01 00:20:00\n")
    w = read_windows(path)
    assert w.schema == pl.Schema(WINDOW_SCHEMA)
    assert w["start"][0] == dt.datetime(2024, 1, 1, 0, 10, tzinfo=UTC)


def test_windows_table_without_columns_is_rejected():
    with pytest.raises(InputFormatError, match="lack columns"):
        normalise_windows(pl.DataFrame({"prediction_id": ["a"]}))


def test_merge_overlapping_windows():
    t = lambda h: dt.datetime(2024, 1, 1, h, tzinfo=UTC)  # noqa: E731
    w = pl.DataFrame(
        {
            "prediction_id": ["a", "a", "a", "b"],
            "start": [t(0), t(1), t(5), t(1)],
            "end": [t(3), t(2), t(6), t(2)],
        }
    )
    merged = merge_windows(w)
    assert merged.rows() == [("a", t(0), t(3)), ("a", t(5), t(6)), ("b", t(1), t(2))]


def test_mark_windows_inclusive_per_object_keeps_order(make_series):
    a = make_series([1] * 6, pid="a")  # 00:00 ... 00:25
    b = make_series([1] * 6, pid="b")
    samples = pl.concat([a, b])
    t = lambda m: dt.datetime(2024, 1, 1, 0, m, tzinfo=UTC)  # noqa: E731
    w = pl.DataFrame(
        {"prediction_id": ["a", "a"], "start": [t(5), t(0)], "end": [t(10), t(20)]}
    ).pipe(normalise_windows)
    marked = mark_windows(samples, w)
    assert marked.drop("in_window").equals(samples)
    assert marked["in_window"].to_list() == [True] * 5 + [False] + [False] * 6
    assert not mark_windows(samples, None)["in_window"].any()
