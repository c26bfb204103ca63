"""The traffic model's ground truth: attacks are the blocked samples; flash crowds are not."""

from __future__ import annotations

import numpy as np
import pytest

from floodmark.generate.events import runs_mask
from floodmark.generate.labels import round_up
from floodmark.generate.traffic import simulate_object

START = 1_767_225_600


@pytest.fixture(scope="module")
def objects():
    return [simulate_object(i, seed=3, days=14, step=300, start=START) for i in range(12)]


def _on_grid(obj, series) -> np.ndarray:
    return np.searchsorted(obj.grid, series.timestamps)


def test_attacks_are_exactly_the_blocked_samples_of_the_total(objects):
    attacked_objects = 0
    for obj in objects:
        n = obj.grid.size
        truth = runs_mask(n, [a.start for a in obj.attacks], [a.length for a in obj.attacks])
        for metric in ("PPS", "BW"):
            total = obj.get("PT_TOTAL", metric)
            assert np.array_equal(total.blocked > 0, truth[_on_grid(obj, total)])
        attacked_objects += bool(obj.attacks)
    assert attacked_objects >= 3


def test_attacks_hit_only_their_vectors(objects):
    for obj in objects:
        for s in obj.series:
            if s.vector in ("PT_TOTAL", "PT_NETFLOW"):
                continue
            if not obj.attacks:
                assert not (s.blocked > 0).any()
    hit = {s.vector for obj in objects for s in obj.series if (s.blocked > 0).any()}
    assert "PT_TOTAL" in hit and len(hit) >= 4


def test_attacks_leak_a_few_percent_into_passed(objects):
    # On vectors without steady traffic, passed traffic during an attack is the leak.
    quiet = ("PT_LARGE_SYN", "PT_DNS_RESPONSE", "PT_NTP", "PT_SSDP", "PT_FRAG")
    ratios = []
    for obj in objects:
        for s in obj.series:
            attack = s.blocked > 0
            if s.vector in quiet and s.metric == "PPS" and attack.any():
                ratios.append(s.passed[attack].sum() / s.blocked[attack].sum())
    assert len(ratios) >= 3
    assert all(0.001 < r < 0.1 for r in ratios)


def test_flash_crowds_are_super_peaks_and_not_blocked(objects):
    ratios = []
    for obj in objects:
        tcp = obj.get("PT_TCP", "PPS")
        where = _on_grid(obj, tcp)
        clean = tcp.blocked == 0
        days = tcp.timestamps[clean] // 86_400
        starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
        typical = np.median(np.maximum.reduceat(tcp.passed[clean], starts))
        for fc in obj.flash_crowds:
            at = np.flatnonzero(where == fc.start)
            if at.size and tcp.blocked[at[0]] == 0:
                ratios.append(tcp.passed[at[0]] / typical)
    assert len(ratios) >= 5
    assert np.median(ratios) > 3.0


def test_simulation_is_deterministic():
    a = simulate_object(7, seed=1, days=2, step=600, start=START)
    b = simulate_object(7, seed=1, days=2, step=600, start=START)
    for x, y in zip(a.series, b.series, strict=True):
        assert np.array_equal(x.timestamps, y.timestamps)
        assert np.array_equal(x.passed, y.passed) and np.array_equal(x.blocked, y.blocked)
    assert a.attacks == b.attacks and a.flash_crowds == b.flash_crowds


def test_daily_cycle_peaks_at_the_objects_local_time(objects):
    hits = 0
    for obj in objects:
        total = obj.get("PT_TOTAL", "PPS")
        clean = total.blocked == 0
        hours = (total.timestamps[clean] % 86_400) // 3_600
        by_hour = np.array([np.median(total.passed[clean][hours == h]) for h in range(24)])
        expected = (obj.profile.daily_peak_h - obj.profile.utc_offset_h) % 24
        distance = min(abs(np.argmax(by_hour) - expected), 24 - abs(np.argmax(by_hour) - expected))
        hits += obj.profile.daily_amp < 0.4 or distance <= 4
    assert hits >= 10


@pytest.mark.parametrize(
    ("x", "style", "expected"),
    [
        (0.328, "sig2", 0.33),
        (12.0, "sig2", 12.0),
        (16.61, "sig2", 17.0),
        (64.2, "sig2", 65.0),
        (3.1, "nice", 4.0),
        (0.11, "nice", 0.12),
        (7.4, "nice", 7.5),
        (9.1, "nice", 10.0),
        (0.0, "nice", 0.0),
    ],
)
def test_round_up_examples(x, style, expected):
    assert round_up(x, style) == expected


@pytest.mark.parametrize("style", ["sig2", "nice"])
def test_round_up_is_monotone_and_never_lower(style):
    xs = np.sort(np.exp(np.random.default_rng(0).uniform(-8, 14, 3000)))
    ys = np.array([round_up(x, style) for x in xs])
    assert (ys >= xs * (1 - 1e-9)).all()
    assert (np.diff(ys) >= 0).all()
    assert (ys <= xs * 1.5 + 1e-12).all()
