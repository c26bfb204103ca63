"""The catalog layout: one file per series, named by a CSV, kept inside the root."""

from __future__ import annotations

import os

import polars as pl
import pytest
from io_builders import GOOD, T0, blob, doc

from floodmark.errors import SchemaError, SeriesDefect
from floodmark.io import read_vendor_catalog
from floodmark.io.catalog import iter_vendor_catalog


def series_file(path, document=GOOD, **keys):
    """A per-series file: a single time_series row, keys only when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {**{k: [v] for k, v in keys.items()}, "time_series": [blob(document)]}
    ).write_parquet(path)
    return path


def write_catalog(path, rows):
    pl.DataFrame(rows).write_csv(path)
    return path


def row(pid, file=None, ts_name=None, vector="PT_TCP", metric="PPS", **labels):
    out = {"id": 1, "prediction_id": pid, "vector": vector, "metric": metric, "file": file}
    if ts_name is not None:
        out = {**out, "ts_name": ts_name}
    return {**out, **labels}


@pytest.fixture
def data_root(tmp_path):
    """A data root with a catalog folder and three good series files."""
    root = tmp_path / "root"
    series_file(root / "cat" / "series" / "a.parquet")
    series_file(root / "cat" / "PT_TCP_PPS_bb.parquet", doc([(T0, 5.0)], [(T0, 1.0)]))
    series_file(root / "shared" / "c.parquet", prediction_id="ignored", vector="PT_SYN")
    return root


def test_catalog_layout_keys_and_labels_come_from_the_catalog(data_root):
    catalog = write_catalog(
        data_root / "cat" / "FileCatalog.csv",
        [
            row("aa", file="series/a.parquet", ip_ss=2.0, request_id=395),
            row("bb", ts_name="PT_TCP_PPS_bb", vector="PT_UDP", metric="BW", ip_ss=None),
        ],
    )
    result = read_vendor_catalog(catalog)
    assert result.quarantine.height == 0
    got = result.samples.sort("prediction_id")
    assert got["prediction_id"].to_list() == ["aa", "aa", "bb"]
    assert got["vector"].to_list() == ["PT_TCP", "PT_TCP", "PT_UDP"]
    assert got["passed"].to_list() == [1.0, 2.0, 5.0]
    assert got["blocked"].to_list() == [0.0, 0.0, 1.0]
    series = result.series.sort("prediction_id")
    assert series["ip_ss"].to_list() == [2.0, None]
    assert series["request_id"].to_list() == ["395", None]
    assert series["source"].to_list() == [
        str((data_root / "cat" / "series" / "a.parquet").resolve()),
        str((data_root / "cat" / "PT_TCP_PPS_bb.parquet").resolve()),
    ]


def test_ts_name_with_suffix_and_parent_paths_inside_the_root(data_root):
    catalog = write_catalog(
        data_root / "cat" / "c.csv",
        [row("cc", ts_name="../shared/c.parquet"), row("aa", file="./series/../series/a.parquet")],
    )
    result = read_vendor_catalog(catalog, root=data_root)
    assert result.quarantine.height == 0
    assert sorted(result.series["prediction_id"]) == ["aa", "cc"]
    assert result.samples.filter(pl.col("prediction_id") == "cc")["vector"].unique().to_list() == [
        "PT_TCP"
    ]


def outside_cases(data_root, tmp_path):
    outside = series_file(tmp_path / "elsewhere" / "x.parquet")
    link = data_root / "cat" / "link.parquet"
    os.symlink(outside, link)
    dir_link = data_root / "cat" / "dirlink"
    os.symlink(tmp_path / "elsewhere", dir_link)
    return {
        "parent": "../../elsewhere/x.parquet",
        "absolute": str(outside),
        "symlink": "link.parquet",
        "symlinked_dir": "dirlink/x.parquet",
        "sibling_of_root": "../../root_sibling/x.parquet",
    }


@pytest.mark.parametrize(
    "case", ["parent", "absolute", "symlink", "symlinked_dir", "sibling_of_root"]
)
def test_paths_outside_the_root_are_quarantined(data_root, tmp_path, case):
    series_file(tmp_path / "root_sibling" / "x.parquet")
    name = outside_cases(data_root, tmp_path)[case]
    catalog = write_catalog(
        data_root / "cat" / "FileCatalog.csv",
        [
            row("aa", file="series/a.parquet"),
            row("zz", file=name),
            row("bb", ts_name="PT_TCP_PPS_bb"),
        ],
    )
    result = read_vendor_catalog(catalog, root=data_root)
    [q] = result.quarantine.to_dicts()
    assert (q["reason"], q["row"], q["prediction_id"]) == ("outside_root", 1, "zz")
    assert q["source"] == str(catalog)
    assert sorted(result.series["prediction_id"]) == ["aa", "bb"]
    with pytest.raises(SeriesDefect) as info:
        read_vendor_catalog(catalog, root=data_root, errors="raise")
    assert info.value.reason == "outside_root"
    assert str(info.value).startswith(f"{catalog}, row 1, series zz/PT_TCP/PPS:")


def test_default_root_is_the_catalog_folder(data_root):
    catalog = write_catalog(data_root / "cat" / "c.csv", [row("cc", file="../shared/c.parquet")])
    assert read_vendor_catalog(catalog).quarantine["reason"].to_list() == ["outside_root"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("series/absent.parquet", "missing_file"),
        ("", "missing_file"),
        ("notparquet.parquet", "unreadable_file"),
        ("tworows.parquet", "unreadable_file"),
        ("loop.parquet", "unreadable_file"),
        ("broken.parquet", "negative_value"),
    ],
)
def test_file_defects_are_quarantined(data_root, name, reason):
    (data_root / "cat" / "notparquet.parquet").write_text("hello")
    (data_root / "cat" / "loop.parquet").symlink_to("loop.parquet")  # resolves never
    pl.DataFrame({"time_series": [blob(GOOD)] * 2}).write_parquet(
        data_root / "cat" / "tworows.parquet"
    )
    series_file(data_root / "cat" / "broken.parquet", doc([(T0, -1.0)]))
    catalog = write_catalog(
        data_root / "cat" / "c.csv", [row("aa", file="series/a.parquet"), row("zz", file=name)]
    )
    result = read_vendor_catalog(catalog)
    [q] = result.quarantine.to_dicts()
    assert (q["reason"], q["row"], q["prediction_id"]) == (reason, 1, "zz")
    if name:
        assert name in q["detail"]
    assert result.series["prediction_id"].to_list() == ["aa"]
    with pytest.raises(SeriesDefect, match=r"c\.csv, row 1, series zz/PT_TCP/PPS: .*") as info:
        read_vendor_catalog(catalog, errors="raise")
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"vector": "PT_XYZ"}, "unknown_vector"), ({"metric": "MBPS"}, "unknown_metric")],
)
def test_key_defects_in_the_catalog(data_root, change, reason):
    catalog = write_catalog(
        data_root / "cat" / "c.csv",
        [row("aa", file="series/a.parquet"), {**row("zz", file="series/a.parquet"), **change}],
    )
    result = read_vendor_catalog(catalog)
    assert result.quarantine["reason"].to_list() == [reason]
    assert result.series["prediction_id"].to_list() == ["aa"]


def test_batches_and_keys_that_look_numeric(data_root):
    rows = [row(f"{i:03d}", file="series/a.parquet") for i in range(5)]
    catalog = write_catalog(data_root / "cat" / "c.csv", rows)
    parts = list(iter_vendor_catalog(catalog, batch_rows=2))
    assert [p.series.height for p in parts] == [2, 2, 1]
    assert parts[0].series["prediction_id"].to_list() == ["000", "001"]


def test_catalog_without_needed_columns_is_a_schema_error(tmp_path):
    catalog = write_catalog(tmp_path / "c.csv", [{"prediction_id": "a", "vector": "PT_TCP"}])
    with pytest.raises(SchemaError, match=r"c\.csv.*metric.*file or ts_name"):
        read_vendor_catalog(catalog)


def test_a_series_file_whose_time_series_is_not_text_is_wrong_shape(tmp_path):
    pl.DataFrame({"time_series": [5]}).write_parquet(tmp_path / "s1.parquet")
    listing = tmp_path / "list.csv"
    pl.DataFrame(
        {"prediction_id": ["a"], "vector": ["PT_TCP"], "metric": ["PPS"], "file": ["s1.parquet"]}
    ).write_csv(listing)
    result = read_vendor_catalog(listing)
    assert result.quarantine["reason"].to_list() == ["wrong_shape"]
    assert "time_series is int64, not base64 text" in result.quarantine["detail"][0]
