"""The traffic taxonomy behind the generated vectors.

Traffic is simulated as disjoint *classes* of packets; every vector is a sum of
classes, so a SYN flood lands in PT_SYN, PT_TCP and PT_TOTAL at once and
PT_TOTAL is exactly the sum of the base vectors (TCP, UDP, ICMP, FRAG, GENERAL).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

#: Disjoint packet classes, in a fixed order (array axis 0 in the simulator).
CLASSES: tuple[str, ...] = (
    "syn_large",  # SYNs carrying a payload
    "syn_small",  # ordinary SYNs
    "tcp_other",  # established TCP
    "dns_query",  # queries to the object's resolvers / name servers
    "dns_resp",  # DNS responses arriving at the object
    "ntp",
    "ssdp",
    "udp_other",
    "icmp",
    "frag",  # non-first IP fragments (no L4 header, so not UDP/TCP)
    "general",  # other IP protocols (GRE, ESP, ...)
)
CLASS_INDEX = MappingProxyType({name: i for i, name in enumerate(CLASSES)})

_TCP = ("syn_large", "syn_small", "tcp_other")
_UDP = ("dns_query", "dns_resp", "ntp", "ssdp", "udp_other")

#: Which classes each vector counts. PT_NETFLOW is derived from PT_TOTAL (sampled flows).
VECTOR_CLASSES = MappingProxyType(
    {
        "PT_LARGE_SYN": ("syn_large",),
        "PT_SYN": ("syn_large", "syn_small"),
        "PT_TCP": _TCP,
        "PT_DNS": ("dns_query",),
        "PT_DNS_RESPONSE": ("dns_resp",),
        "PT_NTP": ("ntp",),
        "PT_SSDP": ("ssdp",),
        "PT_ICMP": ("icmp",),
        "PT_GENERAL": ("general",),
        "PT_TOTAL": CLASSES,
        "PT_UDP": _UDP,
        "PT_FRAG": ("frag",),
        "PT_NETFLOW": CLASSES,
    }
)

#: Classes that carry no steady traffic for most objects: silent except rare blips and attacks.
SPARSE_CLASSES: tuple[str, ...] = ("dns_resp", "ntp", "ssdp", "frag")

#: Mean legitimate packet size per class, bytes: (low, high) of a per-object log-uniform draw.
PACKET_BYTES = MappingProxyType(
    {
        "syn_large": (600.0, 1200.0),
        "syn_small": (60.0, 74.0),
        "tcp_other": (80.0, 1200.0),
        "dns_query": (70.0, 110.0),
        "dns_resp": (100.0, 500.0),
        "ntp": (76.0, 90.0),
        "ssdp": (150.0, 350.0),
        "udp_other": (100.0, 1200.0),
        "icmp": (64.0, 200.0),
        "frag": (600.0, 1500.0),
        "general": (100.0, 1400.0),
    }
)

#: How strongly a flash crowd (more legitimate users) shows in each class.
FLASH_WEIGHT = MappingProxyType(
    {"syn_small": 1.0, "tcp_other": 1.0, "dns_query": 0.5, "udp_other": 0.5, "icmp": 0.2}
)

#: Attack types: probability, and per class (share of the attack's packets, size low, high).
ATTACK_TYPES = MappingProxyType(
    {
        "syn_flood": (0.22, {"syn_small": (1.0, 54.0, 66.0)}),
        "large_syn_flood": (0.05, {"syn_large": (1.0, 900.0, 1460.0)}),
        "ack_flood": (0.10, {"tcp_other": (1.0, 54.0, 80.0)}),
        "udp_flood": (0.18, {"udp_other": (0.9, 500.0, 1400.0), "frag": (0.1, 1400.0, 1500.0)}),
        "dns_amplification": (
            0.12,
            {"dns_resp": (0.7, 1200.0, 1500.0), "frag": (0.3, 1400.0, 1500.0)},
        ),
        "ntp_amplification": (0.08, {"ntp": (1.0, 440.0, 490.0)}),
        "ssdp_amplification": (0.05, {"ssdp": (1.0, 280.0, 360.0)}),
        "icmp_flood": (0.08, {"icmp": (1.0, 64.0, 1000.0)}),
        "dns_query_flood": (0.05, {"dns_query": (1.0, 60.0, 100.0)}),
        "gre_flood": (0.07, {"general": (1.0, 500.0, 1400.0)}),
    }
)
ATTACK_NAMES: tuple[str, ...] = tuple(ATTACK_TYPES)
ATTACK_PROBS = np.array([p for p, _ in ATTACK_TYPES.values()]) / sum(
    p for p, _ in ATTACK_TYPES.values()
)


def class_mask(vector: str) -> np.ndarray:
    """Boolean mask over ``CLASSES`` of the classes a vector counts."""
    names = VECTOR_CLASSES[vector]
    return np.array([name in names for name in CLASSES])
