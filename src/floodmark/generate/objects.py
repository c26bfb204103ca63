"""Networks for a generated fleet: each object gets its own test prefixes.

Prefixes come from ranges reserved for documentation and benchmarking, never routed on
the Internet: object ``i`` gets ``198.18.0.0/15`` cut into /27s (4,096 objects) and
``2001:db8::/32`` cut into /48s.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import polars as pl

from floodmark.errors import FloodmarkError
from floodmark.io.objects import OBJECT_SCHEMA

_IPV4 = ipaddress.ip_network("198.18.0.0/15")
_IPV6 = ipaddress.ip_network("2001:db8::/32")
_IPV4_PREFIX = 27
_IPV6_PREFIX = 48
MAX_OBJECTS = 2 ** (_IPV4_PREFIX - _IPV4.prefixlen)


def fleet_objects(prediction_ids: Sequence[str]) -> pl.DataFrame:
    """One row per object (``OBJECT_SCHEMA``): an IPv4 /27 and an IPv6 /48 each, in order."""
    if len(prediction_ids) > MAX_OBJECTS:
        raise FloodmarkError(f"at most {MAX_OBJECTS} objects get test networks")
    v4_size = 2 ** (32 - _IPV4_PREFIX)
    v6_size = 2 ** (128 - _IPV6_PREFIX)
    rows = [
        {
            "prediction_id": pid,
            "name": f"object {i + 1}",
            "networks": [
                f"{_IPV4.network_address + i * v4_size}/{_IPV4_PREFIX}",
                f"{_IPV6.network_address + i * v6_size}/{_IPV6_PREFIX}",
            ],
        }
        for i, pid in enumerate(prediction_ids)
    ]
    return pl.DataFrame(rows, schema=OBJECT_SCHEMA)
