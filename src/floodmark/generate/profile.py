"""What is random per object: its size, time zone, habits, traffic mix and expert.

Every object draws its profile from its own random stream, so object ``i`` of a
fleet is the same whatever the fleet size or the number of worker processes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from floodmark.generate.classes import CLASS_INDEX, CLASSES, PACKET_BYTES, SPARSE_CLASSES


@dataclass(frozen=True, eq=False)
class ObjectProfile:
    """The per-object parameters of the traffic model (see docs/traffic-model.md).

    Rates are packets per second; arrays are indexed like ``classes.CLASSES``.
    """

    index: int
    prediction_id: str
    request_id: str
    scale_pps: float  # typical (median-ish) PT_TOTAL packets/s
    utc_offset_h: float  # local time = UTC + offset: moves the daily peak
    daily_amp: float  # log-amplitude of the first daily harmonic
    daily_peak_h: float  # local hour of the daily peak
    second_amp: float  # log-amplitude of the 12-hour harmonic (lunch dips, evening peaks)
    second_peak_h: float
    weekend_effect: float  # log-factor on local Saturday and Sunday
    trend: float  # log-change across the window
    drift_sigma: float  # daily random-walk step of the level (log)
    shares: np.ndarray  # steady share of total packets per class (0: silent class)
    diurnal_coupling: np.ndarray  # how much of the daily cycle each class follows
    packet_bytes: np.ndarray  # mean legitimate packet size per class
    noise_sigma: np.ndarray  # AR(1) log-noise per class
    noise_phi: np.ndarray
    blips_per_day: np.ndarray  # rate of stray short bursts per class
    netflow_sampling: int  # 1:N packet sampling of the flow export
    attacks_per_30d: float
    flash_crowds_per_30d: float
    leak: float  # typical share of attack packets the mitigation lets through


def prediction_id(seed: int, index: int) -> str:
    """The object's key: 64 hex digits fixed by the fleet seed and the object index."""
    return hashlib.sha256(f"floodmark-fleet/{seed}/{index}".encode()).hexdigest()


def request_id(seed: int, index: int) -> str:
    """An integer-like request id, unique within a fleet, offset by the seed."""
    base = 100 + int(np.random.SeedSequence(seed).generate_state(1)[0] % 9_000)
    return str(base + index)


#: Independent random streams of one object, in a fixed order (adding a stream at the
#: end never changes the others).
STREAMS: tuple[str, ...] = ("profile", "level", "rates", "events", "counts", "gaps", "labels")


def object_streams(seed: int, index: int) -> dict[str, np.random.Generator]:
    """The object's random streams: ``SeedSequence(seed).spawn(...)[index]`` and its children."""
    root = np.random.SeedSequence(seed, spawn_key=(index,))
    return {
        name: np.random.default_rng(child)
        for name, child in zip(STREAMS, root.spawn(len(STREAMS)), strict=True)
    }


def _log_uniform(rng: np.random.Generator, low: float, high: float, size=None):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def draw_profile(rng: np.random.Generator, *, seed: int, index: int) -> ObjectProfile:
    """Draw one object's profile."""
    k = len(CLASSES)
    # Fleet sizes span orders of magnitude: a log-normal median PPS, ~0.01 .. ~1e5.
    scale = float(10 ** np.clip(rng.normal(1.2, 1.4), -2.3, 5.3))

    # Protocol mix: TCP usually dominant; UDP, ICMP and other protocols moderate.
    tcp, udp, icmp, general = np.exp(
        rng.normal(np.log([0.75, 0.12, 0.02, 0.03]), [0.3, 0.7, 0.6, 0.9])
    )
    norm = tcp + udp + icmp + general
    tcp, udp, icmp, general = tcp / norm, udp / norm, icmp / norm, general / norm
    syn = tcp * _log_uniform(rng, 0.01, 0.12)
    syn_large = syn * _log_uniform(rng, 0.001, 0.03)
    is_name_server = rng.random() < 0.15
    dns_query = udp * (rng.uniform(0.3, 0.9) if is_name_server else rng.uniform(0.01, 0.08))
    # A resolver-using client sees a thin stream of DNS responses; most objects see none.
    dns_resp = udp * rng.uniform(0.005, 0.03) if rng.random() < 0.3 else 0.0
    ntp = udp * rng.uniform(1e-4, 1e-3) if rng.random() < 0.1 else 0.0
    shares = np.zeros(k)
    shares[CLASS_INDEX["syn_large"]] = syn_large
    shares[CLASS_INDEX["syn_small"]] = syn - syn_large
    shares[CLASS_INDEX["tcp_other"]] = tcp - syn
    shares[CLASS_INDEX["dns_query"]] = dns_query
    shares[CLASS_INDEX["dns_resp"]] = dns_resp
    shares[CLASS_INDEX["ntp"]] = ntp
    shares[CLASS_INDEX["udp_other"]] = udp - dns_query - dns_resp - ntp
    shares[CLASS_INDEX["icmp"]] = icmp
    shares[CLASS_INDEX["general"]] = general

    coupling = rng.uniform(0.6, 1.0, k)
    # Pings and tunnels hardly care what time it is.
    coupling[[CLASS_INDEX["icmp"], CLASS_INDEX["general"]]] *= rng.uniform(0.1, 0.6)

    low = np.array([PACKET_BYTES[c][0] for c in CLASSES])
    high = np.array([PACKET_BYTES[c][1] for c in CLASSES])
    packet_bytes = _log_uniform(rng, low, high)

    blips = np.zeros(k)
    sparse = [CLASS_INDEX[c] for c in SPARSE_CLASSES]
    blips[sparse] = _log_uniform(rng, 0.1, 3.0, len(sparse))

    return ObjectProfile(
        index=index,
        prediction_id=prediction_id(seed, index),
        request_id=request_id(seed, index),
        scale_pps=scale,
        utc_offset_h=float(rng.choice(np.arange(-10, 13))),
        daily_amp=float(rng.uniform(0.2, 1.0)),
        daily_peak_h=float(rng.uniform(13.0, 22.0)),
        second_amp=float(rng.uniform(0.0, 0.3)),
        second_peak_h=float(rng.uniform(0.0, 12.0)),
        weekend_effect=float(rng.normal(-0.2, 0.25)),
        trend=float(rng.normal(0.0, 0.15)),
        drift_sigma=float(rng.uniform(0.02, 0.08)),
        shares=shares,
        diurnal_coupling=coupling,
        packet_bytes=packet_bytes,
        noise_sigma=rng.uniform(0.1, 0.35, k),
        noise_phi=rng.uniform(0.3, 0.85, k),
        blips_per_day=blips,
        netflow_sampling=int(rng.choice([1, 64, 512, 1000], p=[0.2, 0.3, 0.2, 0.3])),
        attacks_per_30d=float(min(30.0, np.exp(rng.normal(np.log(1.5), 1.0)))),
        flash_crowds_per_30d=float(_log_uniform(rng, 0.3, 4.0)),
        leak=float(rng.uniform(0.005, 0.05)),
    )
