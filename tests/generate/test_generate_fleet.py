"""The file generate_fleet writes: reproducible, complete, decodable, realistic, labelled."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import re
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pyarrow.parquet as pq
import pytest
from generated_fleets import daily_max_clean

from floodmark.errors import FloodmarkError
from floodmark.generate import generate_fleet
from floodmark.io.codec import decode_time_series
from floodmark.schema import IP_LABELS, METRICS, RANGE_LABELS, VECTORS, VENDOR_COLUMNS

AMPLIFICATION = ("PT_DNS_RESPONSE", "PT_NTP", "PT_SSDP", "PT_FRAG")
BASE = ("PT_TCP", "PT_UDP", "PT_ICMP", "PT_FRAG", "PT_GENERAL")


# --- reproducibility -----------------------------------------------------------------


@pytest.mark.slow  # starting two spawned workers takes seconds on a busy machine
def test_same_seed_same_bytes_whatever_the_workers(tmp_path: Path):
    one = generate_fleet(tmp_path / "a.parquet", objects=3, days=2, seed=4, workers=1)
    two = generate_fleet(tmp_path / "b.parquet", objects=3, days=2, seed=4, workers=2)
    assert one.path.read_bytes() == two.path.read_bytes()
    assert (one.samples, one.attack_samples) == (two.samples, two.attack_samples)


def test_different_seed_different_fleet(tmp_path: Path):
    a = generate_fleet(tmp_path / "a.parquet", objects=2, days=1, seed=1)
    b = generate_fleet(tmp_path / "b.parquet", objects=2, days=1, seed=2)
    fa, fb = pl.read_parquet(a.path), pl.read_parquet(b.path)
    assert set(fa["prediction_id"]).isdisjoint(fb["prediction_id"])
    assert set(fa["time_series"]).isdisjoint(fb["time_series"])


def test_an_object_does_not_depend_on_the_fleet_size(tmp_path: Path):
    three = pl.read_parquet(generate_fleet(tmp_path / "3.parquet", objects=3, days=1, seed=8).path)
    five = pl.read_parquet(generate_fleet(tmp_path / "5.parquet", objects=5, days=1, seed=8).path)
    assert five.head(3 * 26).equals(three)


# --- layout ----------------------------------------------------------------------------


def test_columns_and_types_are_the_vendor_layout(small_fleet):
    assert small_fleet.frame.schema == pl.Schema(VENDOR_COLUMNS)
    meta = pq.ParquetFile(small_fleet.summary.path).schema_arrow.metadata
    assert orjson.loads(meta[b"floodmark.generate"])["seed"] == 11


def test_every_object_has_13_vectors_by_2_metrics_in_order(small_fleet):
    frame = small_fleet.frame
    assert frame.height == 5 * len(VECTORS) * len(METRICS) == small_fleet.summary.series
    expected = [(v, m) for v in VECTORS for m in METRICS]
    for _, group in frame.group_by("prediction_id", maintain_order=True):
        assert list(zip(group["vector"], group["metric"], strict=True)) == expected
    assert frame.select("prediction_id", "vector", "metric").is_unique().all()


def test_keys_and_window(small_fleet):
    frame = small_fleet.frame
    ids = frame["prediction_id"].unique(maintain_order=True).to_list()
    assert len(ids) == 5 and all(re.fullmatch(r"[0-9a-f]{64}", i) for i in ids)
    per_object = frame.group_by("prediction_id").agg(pl.col("request_id").n_unique())
    assert (per_object["request_id"] == 1).all()
    assert frame["request_id"].str.contains(r"^\d+$").all()
    assert frame["request_id"].n_unique() == 5
    start = 1_767_225_600  # 2026-01-01 UTC, the default
    assert (frame["start_time"] == start).all()
    assert (frame["end_time"] == start + 3 * 86_400).all()


def test_every_row_decodes_inside_the_window(small_fleet):
    summary = small_fleet.summary
    assert sum(d.timestamps.size for d in small_fleet.decoded) == summary.samples
    for row, dec in small_fleet.rows():
        assert dec.timestamps.size > 0
        assert row["start_time"] <= dec.timestamps[0] and dec.timestamps[-1] < row["end_time"]
        assert (dec.timestamps % 300 == 0).all()
        assert (dec.passed >= 0).all() and (dec.blocked >= 0).all()
        assert dec.repaired_duplicates == 0


def test_blocked_side_lists_only_attack_samples(small_fleet):
    for blob in small_fleet.frame["time_series"]:
        doc = orjson.loads(gzip.decompress(base64.b64decode(blob)))
        passed = [s for day in doc["passedDays"].values() for s in day["values"]]
        blocked = [s for day in doc["blockedDays"].values() for s in day["values"]]
        assert all(s["value"] > 0 for s in blocked)
        assert {s["timeStamp"] for s in blocked} <= {s["timeStamp"] for s in passed}
        assert doc["underAttack"] == bool(blocked)
        for key, day in doc["passedDays"].items():
            first = day["values"][0]["timeStamp"]
            assert str(np.datetime64(first, "s").astype("datetime64[D]")) == key


# --- labels ----------------------------------------------------------------------------


def test_labels_are_positive_and_ordered(wide_fleet):
    ip = wide_fleet.frame.select(IP_LABELS).to_numpy()
    assert np.isfinite(ip).all() and (ip > 0).all()
    assert (np.diff(ip, axis=1) >= 0).all()
    assert (ip[:, 3] > ip[:, 0]).mean() > 0.9  # levels really differ, mostly


def test_range_labels_for_some_objects_and_wider(wide_fleet):
    frame = wide_fleet.frame
    has_range = frame.group_by("prediction_id").agg(pl.col("range_ss").is_not_null().all())
    share = has_range["range_ss"].mean()
    assert 0.1 < share < 0.8
    labelled = frame.drop_nulls("range_ss")
    wide = labelled.select(RANGE_LABELS).to_numpy()
    assert (np.diff(wide, axis=1) >= 0).all()
    assert (wide >= labelled.select(IP_LABELS).to_numpy()).all()
    # null for a whole object, never for a part of it
    assert (
        frame.group_by("prediction_id")
        .agg(pl.col("range_rl").null_count())["range_rl"]
        .is_in([0, 26])
        .all()
    )


def test_labels_are_nice_numbers(wide_fleet):
    values = wide_fleet.frame.select(IP_LABELS).to_numpy().ravel()
    mantissa = values / 10.0 ** np.floor(np.log10(values))
    assert np.allclose(mantissa * 10, np.round(mantissa * 10), atol=1e-6)


def test_labels_follow_the_typical_daily_peak(wide_fleet):
    pairs = []
    for row, dec in wide_fleet.rows():
        peaks = daily_max_clean(dec)
        if peaks.size and np.median(peaks) > 1.0:  # above every floor
            pairs.append((np.median(peaks), row["ip_ss"]))
    peak, ss = np.log(np.array(pairs)).T
    assert len(pairs) > 300
    assert np.corrcoef(peak, ss)[0, 1] > 0.8
    ratio = np.exp(np.median(ss - peak))
    assert 1.1 < ratio < 3.0  # ss around 1.5-2 × a typical daily max


# --- traffic ---------------------------------------------------------------------------


def test_scales_span_three_orders_of_magnitude(wide_fleet):
    medians = [np.median(dec.passed) for _, dec in wide_fleet.series("PT_TOTAL", "PPS")]
    assert max(medians) / max(min(medians), 1e-3) >= 1e3


def test_bandwidth_follows_packets_with_plausible_sizes(wide_fleet):
    pps = {r["prediction_id"]: d for r, d in wide_fleet.series("PT_TOTAL", "PPS")}
    for row, bw in wide_fleet.series("PT_TOTAL", "BW"):
        p = pps[row["prediction_id"]]
        both = np.intersect1d(p.timestamps, bw.timestamps)
        pi = np.searchsorted(p.timestamps, both)
        bi = np.searchsorted(bw.timestamps, both)
        busy = p.passed[pi] > 1
        if busy.sum() < 10:
            continue
        size = bw.passed[bi][busy] * 1000 / 8 / p.passed[pi][busy]  # bytes per packet
        assert 40 < np.median(size) < 1600


def test_total_is_the_sum_of_the_base_vectors(small_fleet):
    for metric in METRICS:
        parts = {v: small_fleet.series(v, metric) for v in (*BASE, "PT_TOTAL")}
        for i, (_, total) in enumerate(parts["PT_TOTAL"]):
            common = total.timestamps
            for v in BASE:
                common = np.intersect1d(common, parts[v][i][1].timestamps)
            for side in ("passed", "blocked"):
                summed = sum(_at(parts[v][i][1], side, common) for v in BASE)
                whole = _at(total, side, common)
                assert np.allclose(whole, summed, rtol=1e-9, atol=0.003)
                for v in BASE:
                    assert (whole >= _at(parts[v][i][1], side, common) - 0.001).all()


def _at(dec, side: str, stamps: np.ndarray) -> np.ndarray:
    return getattr(dec, side)[np.searchsorted(dec.timestamps, stamps)]


def test_amplification_vectors_are_mostly_silent(wide_fleet):
    for vector in AMPLIFICATION:
        series = [dec for _, dec in wide_fleet.series(vector, "PPS")]
        zero_share = [np.mean(d.passed + d.blocked == 0) for d in series]
        assert np.median(zero_share) > 0.8, vector
        assert any((d.passed > 0).any() for d in series), vector  # rare blips exist
    tcp = [np.mean(d.passed == 0) for _, d in wide_fleet.series("PT_TCP", "PPS")]
    assert np.median(tcp) < 0.1


def test_attacks_exist_and_show_in_blocked(wide_fleet):
    assert wide_fleet.summary.attack_episodes > 0
    attacked = [dec for _, dec in wide_fleet.series("PT_TOTAL", "PPS") if (dec.blocked > 0).any()]
    assert len(attacked) >= 3
    assert sum(int((d.blocked > 0).sum()) for d in wide_fleet.decoded) == (
        wide_fleet.summary.attack_samples
    )
    # an attack is far above the object's normal traffic
    ratios = [d.blocked.max() / max(np.median(d.passed), 1e-3) for d in attacked]
    assert np.median(ratios) > 3


def test_gaps_exist_but_the_step_holds(wide_fleet):
    full = wide_fleet.days * 86_400 // wide_fleet.step
    counts = np.array([dec.timestamps.size for dec in wide_fleet.decoded])
    assert (counts <= full).all()
    assert (counts < full).mean() > 0.3
    for dec in wide_fleet.decoded:
        assert np.median(np.diff(dec.timestamps)) == wide_fleet.step


def test_dead_periods_and_zeros_exist(wide_fleet):
    def longest_zero_run(x: np.ndarray) -> int:
        edges = np.diff(np.r_[0, (x == 0).astype(int), 0])
        return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max(initial=0))

    runs = [longest_zero_run(d.passed + d.blocked) for _, d in wide_fleet.series("PT_TCP", "PPS")]
    assert max(runs) >= 6  # half an hour or more of silence on a normally busy vector


# --- arguments and atomicity ------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"objects": 0},
        {"objects": 2.5},
        {"days": 0},
        {"step": 0},
        {"step": 7},
        {"workers": 0},
        {"seed": -1},
        {"start": "soon"},
        {"start": 1.5},
    ],
)
def test_bad_arguments_are_named_errors(tmp_path: Path, params):
    with pytest.raises(FloodmarkError):
        generate_fleet(tmp_path / "f.parquet", **{"objects": 1, "days": 1, **params})
    assert not (tmp_path / "f.parquet").exists()


@pytest.mark.parametrize(
    "start",
    ["2025-03-01T06:00", "2025-03-01T07:00+01:00", dt.datetime(2025, 3, 1, 6), 1_740_808_800],
)
def test_start_accepts_dates_iso_strings_and_epochs(tmp_path: Path, start):
    summary = generate_fleet(tmp_path / "f.parquet", objects=1, days=1, step=3600, start=start)
    frame = pl.read_parquet(summary.path)
    assert (frame["start_time"] == 1_740_808_800).all()
    first = decode_time_series(frame["time_series"][0]).timestamps[0]
    assert first >= 1_740_808_800 and (first - 1_740_808_800) % 3600 == 0


def test_a_failed_run_leaves_no_file(tmp_path: Path):
    path = tmp_path / "f.parquet"

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_fleet(path, objects=2, days=1, progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_progress_counts_objects(tmp_path: Path):
    seen = []
    generate_fleet(tmp_path / "f.parquet", objects=3, days=1, progress=lambda *a: seen.append(a))
    assert seen == [(1, 3), (2, 3), (3, 3)]
