"""``floodmark train`` and ``floodmark recommend`` on a small store with expert labels."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import orjson
import polars as pl
import pytest
from typer.testing import CliRunner

from floodmark.cli import app
from floodmark.errors import FloodmarkError, SchemaError
from floodmark.features import compute_features
from floodmark.io.read_result import ReadResult, empty_series_meta
from floodmark.schema import LEVELS, LONG_SCHEMA
from floodmark.store import ingest, open_store
from floodmark.thresholds import EVT, THRESHOLD_SCHEMA, RuleDaily, RuleMax

runner = CliRunner()
KEYS = ["prediction_id", "vector", "metric"]
VECTORS = ("PT_SYN", "PT_UDP")
DAYS, STEP = 10, 300


def _fleet(n_objects: int = 12, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Diurnal traffic, an attack here and there, labels ≈ a multiple of the daily peak."""
    rng = np.random.default_rng(seed)
    n = DAYS * 86_400 // STEP
    t0 = np.datetime64(datetime(2024, 5, 1, tzinfo=UTC).replace(tzinfo=None), "us")
    ts = t0 + np.arange(n) * np.timedelta64(STEP, "s")
    samples, meta = [], []
    for o in range(n_objects):
        for v in VECTORS:
            for m in ("PPS", "BW"):
                level = rng.lognormal(2, 1)
                x = (
                    level
                    * (1.2 + np.sin(2 * np.pi * np.arange(n) * STEP / 86_400))
                    * rng.lognormal(0, 0.2, n)
                )
                blocked = np.zeros(n)
                if rng.random() < 0.5:
                    at = int(rng.integers(0, n - 10))
                    blocked[at : at + 6] = level * 100
                key = {"prediction_id": f"{o:08x}", "vector": v, "metric": m}
                samples.append(
                    pl.DataFrame({**key, "timestamp": ts, "passed": x, "blocked": blocked})
                )
                ss = (
                    float(np.quantile(x, 0.99))
                    * (1.5 if m == "PPS" else 2.5)
                    * rng.lognormal(0, 0.05)
                )
                meta.append(
                    {**key, "source": "synthetic", "request_id": str(o)}
                    | {f"ip_{lv}": ss * f for lv, f in zip(LEVELS, (1, 1.5, 2, 3), strict=True)}
                )
    samples_df = pl.concat(samples).cast(LONG_SCHEMA)
    meta_df = pl.DataFrame(meta).select(
        pl.col(c).cast(t) if c in meta[0] else pl.lit(None, t).alias(c)
        for c, t in empty_series_meta().schema.items()
    )
    return samples_df, meta_df


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    samples, meta = _fleet()
    ingest(root / "store", ReadResult(samples=samples, series=meta))
    features = compute_features(open_store(root / "store").read_series())
    features.write_parquet(root / "features.parquet")
    return root, samples, features


def _inputs(root) -> tuple:
    """``--store`` and ``--features`` of the fleet fixture."""
    return ("--store", str(root / "store"), "--features", str(root / "features.parquet"))


def _ok(args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_recommend_rule_daily_writes_the_table(fleet, tmp_path, suffix):
    root, _, features = fleet
    out = tmp_path / f"thresholds{suffix}"
    result = _ok(
        [
            "recommend",
            *_inputs(root),
            "--method",
            "rule-daily",
            "--out",
            out,
        ]
    )
    assert f"rule-daily: {features.height} series, 0 fell back" in result.output
    table = pl.read_parquet(out) if suffix == ".parquet" else None
    if suffix == ".csv":
        table = pl.read_csv(out)
    if suffix == ".json":
        table = pl.DataFrame(orjson.loads(out.read_bytes()))
    assert table.height == features.height and table.columns == list(THRESHOLD_SCHEMA)
    expected = RuleDaily().fit(features).predict(features)
    np.testing.assert_allclose(table.select(LEVELS).to_numpy(), expected.select(LEVELS).to_numpy())


def test_recommend_default_is_the_budget_and_spends_the_target(fleet, tmp_path):
    root, _, features = fleet
    tables = {}
    for target in ("1,0.5,0.2,0.1", "20,10,5,2"):
        out = tmp_path / f"budget-{target}.parquet"
        _ok(
            [
                "recommend",
                *_inputs(root),
                "--method",
                "default",
                "--target-fa",
                target,
                "--out",
                out,
            ]
        )
        tables[target] = pl.read_parquet(out)
    tight, loose = tables["1,0.5,0.2,0.1"], tables["20,10,5,2"]
    assert tight["method"].unique().to_list() == ["budget"]
    assert tight["basis"].str.contains("budget 1/0.5/0.2/0.1 FA per object-week").any()
    # a larger budget lowers levels and expects more false alarms, never the reverse
    assert (loose.select(LEVELS).to_numpy() <= tight.select(LEVELS).to_numpy() + 1e-9).all()
    assert loose["expected_fa_per_day_ss"].sum() >= tight["expected_fa_per_day_ss"].sum()


def test_recommend_experts_reads_the_labels_from_the_store(fleet, tmp_path):
    root, _, features = fleet
    out = tmp_path / "experts.parquet"
    _ok(["recommend", *_inputs(root), "--method", "experts", "--out", out])
    table = pl.read_parquet(out)
    catalog = open_store(root / "store").catalog()
    keys = ["prediction_id", "vector", "metric"]
    joined = table.join(catalog.select(*keys, *(f"ip_{lv}" for lv in LEVELS)), on=keys)
    assert joined.height == features.height
    for lv in LEVELS:
        assert joined[lv].to_list() == joined[f"ip_{lv}"].to_list()


def test_recommend_evt_streams_chunks_and_matches_the_library(fleet, tmp_path):
    root, samples, features = fleet
    out = tmp_path / "evt.parquet"
    # a few series per chunk: the per-chunk fits must add up to one fit on everything
    _ok(
        [
            "recommend",
            *_inputs(root),
            "--method",
            "evt",
            "--out",
            out,
            "--chunk-rows",
            3 * DAYS * 288,
            "--quiet",
        ]
    )
    table = pl.read_parquet(out)
    expected = EVT().fit(features, samples).predict(features)
    assert table.equals(expected)
    assert table["expected_fa_per_day_ss"].null_count() < table.height


@pytest.mark.parametrize("params", [None, '{"variant": "p95"}'])
def test_recommend_blocked_threshold_reaches_the_methods_reading_samples(fleet, tmp_path, params):
    _, samples, _ = fleet
    # attacks carry a peak of passed traffic; half their blocked traffic falls below the
    # threshold, so those samples become baseline and move what the methods learn
    samples = samples.with_columns(
        passed=pl.when(pl.col("blocked") > 0).then(pl.col("passed") * 50).otherwise("passed")
    )
    threshold = float(samples.filter(pl.col("blocked") > 0)["blocked"].median())
    store = tmp_path / "store"
    ingest(store, ReadResult(samples=samples, series=_fleet()[1]))
    features = compute_features(open_store(store).read_series())
    features.write_parquet(tmp_path / "features.parquet")
    method = "evt" if params is None else "rule-daily"
    tables = []
    for value in (0.0, threshold):
        out = tmp_path / f"{method}-{value}.parquet"
        args = ["recommend", *_inputs(tmp_path), "--method", method, "--out", out, "--quiet"]
        args += ["--blocked-threshold", value] + (["--params", params] if params else [])
        _ok(args)
        tables.append(pl.read_parquet(out))
    estimator = EVT if params is None else RuleDaily
    extra = {} if params is None else {"variant": "p95"}
    expected = estimator(blocked_threshold=threshold, **extra).fit(features, samples)
    assert tables[1].equals(expected.predict(features))
    assert not tables[1].select(LEVELS).equals(tables[0].select(LEVELS))


def test_recommend_p95_and_floors_file(fleet, tmp_path):
    root, _, features = fleet
    floors = tmp_path / "floors.csv"
    floors.write_text("vector,metric,ss,sc,nw,rl\nPT_UDP,*,1000,2000,3000,4000\n")
    out = tmp_path / "p95.csv"
    _ok(
        [
            "recommend",
            *_inputs(root),
            "--method",
            "rule-daily",
            "--params",
            '{"variant": "p95"}',
            "--floors",
            floors,
            "--out",
            out,
        ]
    )
    table = pl.read_csv(out)
    assert table["basis"].str.contains("p95 of daily maxima").all()
    udp = table.filter(pl.col("vector") == "PT_UDP").select(LEVELS).to_numpy()
    assert (udp >= [1000, 2000, 3000, 4000]).all()


def test_train_then_recommend_with_the_model(fleet, tmp_path):
    root, _, features = fleet
    model_dir = tmp_path / "model"
    result = _ok(
        [
            "train",
            *_inputs(root),
            "--out",
            model_dir,
            "--folds",
            3,
            "--seed",
            1,
            "--params",
            '{"n_estimators": 40, "min_child_samples": 5}',
        ]
    )
    assert "mdape" in result.output and "within_25pct" in result.output
    assert f"trained on {features.height} labelled series" in result.output
    meta = orjson.loads((model_dir / "metadata.json").read_bytes())
    assert meta["params"]["folds"] == 3 and meta["params"]["seed"] == 1
    out = tmp_path / "model.json"
    _ok(
        [
            "recommend",
            *_inputs(root),
            "--method",
            "model",
            "--model",
            model_dir,
            "--out",
            out,
        ]
    )
    table = pl.DataFrame(orjson.loads(out.read_bytes()))
    assert table.height == features.height and set(table["method"]) == {"model"}
    values = table.select(LEVELS).to_numpy()
    assert (np.diff(values, axis=1) >= 0).all() and (values > 0).all()


@pytest.mark.parametrize(
    "args",
    [
        ["--method", "model"],  # no --model
        ["--method", "magic"],
        ["--method", "rule-max", "--out-suffix", ".txt"],
        ["--method", "rule-max", "--params", "not json"],
        ["--method", "rule-max", "--blocked-threshold", "5"],  # it reads the features
        ["--method", "evt", "--blocked-threshold", "-1"],
        ["--method", "evt", "--target-fa", "7,3,1,1"],  # only the budget takes one
        ["--method", "default", "--target-fa", "7,3"],
    ],
)
def test_recommend_usage_errors_exit_2(fleet, tmp_path, args):
    root, _, _ = fleet
    out = tmp_path / "x.parquet"
    if "--out-suffix" in args:
        out = tmp_path / "x.txt"
        args = args[:2]
    result = runner.invoke(
        app,
        [
            "recommend",
            *_inputs(root),
            *args,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2, result.output
    assert not out.exists()


def test_train_usage_errors_exit_2(fleet, tmp_path):
    root, _, _ = fleet
    base = [
        "train",
        *_inputs(root),
        "--out",
        str(tmp_path / "m"),
    ]
    assert runner.invoke(app, [*base, "--folds", "1"]).exit_code == 2
    assert runner.invoke(app, [*base, "--target", "subnet"]).exit_code == 2
    assert runner.invoke(app, [*base, "--params", '{"seed": 3}']).exit_code == 2


def test_failures_are_floodmark_errors_naming_what(fleet, tmp_path):
    root, _, features = fleet
    broken = tmp_path / "broken.parquet"
    features.drop("daily_max_q90").write_parquet(broken)
    result = runner.invoke(
        app,
        [
            "recommend",
            "--store",
            str(root / "store"),
            "--features",
            str(broken),
            "--method",
            "rule-daily",
            "--out",
            str(tmp_path / "t.csv"),
        ],
    )
    assert result.exit_code == 1 and isinstance(result.exception, SchemaError)
    assert "daily_max_q90" in str(result.exception)
    result = runner.invoke(
        app,
        [
            "recommend",
            *_inputs(root),
            "--method",
            "model",
            "--model",
            str(tmp_path),
            "--out",
            str(tmp_path / "t.csv"),
        ],
    )
    assert result.exit_code == 1 and isinstance(result.exception, FloodmarkError)
    assert str(tmp_path) in str(result.exception)


def test_recommend_by_name_refuses_what_a_method_cannot_use(fleet):
    from floodmark.thresholds.recommend import recommend_by_name

    root, _, features = fleet
    store = open_store(root / "store")
    with pytest.raises(FloodmarkError, match="reads the features"):
        recommend_by_name(store, features, "rule-max", blocked_threshold=5.0)
    with pytest.raises(FloodmarkError, match="needs the directory"):
        recommend_by_name(store, features, "model")
    with pytest.raises(FloodmarkError, match="takes no parameters"):
        recommend_by_name(store, features, "model", model_dir=root, params={"seed": 1})
    table = recommend_by_name(store, features, "rule-max")
    assert table.equals(RuleMax().fit(features).predict(features))
