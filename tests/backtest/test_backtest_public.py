"""A real NAB trace with its labelled window: read → ingest → backtest."""

from __future__ import annotations

import polars as pl

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
