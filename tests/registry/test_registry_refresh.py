"""The weekly refresh: only changed series are recomputed; a second run changes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

import floodmark as fm
from floodmark.cli import app
from floodmark.io import write_long_table
from floodmark.registry import (
    approve_set,
    audit_log,
    features_path,
    list_sets,
    open_registry,
    refresh,
)

KEYS = ["prediction_id", "vector", "metric"]
runner = CliRunner()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> tuple[Path, Path, str]:
    """A small export, and a later one changing the last day of one series."""
    folder = tmp_path_factory.mktemp("fleet")
    export = folder / "week1.parquet"
    fm.generate_fleet(export, objects=3, days=6, step=900, seed=3)
    fm.ingest_files(folder / "scratch", [export])
    scratch = fm.open_store(folder / "scratch")
    target = scratch.catalog()["prediction_id"].min()
    series = scratch.read_series(target, "PT_TCP", "PPS")
    last_day = series["timestamp"].max() - pl.duration(days=1)
    later = series.filter(pl.col("timestamp") > last_day).with_columns(pl.col("passed") * 50)
    week2 = write_long_table(later, folder / "week2.parquet")
    return export, week2, target


def _full_features(store_dir) -> pl.DataFrame:
    return fm.compute_features(fm.open_store(store_dir).scan().collect()).sort(KEYS)


def test_refresh_publishes_diffs_and_is_idempotent(db_url, tmp_path, fleet):
    week1, week2, target = fleet
    store = tmp_path / "store"
    with open_registry(db_url) as registry:
        first = refresh(registry, store, [week1], by="ops")
        series = first.series
        assert first.published.created and first.recomputed == series == 78
        assert first.approved is None and first.needs_review  # every series is new
        assert first.diff["change"].unique().to_list() == ["new"]
        features_file = features_path(store)
        saved = features_file.stat().st_mtime_ns
        rows = audit_log(registry).height

        again = refresh(registry, store, [week1], by="ops")
        assert not again.published.created
        assert again.published.set_id == first.published.set_id
        assert again.recomputed == 0
        assert audit_log(registry).height == rows
        assert list_sets(registry).height == 1
        assert features_file.stat().st_mtime_ns == saved

        approve_set(registry, first.published.set_id, by="expert")
        calm = refresh(registry, store, [week1], by="ops")
        assert calm.approved == first.published.set_id and not calm.needs_review

        changed = refresh(registry, store, [week2], by="ops")
        assert changed.published.created and changed.approved == first.published.set_id
        # Only the rewritten partition's series (PT_TCP/PPS of the 3 objects) are recomputed.
        assert changed.recomputed == 3
        flagged = changed.diff.filter("needs_review")
        assert flagged.select(KEYS).unique().rows() == [(target, "PT_TCP", "PPS")]
        assert list_sets(registry)["state"].to_list() == ["approved", "draft"]

    kept = pl.read_parquet(features_file).drop("store_fingerprint").sort(KEYS)
    assert_frame_equal(kept, _full_features(store), check_column_order=False)


def test_the_refresh_command_exits_3_until_the_set_is_approved(tmp_path, fleet):
    week1, _, _ = fleet
    db, store = str(tmp_path / "r.db"), str(tmp_path / "store")
    args = ["refresh", str(week1), "--store", store, "--db", db, "--method", "rule-daily"]
    first = runner.invoke(app, args)
    assert first.exit_code == 3, first.output
    assert "features: 78 of 78 series recomputed" in first.output
    assert "published set 1 (78 series, draft)" in first.output
    assert "312 of 312 values need review: 0 moved beyond the guard, 78 new series" in first.output
    assert runner.invoke(app, ["approve", "1", "--db", db, "--by", "expert"]).exit_code == 0
    again = runner.invoke(app, [*args, "--out", str(tmp_path / "diff.parquet")])
    assert again.exit_code == 0, again.output
    assert "features: 0 of 78 series recomputed" in again.output
    assert "set 1 already holds these thresholds: nothing new published" in again.output
    assert "diff against the approved set 1" in again.output
    assert pl.read_parquet(tmp_path / "diff.parquet")["change"].unique().to_list() == ["same"]
    model_without_dir = runner.invoke(app, [*args[:-2], "--method", "model"])
    assert model_without_dir.exit_code == 2


def test_refresh_with_a_trained_model(tmp_path, fleet):
    week1, _, _ = fleet
    store = tmp_path / "store"
    with open_registry(tmp_path / "r.db") as registry:
        refresh(registry, store, [week1], by="ops")
        labels = fm.open_store(store).catalog().select(*KEYS, "ip_ss", "ip_sc", "ip_nw", "ip_rl")
        features = pl.read_parquet(features_path(store)).drop("store_fingerprint")
        model = fm.GBTModel(folds=2, n_estimators=10, min_child_samples=5)
        model.fit(features.join(labels, on=KEYS)).save(tmp_path / "model")
        result = refresh(registry, store, [week1], model=tmp_path / "model", by="ops")
        sets = list_sets(registry)
    assert result.published.created and result.recomputed == 0
    assert sets["method"].to_list() == ["rule-max", "model"]


def test_refresh_of_inputs_that_hold_no_valid_series_publishes_nothing(tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_text(
        "prediction_id,vector,metric,timestamp,passed,blocked\na,PT_BOGUS,PPS,0,1,0\n"
    )
    with open_registry(tmp_path / "r.db") as registry:
        with pytest.raises(fm.InsufficientDataError, match="store holds no series"):
            refresh(registry, tmp_path / "store", [broken], by="ops")
        assert list_sets(registry).height == 0


def test_an_unreadable_features_file_is_computed_again(tmp_path, fleet):
    week1, _, _ = fleet
    store = tmp_path / "store"
    with open_registry(tmp_path / "r.db") as registry:
        first = refresh(registry, store, [week1], by="ops")
        features_path(store).write_bytes(b"not parquet")
        again = refresh(registry, store, [week1], by="ops")
    assert again.recomputed == 78 and again.published.set_id == first.published.set_id
    assert pl.read_parquet(features_path(store)).height == 78


def test_features_read_in_small_batches_are_the_same(tmp_path, fleet, monkeypatch):
    refresh_module = sys.modules["floodmark.registry.refresh"]  # the name is the function's
    monkeypatch.setattr(refresh_module, "CHUNK_ROWS", 1_000)  # two series of 576 samples
    week1, _, _ = fleet
    store = tmp_path / "store"
    with open_registry(tmp_path / "r.db") as registry:
        refresh(registry, store, [week1], by="ops")
    kept = pl.read_parquet(features_path(store)).drop("store_fingerprint").sort(KEYS)
    assert_frame_equal(kept, _full_features(store), check_column_order=False)
