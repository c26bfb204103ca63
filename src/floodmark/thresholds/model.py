"""``model``: gradient-boosted trees learned from expert labels (LightGBM).

Inputs are the numeric feature columns plus ``vector`` and ``metric`` as categoricals
(fixed codes from ``floodmark.schema``, so a code never depends on the data). Targets
are on the log1p scale. Order is built in rather than repaired: one booster predicts
``log1p(ss)`` and three predict the non-negative increments ``log1p(sc) - log1p(ss)``,
``log1p(nw) - log1p(sc)``, ``log1p(rl) - log1p(nw)`` (negative predictions are clipped
to 0), so ``ss <= sc <= nw <= rl`` always holds. The L1 objective on that scale fits the
median ratio, which is what the median absolute percentage error rewards.

Quality is measured by cross-validation grouped by ``prediction_id`` (no object in both
train and test), against a trivial baseline: the median label of the training folds per
vector/metric. Floors are learned from the labels (a low quantile per vector/metric).
Saved as LightGBM text models plus JSON metadata (``floodmark.thresholds.modelfile``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.model_selection import GroupKFold

from floodmark.errors import FloodmarkError, InsufficientDataError, SchemaError
from floodmark.schema import IP_LABELS, LABEL_SCHEMA, LEVELS, METRICS, RANGE_LABELS, VECTORS
from floodmark.thresholds.base import KEYS, ThresholdMethod, assemble, fmt
from floodmark.thresholds.floors import Floors, apply_floors
from floodmark.thresholds.scoring import mdape, within

TARGETS = {"ip": IP_LABELS, "range": RANGE_LABELS}
CATEGORICALS = ("vector", "metric")
LABEL_PREFIXES = ("ip_", "range_")


class GBTModel(ThresholdMethod):
    """Four LightGBM boosters learned from expert thresholds.

    Parameters
    ----------
    target: ``"ip"`` learns ``ip_ss..ip_rl``; ``"range"`` learns ``range_ss..range_rl``.
    folds: grouped cross-validation folds (by ``prediction_id``); 0 or 1 skips CV.
    seed: seeds the fold split and LightGBM; training is single-threaded and deterministic.
    n_estimators, learning_rate, num_leaves, min_child_samples, objective: LightGBM settings.
    feature_columns: the model inputs; default every numeric column of the training frame
        except the keys and label columns (``ip_*``, ``range_*``).
    floor_quantile: floors are this quantile of positive labels per vector/metric.
    floors: a ``Floors`` table to use instead of the learned one.

    Example::

        model = GBTModel(folds=5).fit(features_with_labels)
        model.cv_scores_          # per level: mdape, within_25pct, and the baseline's
        model.save("model/"); GBTModel.load("model/").predict(features)
    """

    name = "model"
    parameters = (
        "target",
        "folds",
        "seed",
        "n_estimators",
        "learning_rate",
        "num_leaves",
        "min_child_samples",
        "objective",
        "feature_columns",
        "floor_quantile",
        "floors",
    )
    learns_across_series = True

    def __init__(
        self,
        target: str = "ip",
        folds: int = 5,
        seed: int = 0,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        objective: str = "l1",
        feature_columns: Sequence[str] | None = None,
        floor_quantile: float = 0.02,
        floors: Floors | None = None,
    ) -> None:
        self.target = target
        self.folds = folds
        self.seed = seed
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.objective = objective
        self.feature_columns = feature_columns
        self.floor_quantile = floor_quantile
        self.floors = floors

    def _check_params(self) -> None:
        if self.target not in TARGETS:
            raise FloodmarkError(
                f"model: target must be one of {sorted(TARGETS)}, got {self.target!r}"
            )
        if self.folds < 0 or self.folds == 1:
            raise FloodmarkError(f"model: folds must be 0 (no CV) or at least 2, got {self.folds}")

    def label_columns(self) -> tuple[str, ...]:
        return TARGETS.get(self.target, IP_LABELS)

    def lgb_params(self) -> dict[str, object]:
        """The LightGBM parameters, fixed for reproducibility (one thread, deterministic)."""
        return {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "min_data_per_group": self.min_child_samples,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbose": -1,
        }

    # -- fit ------------------------------------------------------------------------
    def _fit(self, features: pl.DataFrame, samples: pl.DataFrame | None) -> None:
        labels = self.label_columns()
        missing = [c for c in labels if c not in features.columns]
        if missing:
            raise SchemaError(
                f"model: features lack the label columns {missing} (join the catalog)"
            )
        columns = list(self.feature_columns or default_feature_columns(features))
        if not columns:
            raise SchemaError("model: no numeric feature columns to learn from")
        y = features.select(
            pl.col(c).cast(pl.Float64, strict=False).fill_null(np.nan) for c in labels
        ).to_numpy()
        usable = np.isfinite(y).all(axis=1) & (y >= 0).all(axis=1)
        train = features.filter(pl.Series(usable))
        y = np.maximum.accumulate(y[usable], axis=1)  # experts' rare unordered rows, made ordered
        n_objects = train.get_column("prediction_id").n_unique()
        need = max(2 * max(self.folds, 1), 10)
        if train.height < need or (self.folds and n_objects < self.folds):
            raise InsufficientDataError(
                f"model: {train.height} labelled series from {n_objects} objects; need at least "
                f"{need} series and {self.folds} objects "
                f"({'/'.join(labels)} non-null, non-negative)"
            )
        x = design_matrix(train, columns)
        groups = train.get_column("prediction_id").to_numpy()

        self.feature_columns_ = tuple(columns)
        self.n_train_ = train.height
        self.n_objects_ = n_objects
        self.fingerprint_ = fingerprint(train.select(KEYS), columns, x, y)
        self.cv_predictions_, self.cv_scores_ = self._cross_validate(train, x, y, groups)
        self.boosters_ = self._train(x, y)
        self.floors_ = self._learn_floors(train, y) if self.floors is None else self.floors

    def _train(self, x: np.ndarray, y: np.ndarray) -> tuple[lgb.Booster, ...]:
        log = np.log1p(y)
        targets = [log[:, 0], *(np.diff(log, axis=1).T)]
        names = [*self.feature_columns_, *CATEGORICALS]
        cat_idx = [len(names) - 2, len(names) - 1]
        boosters = []
        for target in targets:
            data = lgb.Dataset(
                x,
                label=target,
                feature_name=names,
                categorical_feature=cat_idx,
                free_raw_data=False,
            )
            boosters.append(lgb.train(self.lgb_params(), data, num_boost_round=self.n_estimators))
        return tuple(boosters)

    def _learn_floors(self, train: pl.DataFrame, y: np.ndarray) -> Floors:
        frame = train.select("vector", "metric").with_columns(
            pl.Series(lv, y[:, j]) for j, lv in enumerate(LEVELS)
        )
        return Floors.from_labels(frame, columns=LEVELS, quantile=self.floor_quantile)

    def _cross_validate(
        self, train: pl.DataFrame, x: np.ndarray, y: np.ndarray, groups: np.ndarray
    ) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
        if not self.folds:
            return None, None
        splitter = GroupKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)
        pred = np.full_like(y, np.nan)
        base = np.full_like(y, np.nan)
        fold = np.full(len(y), -1, dtype=np.int64)
        vm = train.select("vector", "metric")
        for k, (tr, te) in enumerate(splitter.split(x, groups=groups)):
            fold[te] = k
            # the fold's own model and floors, exactly as the final fit builds them
            boosters = self._train(x[tr], y[tr])
            floors = self._learn_floors(train[tr], y[tr]) if self.floors is None else self.floors
            pred[te] = apply_floors(raw_predict(boosters, x[te]), floors.for_series(vm[te]))[0]
            base[te] = median_baseline(vm[tr], y[tr], vm[te])
        oof = train.select(KEYS).with_columns(
            pl.Series("fold", fold),
            *(pl.Series(f"pred_{lv}", pred[:, j]) for j, lv in enumerate(LEVELS)),
            *(pl.Series(f"label_{lv}", y[:, j]) for j, lv in enumerate(LEVELS)),
        )
        scores = pl.DataFrame(
            {
                "level": list(LEVELS),
                "n": [int(np.sum(y[:, j] > 0)) for j in range(len(LEVELS))],
                "mdape": [mdape(pred[:, j], y[:, j]) for j in range(len(LEVELS))],
                "within_25pct": [within(pred[:, j], y[:, j]) for j in range(len(LEVELS))],
                "baseline_mdape": [mdape(base[:, j], y[:, j]) for j in range(len(LEVELS))],
                "baseline_within_25pct": [within(base[:, j], y[:, j]) for j in range(len(LEVELS))],
            }
        )
        return oof, scores

    # -- predict --------------------------------------------------------------------
    def _predict(self, features: pl.DataFrame) -> pl.DataFrame:
        missing = [c for c in self.feature_columns_ if c not in features.columns]
        if missing:
            raise SchemaError(f"model: features lack columns the model was trained on: {missing}")
        raw = raw_predict(self.boosters_, design_matrix(features, self.feature_columns_))
        text = (
            f"gbt on {len(self.feature_columns_)} features + vector/metric, "
            f"{self.n_train_} {self.target}_* labels"
        )
        if self.cv_scores_ is not None:
            text += "; CV MdAPE " + "/".join(fmt(v) for v in self.cv_scores_.get_column("mdape"))
        return assemble(
            features.select(KEYS),
            self.name,
            raw,
            floors=self.floors_,
            basis=[text] * features.height,
            fallback=[None] * features.height,
        )

    # -- persistence ----------------------------------------------------------------
    def save(self, directory) -> None:
        """Write LightGBM text models and ``metadata.json`` into ``directory`` (no pickle)."""
        from floodmark.thresholds.modelfile import save_model

        save_model(self, directory)

    @classmethod
    def load(cls, directory) -> GBTModel:
        """Load a model written by ``save``; checks the format and every file's sha256."""
        from floodmark.thresholds.modelfile import load_model

        return load_model(directory)


def default_feature_columns(features: pl.DataFrame) -> list[str]:
    """Numeric columns except the keys and labels, in frame order."""
    return [
        name
        for name, dtype in features.schema.items()
        if dtype.is_numeric() and name not in KEYS and not name.startswith(LABEL_PREFIXES)
    ]


def design_matrix(features: pl.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Feature columns (nulls as NaN; LightGBM routes them) then vector and metric codes."""
    num = features.select(
        pl.col(c).cast(pl.Float64, strict=False).fill_null(np.nan) for c in columns
    ).to_numpy()
    codes = [
        _codes(features.get_column("vector"), VECTORS),
        _codes(features.get_column("metric"), METRICS),
    ]
    return np.column_stack([num, *codes]).astype(np.float64)


def _codes(values: pl.Series, known: Sequence[str]) -> np.ndarray:
    lookup = {name: float(i) for i, name in enumerate(known)}
    return np.array([lookup.get(v, np.nan) for v in values.to_list()], dtype=np.float64)


def join_labels(features: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """Features with the catalog's labels (ip_*, range_*) joined by series key.

    Label columns already in the features table are replaced by the catalog's.
    """
    labels = [c for c in LABEL_SCHEMA if c in catalog.columns and c != "request_id"]
    features = features.drop([c for c in labels if c in features.columns])
    features = features.with_columns(
        pl.col(k).cast(pl.String) for k in KEYS if k in features.columns
    )
    right = catalog.select(*(pl.col(k).cast(pl.String) for k in KEYS), *labels).unique(
        KEYS, keep="last"
    )
    missing = [k for k in KEYS if k not in features.columns]
    if missing:
        raise SchemaError(f"features lack key columns {missing}")
    return features.join(right, on=KEYS, how="left", maintain_order="left")


def train_model(
    features: pl.DataFrame, catalog: pl.DataFrame, out: str | Path, **params: object
) -> GBTModel:
    """Fit ``GBTModel(**params)`` on ``features`` joined with the catalog's expert
    labels (``join_labels``) and save it in the directory ``out``."""
    model = GBTModel(**params).fit(join_labels(features, catalog))
    model.save(out)
    return model


def raw_predict(boosters: Sequence[lgb.Booster], x: np.ndarray) -> np.ndarray:
    """Undo the target transform: log1p(ss) plus clipped non-negative increments."""
    parts = [b.predict(x) for b in boosters]
    log = np.cumsum(np.column_stack([parts[0], *(np.maximum(p, 0.0) for p in parts[1:])]), axis=1)
    return np.maximum(np.expm1(log), 0.0)


def median_baseline(train_vm: pl.DataFrame, y: np.ndarray, test_vm: pl.DataFrame) -> np.ndarray:
    """The trivial model: each level's median label per vector/metric (overall median if unseen)."""
    frame = train_vm.with_columns(pl.Series(lv, y[:, j]) for j, lv in enumerate(LEVELS))
    medians = frame.group_by("vector", "metric").agg(pl.col(lv).median() for lv in LEVELS)
    joined = test_vm.join(medians, on=["vector", "metric"], how="left", maintain_order="left")
    out = joined.select(LEVELS).to_numpy().astype(np.float64)
    overall = np.median(y, axis=0)
    return np.where(np.isnan(out), overall[None, :], out)


def fingerprint(keys: pl.DataFrame, columns: Sequence[str], x: np.ndarray, y: np.ndarray) -> str:
    """sha256 of the training data: series keys, feature names, inputs and labels."""
    h = hashlib.sha256()
    h.update("\x1f".join(columns).encode())
    for row in keys.iter_rows():
        h.update("\x1f".join(row).encode() + b"\n")
    h.update(np.ascontiguousarray(x, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(y, dtype="<f8").tobytes())
    return h.hexdigest()
