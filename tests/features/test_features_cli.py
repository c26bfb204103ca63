"""``floodmark features`` over a store, and the chunked runner behind it."""

from __future__ import annotations

import inspect

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from floodmark.cli import app
from floodmark.features import compute_features, find_super_peaks
from floodmark.features.chunked import batch_features, store_features
from floodmark.features.engine import output_schema
from floodmark.features.families import FeatureParams
from floodmark.generate import generate_fleet
from floodmark.io import iter_vendor_export, read_vendor_export
from floodmark.io.atomic import read_table
from floodmark.store import ingest_files, open_store

runner = CliRunner()


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("features-store")
    fleet = root / "fleet.parquet"
    generate_fleet(fleet, objects=3, days=6, seed=21)
    ingest_files(root / "store", [fleet])
    return root / "store"


@pytest.fixture(scope="module")
def whole(store_dir):
    """What compute_features gives on the whole store read at once."""
    samples = open_store(store_dir).scan().collect()
    return compute_features(samples), find_super_peaks(samples)


def test_chunked_run_equals_the_whole_store(store_dir, whole):
    store = open_store(store_dir)
    seen = []
    result = store_features(
        store, chunk_rows=20_000, progress=lambda done, total: seen.append((done, total))
    )
    assert result.chunks > 5 and seen[-1] == (result.chunks, result.chunks)
    assert result.samples == store.catalog()["n_samples"].sum()
    assert_frame_equal(result.features, whole[0], check_exact=True)
    assert_frame_equal(result.super_peaks, whole[1], check_exact=True)
    assert result.features["total_val_median_share"].is_not_nan().any()


def test_worker_threads_give_the_same_result(store_dir, whole):
    result = store_features(open_store(store_dir), workers=3, chunk_rows=30_000)
    assert result.chunks > 3
    assert_frame_equal(result.features, whole[0], check_exact=True)
    assert_frame_equal(result.super_peaks, whole[1], check_exact=True)


@pytest.mark.slow
def test_worker_processes_give_the_same_result(store_dir, whole):
    result = store_features(open_store(store_dir), workers=2, processes=True, chunk_rows=30_000)
    assert_frame_equal(result.features, whole[0], check_exact=True)
    assert_frame_equal(result.super_peaks, whole[1], check_exact=True)


def test_empty_store_gives_empty_tables(tmp_path):
    from floodmark.store import ingest

    ingest(tmp_path / "empty", [])
    result = store_features(open_store(tmp_path / "empty"), workers=2)
    assert result.features.height == 0 and result.super_peaks.height == 0
    assert result.features.columns == list(output_schema())


def test_batches_of_a_reader_stream(tmp_path):
    fleet = tmp_path / "fleet.parquet"
    generate_fleet(fleet, objects=2, days=3, seed=5)
    batches = (r.samples for r in iter_vendor_export(fleet, batch_rows=10))
    seen = []
    result = batch_features(batches, progress=lambda done, total: seen.append((done, total)))
    whole = read_vendor_export(fleet).samples
    assert result.chunks == 6 and seen[-1] == (6, None) and result.samples == whole.height
    assert_frame_equal(result.features, compute_features(whole), check_exact=True)
    assert_frame_equal(result.super_peaks, find_super_peaks(whole), check_exact=True)


def test_parameters_reach_the_kernel(store_dir):
    store = open_store(store_dir)
    samples = store.scan().collect()
    params = FeatureParams(blocked_threshold=1.0, super_peak_factor=1.5, exclude_super_peaks=True)
    result = store_features(store, params, chunk_rows=50_000)
    expected = compute_features(
        samples, blocked_threshold=1.0, super_peak_factor=1.5, exclude_super_peaks=True
    )
    assert_frame_equal(result.features, expected, check_exact=True)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".json"])
def test_cli_writes_features_and_super_peaks(store_dir, whole, tmp_path, suffix):
    out = tmp_path / f"features{suffix}"
    result = runner.invoke(
        app,
        [
            "features",
            "--store",
            str(store_dir),
            "--out",
            str(out),
            "--workers",
            "1",
            "--chunk-rows",
            "40000",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"{whole[0].height:,} series" in result.output
    table = read_table(out)
    assert table.height == whole[0].height
    assert table.columns == whole[0].columns
    if suffix == ".parquet":
        assert_frame_equal(table, whole[0], check_exact=True)
    peaks = pl.read_parquet(tmp_path / "features.super_peaks.parquet")
    assert_frame_equal(peaks, whole[1], check_exact=True)


def test_cli_options(store_dir, tmp_path):
    out = tmp_path / "f.parquet"
    args = ["features", "--store", str(store_dir), "--out", str(out), "--workers", "1"]
    plain = runner.invoke(app, args)
    assert plain.exit_code == 0, plain.output
    base = pl.read_parquet(out)
    loose = runner.invoke(app, [*args, "--super-peak-factor", "1.2", "--exclude-super-peaks"])
    assert loose.exit_code == 0, loose.output
    changed = pl.read_parquet(out)
    assert changed["n_super_peaks"].sum() > base["n_super_peaks"].sum()
    assert not changed["daily_max_1"].equals(base["daily_max_1"])


def test_cli_refuses_an_unknown_extension(store_dir, tmp_path):
    result = runner.invoke(
        app, ["features", "--store", str(store_dir), "--out", str(tmp_path / "f.xlsx")]
    )
    assert result.exit_code == 2
    assert not (tmp_path / "f.xlsx").exists()


def test_cli_missing_store_is_a_usage_error(tmp_path):
    """As in every command that reads a store (the shared --store option)."""
    import sys

    from floodmark.cli import main

    argv = sys.argv
    sys.argv = [
        "floodmark",
        "features",
        "--store",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "f.parquet"),
    ]
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        sys.argv = argv
    assert exit_info.value.code == 2
    assert not (tmp_path / "f.parquet").exists()


def test_cli_chunk_rows_default_is_the_library_default():
    from floodmark.cli.features import features
    from floodmark.features.chunked import CHUNK_ROWS

    assert inspect.signature(features).parameters["chunk_rows"].default == CHUNK_ROWS
