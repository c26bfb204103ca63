"""model: learns the experts, CV is grouped by object, saves and loads without pickle."""

from __future__ import annotations

import numpy as np
import orjson
import polars as pl
import pytest
from threshold_data import labelled_features

from floodmark.errors import FloodmarkError, InsufficientDataError, SchemaError
from floodmark.schema import LEVELS
from floodmark.thresholds import Floors, GBTModel
from floodmark.thresholds.scoring import mdape, within

FAST = {"n_estimators": 60, "min_child_samples": 5}
LABELS = [f"ip_{lv}" for lv in LEVELS]


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return labelled_features(n_objects=60, seed=1)


@pytest.fixture(scope="module")
def fitted(data) -> GBTModel:
    return GBTModel(folds=4, seed=3, **FAST).fit(data)


def test_scoring_definitions():
    truth = np.array([10.0, 10.0, 10.0, 0.0, np.nan])
    pred = np.array([11.0, 7.0, 10.0, 5.0, 1.0])
    assert mdape(pred, truth) == pytest.approx(0.1)  # |1|, |3|, 0 over 10; zero label left out
    assert within(pred, truth) == pytest.approx(2 / 3)
    assert np.isnan(mdape(pred[3:], truth[3:]))


def test_model_beats_the_median_baseline_in_grouped_cv(fitted):
    scores = fitted.cv_scores_
    assert scores["level"].to_list() == list(LEVELS)
    assert (scores["mdape"] < 0.5 * scores["baseline_mdape"]).all(), scores
    assert (scores["within_25pct"] > scores["baseline_within_25pct"] + 0.3).all(), scores
    # the table is the out-of-fold predictions, re-scored
    oof = fitted.cv_predictions_
    for lv, value in zip(LEVELS, scores["mdape"], strict=True):
        assert mdape(oof[f"pred_{lv}"].to_numpy(), oof[f"label_{lv}"].to_numpy()) == pytest.approx(
            value
        )


def test_cv_is_grouped_by_object(fitted, data):
    oof = fitted.cv_predictions_
    assert oof.height == data.height
    folds_per_object = oof.group_by("prediction_id").agg(pl.col("fold").n_unique())
    assert (folds_per_object["fold"] == 1).all()
    assert oof["fold"].n_unique() == 4 and oof["fold"].min() == 0


def test_predictions_are_ordered_even_when_experts_are_not(data):
    # swap ss and rl for a third of the rows: the model still returns ss <= ... <= rl
    shuffled = data.with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0)
        .then(pl.col("ip_rl"))
        .otherwise(pl.col("ip_ss"))
        .alias("ip_ss")
    )
    table = GBTModel(folds=0, **FAST).fit(shuffled).predict(shuffled)
    values = table.select(LEVELS).to_numpy()
    assert (np.diff(values, axis=1) >= 0).all() and (values > 0).all()


def test_floors_are_learned_from_labels(fitted, data):
    floors = fitted.floors_
    ss = data.filter((pl.col("vector") == "PT_SYN") & (pl.col("metric") == "BW"))[
        "ip_ss"
    ].to_numpy()
    assert floors.lookup("PT_SYN", "BW")[0] == pytest.approx(np.quantile(ss, 0.02))
    given = Floors.default()
    assert GBTModel(folds=0, floors=given, **FAST).fit(data).floors_ is given


def test_feature_columns_exclude_keys_and_labels(fitted):
    cols = fitted.feature_columns_
    assert "daily_max_q90" in cols and "noise" in cols
    assert not any(c.startswith(("ip_", "range_")) for c in cols)
    assert not {"prediction_id", "vector", "metric"} & set(cols)


def test_save_and_load_round_trip_without_pickle(fitted, data, tmp_path):
    fitted.save(tmp_path / "model")
    files = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert files == [
        "booster_nw.txt",
        "booster_rl.txt",
        "booster_sc.txt",
        "booster_ss.txt",
        "metadata.json",
    ]
    for p in (tmp_path / "model").iterdir():
        assert not p.read_bytes().startswith(b"\x80"), f"{p.name} looks like a pickle"
    loaded = GBTModel.load(tmp_path / "model")
    assert loaded.predict(data).equals(fitted.predict(data))
    assert loaded.get_params() == fitted.get_params()
    assert loaded.floors_ == fitted.floors_
    meta = orjson.loads((tmp_path / "model" / "metadata.json").read_bytes())
    assert (
        meta["training_fingerprint_sha256"] == fitted.fingerprint_
        and len(fitted.fingerprint_) == 64
    )
    assert meta["libraries"]["lightgbm"] and meta["feature_columns"] == list(
        fitted.feature_columns_
    )
    assert [row["level"] for row in meta["cv"]] == list(LEVELS)
    assert meta["lightgbm_params"]["deterministic"] is True


def test_fingerprint_changes_with_the_training_data(fitted, data):
    other = data.with_columns(pl.col("ip_ss") * 1.01)
    assert GBTModel(folds=0, seed=3, **FAST).fit(data).fingerprint_ == fitted.fingerprint_
    assert GBTModel(folds=0, seed=3, **FAST).fit(other).fingerprint_ != fitted.fingerprint_


def test_tampered_or_incomplete_model_directories_are_named_errors(fitted, tmp_path):
    with pytest.raises(FloodmarkError, match="metadata.json is missing"):
        GBTModel.load(tmp_path)
    fitted.save(tmp_path / "m")
    booster = tmp_path / "m" / "booster_sc.txt"
    booster.write_text(booster.read_text().replace("Tree=0", "Tree=0 "))
    with pytest.raises(FloodmarkError, match="sha256") as info:
        GBTModel.load(tmp_path / "m")
    assert info.value.file == str(booster)


def test_range_labels_are_a_separate_target(data):
    ranged = data.rename({c: c.replace("ip_", "range_") for c in LABELS}).with_columns(
        (pl.col(c.replace("ip_", "range_")) * 10).alias(c.replace("ip_", "range_")) for c in LABELS
    )
    model = GBTModel(target="range", folds=0, **FAST).fit(ranged)
    assert (
        model.predict(ranged)["ss"].median()
        > 5 * GBTModel(folds=0, **FAST).fit(data).predict(data)["ss"].median()
    )
    with pytest.raises(SchemaError, match="ip_ss"):
        GBTModel(folds=0, **FAST).fit(ranged)


def test_too_few_labels_and_missing_features_are_named_errors(data):
    unlabelled = data.with_columns(pl.lit(None, pl.Float64).alias("ip_ss"))
    with pytest.raises(InsufficientDataError, match="labelled series"):
        GBTModel(**FAST).fit(unlabelled)
    with pytest.raises(InsufficientDataError, match="objects"):
        GBTModel(folds=5, **FAST).fit(
            data.filter(
                pl.col("prediction_id").is_in(data["prediction_id"].unique().sort()[:3].to_list())
            )
        )
    model = GBTModel(folds=0, **FAST).fit(data)
    with pytest.raises(SchemaError, match="noise"):
        model.predict(data.drop("noise"))
    with pytest.raises(FloodmarkError, match="folds"):
        GBTModel(folds=1).fit(data)


def test_missing_feature_values_and_unknown_vectors_still_predict(data):
    model = GBTModel(folds=0, **FAST).fit(data)
    odd = data.head(2).with_columns(
        pl.lit(None, pl.Float64).alias("daily_max_q90"), pl.lit("PT_NEW").alias("vector")
    )
    values = model.predict(odd).select(LEVELS).to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()
