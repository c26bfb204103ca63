"""A real NAB trace with its labelled window: read → ingest → backtest."""

from __future__ import annotations

import polars as pl
import pytest

from floodmark.backtest import read_nab_windows, run_backtest
from floodmark.io import read_series_csv
from floodmark.store import ingest

SERIES = "ec2_network_in_257a54"


def test_nab_window_is_caught_at_its_labelled_point(tmp_path, shared_data):
    nab = shared_data / "nab-aws-network"
    ingest(tmp_path / "store", read_series_csv(nab / f"{SERIES}.csv"))
    windows = read_nab_windows(nab / "combined_windows.json")
    result = run_backtest(tmp_path / "store", ["rule-max"], learn_fraction=0.3, windows=windows)
    rows = {r["level"]: r for r in result.table.to_dicts()}
    # One window (2014-04-14 23:59 → 04-16 09:29) lies in the test part.
    assert [rows[lv]["attack_episodes"] for lv in ("ss", "rl")] == [1, 1]
    assert rows["rl"]["detected"] == 1
    # NAB's labelled point (2014-04-15 16:44) is 201 five-minute samples after the
    # window opens: the most tolerant level fires exactly there.
    assert rows["rl"]["median_delay_samples"] == 201
    assert result.meta.n_windows == windows.height
    assert result.per_series["prediction_id"].unique().to_list() == [SERIES]
    assert result.per_series.filter(pl.col("level") == "rl")["false_alarms"].item() == 0


def test_cesnet_volumes_rolled_week_by_week(tmp_path, cesnet_ip103):
    """CESNET's flows, packets and bytes as one object, re-learned every week: 37 steps of
    7 days after the first 21, every hourly test sample scored once."""
    for read in cesnet_ip103:
        ingest(tmp_path / "store", read)
    result = run_backtest(tmp_path / "store", ["rule-max"], learn_days=21, refit_every=7)
    assert result.meta.n_series_tested == 3 and result.meta.n_objects_tested == 1
    assert result.meta.n_steps == 37
    steps = result.steps
    assert steps is not None
    starts = steps["test_start"].unique().sort().to_list()
    # the first test week starts after three learning weeks, then one a week, on Mondays
    assert starts[0] == "2023-10-30T00:00:00+00:00" and len(starts) == 37
    assert starts[-1] == "2024-07-08T00:00:00+00:00"
    # 2023-10-30 to 2024-07-14 21:00 and its hour; the steps' test weeks add up to it
    assert result.meta.object_days == pytest.approx(258 + 22 / 24)
    per_step = steps.group_by("step").agg(pl.col("object_days").first())["object_days"]
    assert per_step.sum() == pytest.approx(result.meta.object_days)
