"""Fixtures of the export tests."""

from __future__ import annotations

import polars as pl
import pytest
from export_frames import objects_frame, thresholds_frame


@pytest.fixture
def fleet() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Four objects: IPv4 only, IPv4 + IPv6, IPv6 only, and none; thresholds for all."""
    objects = objects_frame(
        [
            ("a1", "shop", ["192.0.2.0/25"]),
            ("b:2", "mail", ["198.51.100.0/24", "2001:db8:1::/48"]),
            ("c3", "v6 only", ["2001:db8:2::/48"]),
            ("d4", "no networks", []),
        ]
    )
    rows = [
        (pid, vector, metric, value)
        for pid in ("a1", "b:2", "c3", "d4")
        for vector in ("PT_TOTAL", "PT_TCP", "PT_UDP", "PT_ICMP", "PT_SYN", "PT_FRAG", "PT_DNS")
        for metric, value in (("PPS", 12_000.0), ("BW", 250_000.0))
    ]
    return thresholds_frame(rows), objects
