"""Time split per series and out-of-fold fitting."""

from __future__ import annotations

import polars as pl
import pytest

from floodmark.backtest.crossfit import assign_folds, cross_fit, label_columns
from floodmark.backtest.split import split_series
from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.schema import LEVELS


def test_split_by_days_is_per_series(make_series):
    day = 288  # 5-minute samples per day
    a = make_series([1] * (3 * day), pid="a")
    b = make_series([1] * (2 * day), pid="b", step_s=600)  # 4 days of 10-minute samples
    out = split_series(pl.concat([a, b]), learn_days=1)
    counts = out.group_by("prediction_id").agg(pl.col("learn").sum()).sort("prediction_id")
    assert counts["learn"].to_list() == [day, day // 2]


def test_split_by_fraction(make_series):
    out = split_series(make_series([1] * 11), learn_fraction=0.5)
    # Samples at 0..50 minutes; the cut is at 25 minutes: 0,5,...,20 learn.
    assert out["learn"].to_list() == [True] * 5 + [False] * 6


@pytest.mark.parametrize("kw", [{"learn_days": 0}, {"learn_fraction": 1.0}, {"learn_days": None}])
def test_bad_split_is_an_error(make_series, kw):
    with pytest.raises(FloodmarkError):
        split_series(make_series([1, 2]), **kw)


def test_assign_folds_keeps_objects_together():
    groups = pl.Series(["a", "a", "b", "c", "c", "c", "d", "e"])
    folds = assign_folds(groups, 3)
    frame = pl.DataFrame({"g": groups, "fold": folds})
    assert frame.group_by("g").agg(pl.col("fold").n_unique())["fold"].max() == 1
    assert set(folds.to_list()) == {0, 1, 2}
    with pytest.raises(InsufficientDataError):
        assign_folds(pl.Series(["a", "a"]), 5)


class Recorder:
    """A fake learned method that remembers what it saw and refuses leakage."""

    fitted: list[set[str]] = []

    def fit(self, features, samples=None):
        self.trained_on_ = set(features["prediction_id"].to_list())
        Recorder.fitted.append(self.trained_on_)
        return self

    def predict(self, features, samples=None):
        assert not label_columns(features.columns), "labels reached predict"
        return features.select(
            "prediction_id",
            "vector",
            "metric",
            method=pl.lit("model"),
            **{lv: pl.lit(float(i)) for i, lv in enumerate(LEVELS)},
            trained_on=pl.lit(",".join(sorted(self.trained_on_))),
        )


def test_cross_fit_never_predicts_an_object_with_a_model_trained_on_it():
    Recorder.fitted = []
    ids = [f"obj{i}" for i in range(7)]
    features = pl.DataFrame(
        {
            "prediction_id": [i for i in ids for _ in range(2)],
            "vector": ["PT_TCP", "PT_UDP"] * len(ids),
            "metric": "PPS",
            "passed_val_mean": 1.0,
            "ip_ss": 1.0,
            "request_id": "r",
        }
    )
    calls = []
    out = cross_fit(features, Recorder, n_splits=3, progress=lambda i, n: calls.append((i, n)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert len(Recorder.fitted) == 3
    # Every series predicted exactly once, by a model that never saw its object.
    assert (
        out.select("prediction_id", "vector")
        .sort("prediction_id", "vector")
        .equals(features.select("prediction_id", "vector").sort("prediction_id", "vector"))
    )
    for pid, trained_on in out.select("prediction_id", "trained_on").iter_rows():
        assert pid not in trained_on.split(",")
    # Each model trained on every object outside its fold.
    for fold, rows in out.group_by("fold"):
        held = set(rows["prediction_id"])
        assert Recorder.fitted[fold[0]] == set(ids) - held
