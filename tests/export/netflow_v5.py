"""A small NetFlow v5 encoder: enough for FastNetMon to count packets and bytes per host.

Layout from Cisco's NetFlow v5 export format: a 24-byte header, then up to 30
records of 48 bytes, all big-endian.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HEADER = struct.Struct("!HHIIIIBBH")  # version, count, uptime, secs, nsecs, sequence, engine…
RECORD = struct.Struct("!4s4s4sHHIIIIHHBBBBHHBBH")
MAX_RECORDS = 30
PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1}


@dataclass(frozen=True)
class Flow:
    """One flow record: ``packets`` and ``octets`` seen from ``src`` to ``dst``."""

    dst: str
    packets: int
    octets: int
    protocol: str = "udp"
    src: str = "203.0.113.7"
    src_port: int = 40000
    dst_port: int = 53
    tcp_flags: int = 0


def encode(flows: Sequence[Flow], *, sequence: int, uptime_ms: int, unix_secs: float) -> bytes:
    """One NetFlow v5 packet (unsampled) holding ``flows``."""
    if not 0 < len(flows) <= MAX_RECORDS:
        raise ValueError(f"a NetFlow v5 packet holds 1..{MAX_RECORDS} records")
    header = HEADER.pack(
        5, len(flows), uptime_ms, int(unix_secs), int(unix_secs % 1 * 1e9), sequence, 0, 0, 0
    )
    records = b"".join(
        RECORD.pack(
            ipaddress.IPv4Address(f.src).packed,
            ipaddress.IPv4Address(f.dst).packed,
            bytes(4),  # next hop
            1,  # input interface
            2,  # output interface
            f.packets,
            f.octets,
            max(uptime_ms - 1000, 0),  # first: the flow lasted the last second
            uptime_ms,
            f.src_port,
            f.dst_port,
            0,
            f.tcp_flags,
            PROTOCOLS[f.protocol],
            0,  # tos
            0,  # src as
            0,  # dst as
            0,
            0,
            0,
        )
        for f in flows
    )
    return header + records


def send_flows(
    port: int,
    flows: Sequence[Flow],
    *,
    ticks: int,
    interval: float,
    done: Callable[[int], bool],
) -> int:
    """Send ``flows`` to 127.0.0.1:``port`` every ``interval`` seconds, ``ticks`` times at most.

    Stops early when ``done(ticks_sent)`` is true; returns the ticks sent.
    """
    sequence = 0
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for tick in range(ticks):
            uptime = 60_000 + int((time.monotonic() - start) * 1000)
            sock.sendto(
                encode(flows, sequence=sequence, uptime_ms=uptime, unix_secs=time.time()),
                ("127.0.0.1", port),
            )
            sequence += len(flows)
            if done(tick + 1):
                return tick + 1
            time.sleep(interval)
    return ticks
