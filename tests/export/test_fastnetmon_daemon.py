"""What floodmark exports works in the real FastNetMon Community 1.2 daemon.

``--configuration_check`` is not enough: it accepts a host group holding an IPv6
prefix that the running daemon then drops. These tests start the daemon, read its
log and, end to end, send it NetFlow v5 records on loopback and watch whom it bans.
"""

from __future__ import annotations

import re

import pytest
from export_frames import objects_frame, thresholds_frame
from fastnetmon_daemon import (
    PARSE_ERRORS,
    Daemon,
    configuration_check,
    daemon_base,
    fastnetmon_binary,
    free_udp_port,
    notify_script,
)
from netflow_v5 import Flow, send_flows

from floodmark.export import export_thresholds

pytestmark = [pytest.mark.slow, pytest.mark.fastnetmon]

LISTENING = "netflow plugin will listen on 127.0.0.1:{port}"


@pytest.fixture
def fastnetmon():
    """Start daemons with ``fastnetmon(conf)``; every one is killed at the end."""
    fastnetmon_binary()
    daemons: list[Daemon] = []

    def start(conf, log):
        daemon = Daemon(conf, log)
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        daemon.stop()


@pytest.fixture
def setup(tmp_path):
    """A base configuration whose collector, log and pid file live in ``tmp_path``."""
    port = free_udp_port()
    script, calls = notify_script(tmp_path)
    return daemon_base(tmp_path, port=port, notify=script), port, calls


def created_groups(log: str) -> dict[str, int]:
    return {g: int(n) for g, n in re.findall(r"We have created host group (\S+) with (\d+)", log)}


@pytest.mark.parametrize("bw_unit", ["bps", "kbps", "mbps"])
def test_daemon_loads_every_exported_group_with_ipv4_and_ipv6_networks(
    tmp_path, fleet, setup, fastnetmon, bw_unit
):
    thresholds, objects = fleet
    base, port, _ = setup
    conf = tmp_path / "fastnetmon.conf"
    summary = export_thresholds(
        thresholds, objects, level="nw", fmt="fastnetmon", out=conf, bw_unit=bw_unit, base=base
    )
    checked = configuration_check(conf, tmp_path / "check.log")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    log = fastnetmon(conf, tmp_path / "fastnetmon.log").wait_for(LISTENING.format(port=port))

    assert not [e for e in PARSE_ERRORS if e in log], log
    expected = dict(summary.groups.select("group", "networks").iter_rows())
    assert created_groups(log) == expected == {"a1": 1, "b_2": 1}
    networks = conf.with_name("fastnetmon.networks_list").read_text().split()
    assert f"We loaded {len(networks)} networks from networks file" in log
    assert "Totally we have 2 IPv4 subnets" in log
    assert "Totally we have 2 IPv6 subnets" in log


def test_the_check_accepts_an_export_on_the_built_in_base(tmp_path, fleet):
    fastnetmon_binary()
    thresholds, objects = fleet
    conf = tmp_path / "fastnetmon.conf"
    export_thresholds(thresholds, objects, level="sc", fmt="fastnetmon", out=conf)

    checked = configuration_check(conf, tmp_path / "check.log")

    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = (tmp_path / "check.log").read_text()
    assert "Configuration file is correct" in log
    assert not [e for e in PARSE_ERRORS if e in log], log
    assert created_groups(log) == {"a1": 1, "b_2": 1}


def test_an_ipv6_prefix_in_a_hostgroup_passes_the_check_but_the_daemon_drops_the_group(
    tmp_path, setup, fastnetmon
):
    """Why IPv6 prefixes stay out of host groups: FastNetMon 1.2.4's own behaviour."""
    base, port, _ = setup
    networks = tmp_path / "networks"
    networks.write_text("192.0.2.0/25\n2001:db8:1::/48\n")
    conf = tmp_path / "by-hand.conf"
    conf.write_text(
        base.read_text()
        + f"networks_list_path = {networks}\n"
        + "hostgroup = mixed:192.0.2.0/25,2001:db8:1::/48\n"
        + "mixed_enable_ban = on\n"
    )
    checked = configuration_check(conf, tmp_path / "check.log")
    assert checked.returncode == 0

    log = fastnetmon(conf, tmp_path / "fastnetmon.log").wait_for(LISTENING.format(port=port))

    assert "We can't parse new host group" in log
    assert "mixed" not in created_groups(log)


HOST_A, HOST_B = "192.0.2.10", "198.51.100.20"
# vector, metric, protocol of the flows; nw thresholds sit well above loopback noise.
CASES = [
    ("PT_TOTAL", "PPS", "udp", "mbps"),
    ("PT_TCP", "PPS", "tcp", "mbps"),
    ("PT_UDP", "PPS", "udp", "mbps"),
    ("PT_ICMP", "PPS", "icmp", "mbps"),
    ("PT_TOTAL", "BW", "udp", "bps"),
    ("PT_TOTAL", "BW", "udp", "kbps"),
    ("PT_UDP", "BW", "udp", "mbps"),
]
PACKET_BYTES = 1000
TICK = 0.25  # seconds between NetFlow packets


def flows_per_tick(metric: str, level_value: float, bw_divisor: float, factor: float) -> int:
    """Packets per tick giving ``factor`` × the exported level (PPS, or BW in Mbit/s)."""
    per_second = (
        factor * level_value
        if metric == "PPS"
        else factor * level_value / bw_divisor * 1e6 / 8 / PACKET_BYTES
    )
    return max(int(per_second * TICK), 1)


@pytest.mark.parametrize(("vector", "metric", "protocol", "bw_unit"), CASES)
def test_daemon_bans_the_host_above_its_exported_level_and_spares_the_one_below(
    tmp_path, setup, fastnetmon, vector, metric, protocol, bw_unit
):
    base, port, calls = setup
    divisor = {"bps": 1e6, "kbps": 1e3, "mbps": 1.0}[bw_unit]
    # nw levels: 8,000 pps, or 80 Mbit/s expressed in the unit under test
    level = 8_000.0 if metric == "PPS" else 80 * divisor
    objects = objects_frame(
        [("a1", "shop", ["192.0.2.0/25"]), ("b2", "mail", ["198.51.100.0/24", "2001:db8::/48"])]
    )
    thresholds = thresholds_frame([("a1", vector, metric, level), ("b2", vector, metric, level)])
    conf = tmp_path / "fastnetmon.conf"
    export_thresholds(
        thresholds, objects, level="nw", fmt="fastnetmon", out=conf, bw_unit=bw_unit, base=base
    )
    daemon = fastnetmon(conf, tmp_path / "fastnetmon.log")
    daemon.wait_for(LISTENING.format(port=port))

    flows = [
        Flow(
            HOST_A,
            packets=(n := flows_per_tick(metric, level, divisor, 3.0)),
            octets=n * PACKET_BYTES,
            protocol=protocol,
        ),
        Flow(
            HOST_B,
            packets=(m := flows_per_tick(metric, level, divisor, 0.3)),
            octets=m * PACKET_BYTES,
            protocol=protocol,
        ),
    ]

    def banned_a(ticks: int) -> bool:
        # Keep B's traffic going for 6 s at least, so that a wrong ban of B shows.
        return ticks >= 24 and calls.exists() and f"ARGS {HOST_A} " in calls.read_text()

    send_flows(port, flows, ticks=80, interval=TICK, done=banned_a)
    if calls.exists():
        daemon.wait_for("Script for ban client is finished", polls=50)
    daemon.stop()

    recorded = calls.read_text() if calls.exists() else ""
    assert re.search(rf"^ARGS {re.escape(HOST_A)} incoming \d+ ban$", recorded, re.M), recorded
    assert HOST_B not in recorded
    assert f"IP: {HOST_A}" in recorded  # the attack details arrive on stdin
