"""The FastNetMon Community configuration: keys, units, host groups and what is left out."""

from __future__ import annotations

import math

import polars as pl
import pytest
from export_frames import objects_frame, thresholds_frame

from floodmark.export import export_thresholds
from floodmark.export.fastnetmon import default_base
from floodmark.io.atomic import read_table


def read_conf(path) -> dict[str, str]:
    """Key → value as FastNetMon 1.2 reads them: the last value of a key wins."""
    values: dict[str, str] = {}
    hostgroups: list[str] = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        values[key] = value
        if key == "hostgroup":
            hostgroups.append(value)
    values["hostgroup"] = hostgroups
    return values


@pytest.mark.parametrize(("bw_unit", "mbps"), [("bps", 1), ("kbps", 250), ("mbps", 250_000)])
def test_each_object_gets_a_group_with_its_level_under_fastnetmon_keys(
    tmp_path, fleet, bw_unit, mbps
):
    thresholds, objects = fleet
    conf = tmp_path / "fastnetmon.conf"
    summary = export_thresholds(
        thresholds, objects, level="nw", fmt="fastnetmon", out=conf, bw_unit=bw_unit
    )
    values = read_conf(conf)

    assert values["hostgroup"] == ["a1:192.0.2.0/25", "b_2:198.51.100.0/24"]
    for group in ("a1", "b_2"):
        assert values[f"{group}_enable_ban"] == "on"
        assert values[f"{group}_ban_for_flows"] == "off"
        for protocol in ("", "tcp_", "udp_", "icmp_"):
            assert values[f"{group}_threshold_{protocol}pps"] == "12000"
            assert values[f"{group}_threshold_{protocol}mbps"] == str(mbps)
        for ban in ("pps", "bandwidth", "tcp_pps", "tcp_bandwidth", "udp_pps", "icmp_bandwidth"):
            assert values[f"{group}_ban_for_{ban}"] == "on"
    assert summary.groups.to_dicts() == [
        {"prediction_id": "a1", "group": "a1", "networks": 1},
        {"prediction_id": "b:2", "group": "b_2", "networks": 1},
    ]
    # 250,000 bps is 0.25 Mbit/s: FastNetMon reads integers, so it becomes 1
    assert summary.rounded_up == (2 * 4 if bw_unit == "bps" else 0)


def test_the_networks_list_beside_the_configuration_holds_every_prefix(tmp_path, fleet):
    thresholds, objects = fleet
    conf = tmp_path / "out" / "fastnetmon.conf"
    summary = export_thresholds(thresholds, objects, level="nw", fmt="fastnetmon", out=conf)

    networks = conf.with_name("fastnetmon.networks_list")
    assert summary.files == (conf, networks, conf.with_name("fastnetmon.conf.unexported.csv"))
    assert networks.read_text().split() == [
        "192.0.2.0/25",
        "198.51.100.0/24",
        "2001:db8:1::/48",
        "2001:db8:2::/48",
    ]
    assert read_conf(conf)["networks_list_path"] == str(networks.resolve())

    export_thresholds(
        thresholds,
        objects,
        level="nw",
        fmt="fastnetmon",
        out=conf,
        networks_list_path="/etc/networks_list",
    )
    assert read_conf(conf)["networks_list_path"] == "/etc/networks_list"


def test_what_fastnetmon_cannot_hold_is_reported_and_listed_in_the_sidecar(tmp_path, fleet):
    thresholds, objects = fleet
    conf = tmp_path / "fastnetmon.conf"
    summary = export_thresholds(thresholds, objects, level="nw", fmt="fastnetmon", out=conf)

    reasons = dict(summary.unexported.group_by("vector").agg(pl.col("reason").first()).iter_rows())
    assert "tcp_syn" in reasons["PT_SYN"] and "ip_fragments" in reasons["PT_FRAG"]
    assert reasons["PT_DNS"] == "FastNetMon Community 1.2 has no threshold for PT_DNS PPS"
    # per object: 3 vectors x 2 metrics the format lacks; c3 (IPv6 only) loses the rest too
    per_object = dict(summary.unexported.group_by("prediction_id").len().iter_rows())
    assert per_object == {"a1": 6, "b:2": 6, "c3": 14, "d4": 6}
    assert summary.objects_without_networks == ("d4",)
    assert summary.networks_left_out.select("prediction_id", "network").rows() == [
        ("b:2", "2001:db8:1::/48"),
        ("c3", "2001:db8:2::/48"),
    ]
    assert all("IPv6" in r for r in summary.networks_left_out["reason"])

    sidecar = read_table(summary.sidecar)
    assert sidecar.columns == ["prediction_id", "vector", "metric", "network", "reason"]
    assert sidecar.height == summary.unexported.height + 2 + 1
    assert sidecar.filter(pl.col("prediction_id") == "d4", pl.col("vector").is_null()).height == 1


def test_a_later_export_with_nothing_left_out_empties_the_sidecar(tmp_path, fleet):
    thresholds, objects = fleet
    conf = tmp_path / "fastnetmon.conf"
    export_thresholds(thresholds, objects, level="nw", fmt="fastnetmon", out=conf)
    only_a1 = thresholds.filter(pl.col("prediction_id") == "a1", pl.col("vector") == "PT_TOTAL")
    summary = export_thresholds(only_a1, objects, level="ss", fmt="fastnetmon", out=conf)

    assert read_table(summary.sidecar).height == 0
    assert read_conf(conf)["a1_threshold_pps"] == "6000"
    assert read_conf(conf)["a1_ban_for_tcp_pps"] == "off"
    assert "a1_threshold_tcp_pps" not in read_conf(conf)


def test_group_names_are_fastnetmon_keys_and_unique_even_against_the_base(tmp_path):
    objects = objects_frame(
        [
            ("x y", "", ["192.0.2.0/28"]),
            ("x_y", "", ["192.0.2.16/28"]),
            ("::", "", ["192.0.2.32/28"]),
            ("mine", "", ["192.0.2.48/28"]),
        ]
    )
    thresholds = thresholds_frame(
        [(pid, "PT_TOTAL", "PPS", 100.0) for pid in ("x y", "x_y", "::", "mine")]
    )
    base = tmp_path / "base.conf"
    base.write_text(
        "enable_ban = on\nnetworks_list_path = /etc/networks_list\n"
        "hostgroup = mine:203.0.113.0/24\nmine_threshold_pps = 5\n"
    )
    conf = tmp_path / "fastnetmon.conf"
    summary = export_thresholds(
        thresholds, objects, level="nw", fmt="fastnetmon", out=conf, base=base
    )

    assert summary.groups["group"].to_list() == ["x_y", "x_y_2", "object", "mine_2"]
    text = conf.read_text()
    assert text.startswith("enable_ban = on\n# replaced by floodmark below: networks_list_path")
    assert read_conf(conf)["hostgroup"][0] == "mine:203.0.113.0/24"
    assert read_conf(conf)["mine_threshold_pps"] == "5"
    assert read_conf(conf)["mine_2_threshold_pps"] == "100"


def test_a_prefix_goes_to_one_group_only(tmp_path):
    objects = objects_frame(
        [("a", "", ["192.0.2.0/24", "198.51.100.0/24"]), ("b", "", ["192.0.2.0/24"])]
    )
    thresholds = thresholds_frame([("a", "PT_TOTAL", "PPS", 10.0), ("b", "PT_TOTAL", "PPS", 20.0)])
    summary = export_thresholds(
        thresholds, objects, level="nw", fmt="fastnetmon", out=tmp_path / "f.conf"
    )

    assert summary.networks_left_out.rows() == [
        (
            "b",
            "192.0.2.0/24",
            "already in the host group of object 'a' (FastNetMon maps a prefix to one group)",
        )
    ]
    assert summary.unexported.select("prediction_id", "vector").rows() == [("b", "PT_TOTAL")]
    assert summary.groups["group"].to_list() == ["a"]


def test_values_are_rounded_up_and_unusable_ones_reported(tmp_path):
    objects = objects_frame([("a", "", ["192.0.2.0/24"])])
    thresholds = thresholds_frame(
        [
            ("a", "PT_TOTAL", "PPS", 100.2),
            ("a", "PT_TCP", "PPS", math.nan),
            ("a", "PT_UDP", "PPS", 3e9),
            ("a", "PT_ICMP", "BW", 0.0),
        ]
    )
    conf = tmp_path / "f.conf"
    summary = export_thresholds(thresholds, objects, level="nw", fmt="fastnetmon", out=conf)

    values = read_conf(conf)
    assert values["a_threshold_pps"] == "101"
    assert values["a_threshold_icmp_mbps"] == "0"
    assert values["a_ban_for_tcp_pps"] == values["a_ban_for_udp_pps"] == "off"
    assert summary.rounded_up == 1
    assert dict(summary.unexported.select("vector", "reason").iter_rows()) == {
        "PT_TCP": "no nw value",
        "PT_UDP": "3000000000 exceeds FastNetMon Community 1.2's largest value 2147483647",
    }


def test_the_built_in_base_is_a_fastnetmon_configuration_without_host_groups():
    keys = [line.split("=")[0].strip() for line in default_base().splitlines() if "=" in line]
    assert "hostgroup" not in keys and "networks_list_path" not in keys
    assert {"enable_ban", "netflow", "notify_script_path", "disable_usage_report"} <= set(keys)
