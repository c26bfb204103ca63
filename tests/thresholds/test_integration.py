"""Every method on a small generated fleet: vendor export → store → features → thresholds."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from floodmark.features import compute_features
from floodmark.generate import generate_fleet
from floodmark.io.vendor import iter_vendor_export
from floodmark.schema import LEVELS
from floodmark.store import ingest, open_store
from floodmark.thresholds import (
    METHODS,
    THRESHOLD_SCHEMA,
    GBTModel,
    fallback_summary,
    make_method,
    recommend_thresholds,
)
from floodmark.thresholds.model import join_labels

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    generate_fleet(root / "fleet.parquet", objects=20, days=7, seed=11)
    ingest(root / "store", iter_vendor_export(root / "fleet.parquet"))
    store = open_store(root / "store")
    features = join_labels(compute_features(store.read_series()), store.catalog())
    return store, features


@pytest.mark.parametrize("name", [m for m in METHODS if m != "model"])
def test_methods_on_a_generated_fleet(fleet, name):
    store, features = fleet
    table = recommend_thresholds(features, make_method(name), store=store, chunk_rows=300_000)
    assert table.schema == pl.Schema(THRESHOLD_SCHEMA) and table.height == features.height
    values = table.select(LEVELS).to_numpy()
    assert np.isfinite(values).all() and (values > 0).all()
    assert (np.diff(values, axis=1) >= 0).all()
    summary = fallback_summary(table)
    assert summary["series"].sum() == table["fallback"].is_not_null().sum()
    if name == "evt":
        # most series have a usable tail; the rest are sparse vectors that say why not
        assert table["fallback"].null_count() > table.height / 2
        kinds = set(summary["fallback"].to_list())
        assert kinds <= {
            "rule-daily: quiet",
            "rule-daily: all zeros",
            "rule-daily: degenerate tail fit",
            "rule-daily: short",
            "floors: no baseline traffic",
        }, kinds
        fitted = table.filter(pl.col("fallback").is_null())
        assert fitted["expected_fa_per_day_ss"].max() <= 1 / 7 + 1e-12


def test_model_on_generated_labels_beats_the_median_baseline(fleet):
    _, features = fleet
    model = GBTModel(folds=4, n_estimators=150).fit(features)
    scores = model.cv_scores_
    assert (scores["mdape"] < scores["baseline_mdape"]).all(), scores
    assert (scores["within_25pct"] > scores["baseline_within_25pct"]).all(), scores
