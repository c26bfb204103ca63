"""compute_features against the pandas port of the notebook (tests/features/notebook_port.py)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from feature_compare import mismatches
from feature_fleets import make_fleet, to_port_input
from notebook_port import port_features

from floodmark.features import compute_features, find_super_peaks
from floodmark.generate import generate_fleet
from floodmark.io import read_series_csv, read_vendor_export


def assert_same_as_port(long: pl.DataFrame, **params) -> pl.DataFrame:
    ours = compute_features(long, **params)
    port, port_peaks = port_features(to_port_input(long), **params)
    problems = mismatches(ours, port, long)
    assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems[:30])
    peak_params = {k: v for k, v in params.items() if k != "exclude_super_peaks"}
    peaks = find_super_peaks(long, **peak_params).with_columns(pl.col("timestamp").dt.epoch("s"))
    expected = pl.from_pandas(port_peaks).cast({"timestamp": pl.Int64, "value": pl.Float64})
    assert (
        peaks.to_dicts()
        == expected.sort("prediction_id", "vector", "metric", "timestamp").to_dicts()
    )
    return ours


@pytest.mark.parametrize("seed", [0, 1])
def test_numpy_fleet_matches_port(seed):
    fleet = make_fleet(3, days=9, seed=seed)
    ours = assert_same_as_port(fleet)
    # The comparison is not vacuous: attacks, gaps, dead periods and peaks are there.
    assert ours["blocked_val_mean"].gt(0).any()
    assert ours["missing_tmstmp_percentage"].gt(0).any()
    assert ours["percent_of_largest_dead"].is_not_nan().any()
    assert ours["n_super_peaks"].gt(0).any()
    assert ours["total_val_median_share"].is_not_nan().any()


@pytest.mark.parametrize(
    "params",
    [
        {"exclude_super_peaks": True},
        {"blocked_threshold": 5.0, "super_peak_factor": 1.5},
        {"blocked_threshold": 1e9, "super_peak_factor": 1.2, "exclude_super_peaks": True},
    ],
)
def test_parameters_match_port(params):
    assert_same_as_port(make_fleet(2, days=6, seed=7), **params)


def test_generated_vendor_fleet_matches_port(tmp_path):
    path = tmp_path / "fleet.parquet"
    generate_fleet(path, objects=2, days=8, seed=11)
    result = read_vendor_export(path)
    assert result.quarantine.height == 0
    ours = assert_same_as_port(result.samples)
    assert ours.height == 2 * 13 * 2
    ours_excl = assert_same_as_port(result.samples, exclude_super_peaks=True)
    assert ours_excl.height == ours.height


def _trace_files(root):
    return sorted(p for p in root.rglob("*.csv") if not p.name.startswith("times_"))


def test_public_traces_match_port(shared_data):
    files = _trace_files(shared_data)
    assert len(files) >= 10
    frames = []
    for i, path in enumerate(files):
        result = read_series_csv(path, prediction_id=f"trace{i:02d}", vector="PT_TCP")
        assert result.samples.height > 0, path
        frames.append(result.samples)
    long = pl.concat(frames)
    ours = assert_same_as_port(long)
    assert ours.height == len(files)
    # Hourly and daily traces sit beside 1- and 5-minute ones: the step is the series' own.
    assert ours["total_time"].min() > 4


def test_one_trace_with_attack_labels_as_blocked(shared_data):
    """A real series with a fake mitigation: NAB's anomaly windows marked as blocked."""
    import json

    name = "ec2_network_in_5abac7.csv"
    path = shared_data / "nab-aws-network" / name
    samples = read_series_csv(path, prediction_id="nab", vector="PT_TOTAL").samples
    windows = json.loads((path.parent / "combined_windows.json").read_text())
    blocked = pl.lit(False)
    for start, stop in windows[f"realAWSCloudwatch/{name}"]:
        t0, t1 = (pl.lit(s).str.to_datetime(time_zone="UTC", time_unit="us") for s in (start, stop))
        blocked = blocked | pl.col("timestamp").is_between(t0, t1)
    samples = samples.with_columns(
        pl.when(blocked).then(pl.col("passed") * 0.5).otherwise(0.0).alias("blocked")
    )
    assert samples["blocked"].gt(0).sum() > 10
    assert_same_as_port(samples)
    assert_same_as_port(samples, exclude_super_peaks=True, super_peak_factor=1.1)


def test_huge_values_match_port():
    fleet = make_fleet(1, days=5, seed=3).with_columns(
        pl.col("passed") * 1e9, pl.col("blocked") * 1e9
    )
    assert fleet["passed"].max() > 1e12
    assert_same_as_port(fleet)


def test_tolerances_catch_a_real_difference():
    """The comparison fails when one feature is off by more than its tolerance."""
    fleet = make_fleet(1, days=5, seed=4, vectors=("PT_TOTAL",), metrics=("PPS",))
    ours = compute_features(fleet)
    port, _ = port_features(to_port_input(fleet))
    assert not mismatches(ours, port, fleet)
    nudged = ours.with_columns(pl.col("passed_val_skewness") * (1 + 1e-5))
    assert any("passed_val_skewness" in p for p in mismatches(nudged, port, fleet))
    nudged = ours.with_columns(pl.col("daily_max_q90") * (1 + 1e-8))
    assert any("daily_max_q90" in p for p in mismatches(nudged, port, fleet))
    nan = ours.with_columns(pl.lit(np.nan).alias("total_time"))
    assert any("total_time" in p for p in mismatches(nan, port, fleet))
