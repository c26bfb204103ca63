"""FastNetMon Advanced JSON, the CSV / JSON tables, and the errors every format shares."""

from __future__ import annotations

import orjson
import polars as pl
import pytest
from export_frames import objects_frame, thresholds_frame

from floodmark.errors import FloodmarkError, SchemaError
from floodmark.export import EXPORT_FORMATS, export_thresholds
from floodmark.io.atomic import read_table
from floodmark.schema import LEVELS


def test_advanced_json_has_syn_and_fragments_and_ipv6_networks(tmp_path, fleet):
    thresholds, objects = fleet
    out = tmp_path / "hostgroups.json"
    summary = export_thresholds(
        thresholds, objects, level="rl", fmt="fastnetmon-json", out=out, bw_unit="kbps"
    )
    groups = orjson.loads(out.read_bytes())

    assert [g["name"] for g in groups] == ["a1", "b_2", "c3"]
    b2 = groups[1]
    assert b2["networks"] == ["198.51.100.0/24", "2001:db8:1::/48"]
    assert b2["description"] == "b:2: mail"
    assert b2["calculation_method"] == "per_host"
    assert b2["enable_ban"] is True and b2["ban_for_flows"] is False
    for protocol in ("", "tcp_", "udp_", "icmp_", "tcp_syn_", "ip_fragments_"):
        assert b2[f"threshold_{protocol}pps"] == 24_000
        assert b2[f"threshold_{protocol}mbps"] == 500
    assert b2["ban_for_tcp_syn_pps"] is True and b2["ban_for_ip_fragments_bandwidth"] is True
    assert set(summary.unexported["vector"]) == {"PT_DNS"}
    assert summary.networks_left_out.height == 0
    assert summary.objects_without_networks == ("d4",)
    assert summary.files == (out, tmp_path / "hostgroups.json.unexported.csv")


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_tables_hold_every_series_and_level_with_the_object(tmp_path, fleet, fmt):
    thresholds, objects = fleet
    out = tmp_path / f"export.{fmt}"
    summary = export_thresholds(thresholds, objects, level=None, fmt=fmt, out=out, bw_unit="kbps")
    table = read_table(out)

    assert table.height == thresholds.height
    assert table.columns[:6] == ["prediction_id", "name", "networks", "vector", "metric", "unit"]
    assert set(LEVELS) <= set(table.columns)
    b2 = table.filter(pl.col("prediction_id") == "b:2", pl.col("vector") == "PT_SYN")
    assert dict(zip(b2["metric"], b2["unit"], strict=True)) == {"PPS": "pps", "BW": "kbps"}
    assert b2.filter(pl.col("metric") == "BW")["rl"].item() == 500_000.0  # not converted
    networks = b2["networks"][0]
    expected = ["198.51.100.0/24", "2001:db8:1::/48"]
    assert (networks.split() if fmt == "csv" else list(networks)) == expected
    assert summary.objects_without_networks == ("d4",)
    assert summary.unexported.height == 0


def test_a_level_means_one_column_of_the_table(tmp_path):
    objects = objects_frame([("a", "", ["192.0.2.0/24"])])
    thresholds = thresholds_frame([("a", "PT_TOTAL", "PPS", 1200.0)])
    exported = {}
    for level in LEVELS:
        out = tmp_path / f"{level}.conf"
        export_thresholds(thresholds, objects, level=level, fmt="fastnetmon", out=out)
        line = next(ln for ln in out.read_text().splitlines() if ln.startswith("a_threshold_pps"))
        exported[level] = int(line.split("=")[1])
    assert exported == {"ss": 600, "sc": 800, "nw": 1200, "rl": 2400}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "fastnetmon", "level": None}, "needs a level"),
        ({"fmt": "fastnetmon-json", "level": "high"}, "needs a level"),
        ({"fmt": "xml", "level": "nw"}, "unknown format"),
        ({"fmt": "csv", "level": None, "bw_unit": "gbps"}, "unknown BW unit"),
    ],
)
def test_bad_arguments_are_named_errors(tmp_path, fleet, kwargs, message):
    thresholds, objects = fleet
    with pytest.raises(FloodmarkError, match=message):
        export_thresholds(thresholds, objects, out=tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_bad_frames_are_schema_errors_naming_what_is_wrong(tmp_path, fleet):
    thresholds, objects = fleet
    with pytest.raises(SchemaError, match=r"lack columns \['nw'\]"):
        export_thresholds(thresholds.drop("nw"), objects, level="ss", fmt="csv", out=tmp_path / "x")
    with pytest.raises(SchemaError, match="series a1/PT_TOTAL/PPS"):
        export_thresholds(
            pl.concat([thresholds, thresholds.head(1)]),
            objects,
            level="ss",
            fmt="csv",
            out=tmp_path / "x",
        )
    no_key = thresholds.with_columns(
        vector=pl.when(pl.col("metric") == "BW").then(pl.col("vector"))
    )
    with pytest.raises(SchemaError, match="rows with an empty prediction_id/vector/metric"):
        export_thresholds(no_key, objects, level="ss", fmt="csv", out=tmp_path / "x")
    bad = objects.with_columns(networks=pl.lit(["192.0.2.1/24"]))
    with pytest.raises(SchemaError, match="object 'a1'"):
        export_thresholds(thresholds, bad, level="ss", fmt="csv", out=tmp_path / "x")


def test_every_format_is_documented():
    assert set(EXPORT_FORMATS) == {"fastnetmon", "fastnetmon-json", "csv", "json"}
