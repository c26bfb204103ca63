"""Format detection and the one entry point the store's ingest uses."""

from __future__ import annotations

import polars as pl
import pytest
from io_builders import GOOD, blob, long_frame, series_rows, write_vendor_rows

import floodmark.io as fio
from floodmark.errors import FloodmarkError, InputFormatError
from floodmark.io import FORMATS, detect_format, open_input, write_long_table, write_vendor_export
from floodmark.schema import KEY_COLUMNS


@pytest.fixture
def inputs(tmp_path):
    """One small file of every format."""
    samples = long_frame(series_rows("aa", "PT_TCP", "PPS", 3))
    (tmp_path / "series").mkdir()
    pl.DataFrame({"time_series": [blob(GOOD)]}).write_parquet(tmp_path / "series" / "aa.parquet")
    catalog = tmp_path / "FileCatalog.csv"
    catalog.write_text("prediction_id,vector,metric,ts_name,ip_ss\naa,PT_TCP,PPS,series/aa,3\n")
    single = tmp_path / "trace.csv"
    single.write_text("Time,Some long title, with a comma\n2024-01-01 00:00:00,5\n")
    return {
        "vendor": write_vendor_export(samples, tmp_path / "export.parquet"),
        "long-parquet": write_long_table(samples, tmp_path / "long.parquet"),
        "long-csv": write_long_table(samples, tmp_path / "long.csv"),
        "vendor-catalog": catalog,
        "series-csv": single,
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vendor", "vendor"),
        ("long-parquet", "long"),
        ("long-csv", "long"),
        ("vendor-catalog", "vendor-catalog"),
        ("series-csv", "series-csv"),
    ],
)
def test_detects_and_reads_every_format(inputs, name, expected):
    assert detect_format(inputs[name]) == expected
    parts = list(open_input(inputs[name]))
    samples = pl.concat([p.samples for p in parts])
    assert samples.height in (1, 2, 3)
    assert all(p.quarantine.height == 0 for p in parts)


def test_epoch_first_column_is_a_series_csv(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("t,v\n1700000000,1\n")
    assert detect_format(path) == "series-csv"


@pytest.mark.parametrize(
    ("content", "suffix"),
    [
        ("name,value\nalpha,1\n", ".csv"),
        ('{"a": 1}', ".json"),
        ("", ".csv"),
    ],
)
def test_unknown_inputs_say_which_formats_were_tried(tmp_path, content, suffix):
    path = tmp_path / f"input{suffix}"
    path.write_text(content)
    with pytest.raises(InputFormatError, match="tried vendor, vendor-catalog, long, series-csv"):
        detect_format(path)


def test_parquet_of_another_shape(tmp_path):
    path = tmp_path / "other.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(path)
    with pytest.raises(InputFormatError, match=r"other\.parquet.*tried"):
        detect_format(path)


def test_series_options_only_for_series_csv(inputs):
    with pytest.raises(FloodmarkError, match="vector only apply to series-csv"):
        open_input(inputs["vendor"], vector="PT_TCP")
    [part] = list(
        open_input(inputs["series-csv"], prediction_id="obj", vector="PT_SYN", metric="PPS")
    )
    assert part.samples.select("prediction_id", "vector", "metric").row(0) == (
        "obj",
        "PT_SYN",
        "PPS",
    )


def test_explicit_format_and_passing_options_through(inputs, tmp_path):
    with pytest.raises(FloodmarkError, match="unknown format 'xml'"):
        open_input(inputs["vendor"], format="xml")
    rows = [
        {"prediction_id": p, "vector": "PT_TCP", "metric": "PPS", "time_series": blob(GOOD)}
        for p in ("a", "b", "c")
    ]
    path = write_vendor_rows(tmp_path / "rows.parquet", rows)
    parts = list(open_input(path, format="vendor", batch_rows=2, workers=1))
    assert [p.series.height for p in parts] == [2, 1]
    outside = tmp_path / "cat" / "c.csv"
    outside.parent.mkdir()
    outside.write_text("prediction_id,vector,metric,file\naa,PT_TCP,PPS,../series/aa.parquet\n")
    [part] = list(open_input(outside, root=tmp_path))
    assert part.quarantine.height == 0
    [part] = list(open_input(outside))
    assert part.quarantine["reason"].to_list() == ["outside_root"]


def test_missing_file(tmp_path):
    with pytest.raises(InputFormatError, match="file not found"):
        detect_format(tmp_path / "nothing.csv")


def test_public_names_are_sorted_and_resolve():
    assert fio.__all__ == sorted(fio.__all__)
    assert all(hasattr(fio, name) for name in fio.__all__)
    assert FORMATS == ("vendor", "vendor-catalog", "long", "series-csv")


PADDED = (" aa ", "\tPT_TCP", "PPS  ")


def _padded_inputs(tmp_path) -> dict:
    """One file of every format whose series key has whitespace around each part."""
    pid, vector, metric = PADDED
    keys = {"prediction_id": pid, "vector": vector, "metric": metric}
    (tmp_path / "series").mkdir()
    pl.DataFrame({"time_series": [blob(GOOD)]}).write_parquet(tmp_path / "series" / "aa.parquet")
    catalog = tmp_path / "catalog.csv"
    pl.DataFrame([{**keys, "file": "series/aa.parquet"}]).write_csv(catalog)
    long = tmp_path / "long.csv"
    pl.DataFrame([{**keys, "timestamp": 1_700_000_000, "passed": 1.0}]).write_csv(long)
    single = tmp_path / "aa.csv"
    single.write_text("timestamp,value\n1700000000,1\n")
    return {
        "vendor": (
            write_vendor_rows(tmp_path / "v.parquet", [{**keys, "time_series": blob(GOOD)}]),
            {},
        ),
        "vendor-catalog": (catalog, {}),
        "long": (long, {}),
        "series-csv": (single, keys),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_keys_are_trimmed_in_every_format(tmp_path, fmt):
    path, options = _padded_inputs(tmp_path)[fmt]
    parts = list(open_input(path, format=fmt, **options))
    assert sum(p.quarantine.height for p in parts) == 0
    keys = {row for p in parts for row in p.samples.select(KEY_COLUMNS).iter_rows()}
    assert keys == {("aa", "PT_TCP", "PPS")}
    assert {row for p in parts for row in p.series.select(KEY_COLUMNS).iter_rows()} == keys
