"""``floodmark ingest``: exit codes, the summary line, --strict, format options."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from floodmark.cli import app, main
from floodmark.io.codec import MAX_SERIES_BYTES
from floodmark.io.vendor import write_vendor_export
from floodmark.schema import LONG_SCHEMA
from floodmark.store import open_store

runner = CliRunner()
T0 = 1_700_000_000
ORDER = ["prediction_id", "vector", "metric", "timestamp"]


def _samples(ids=("0a", "0b"), vectors=("PT_SYN", "PT_TOTAL"), n=50, seed=0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for pid in ids:
        for vector in vectors:
            frames.append(
                pl.DataFrame(
                    {
                        "prediction_id": pid,
                        "vector": vector,
                        "metric": "PPS",
                        "timestamp": (T0 + 300 * np.arange(n)) * 1_000_000,
                        "passed": rng.gamma(2.0, 10.0, n).round(3),
                        "blocked": np.where(rng.random(n) < 0.1, 5.0, 0.0),
                    }
                )
            )
    return (
        pl.concat(frames)
        .with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))
        .cast(LONG_SCHEMA)
        .sort(ORDER)
    )


@pytest.fixture
def export(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    samples = _samples()
    return write_vendor_export(samples, tmp_path / "export.parquet"), samples


@pytest.fixture
def broken_export(tmp_path: Path) -> Path:
    """A vendor export whose second row is not gzip."""
    path = write_vendor_export(_samples(seed=1), tmp_path / "broken.parquet")
    table = pl.read_parquet(path)
    bad = base64.b64encode(b"not gzip at all").decode()
    table = table.with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit(bad)).otherwise("time_series")
        .alias("time_series")
    )  # fmt: skip
    pq.write_table(table.to_arrow(), path)
    return path


def _summary(output: str) -> str:
    lines = [line for line in output.splitlines() if "series added" in line]
    assert len(lines) == 1, output
    return lines[0]


def test_ingest_vendor_export_prints_one_summary_line(tmp_path, export):
    path, samples = export
    store = tmp_path / "store"
    result = runner.invoke(app, ["ingest", str(path), "--store", str(store)])
    assert result.exit_code == 0, result.output
    line = _summary(result.output)
    assert "1 input: 4 series added, 0 updated" in line
    assert f"{samples.height:,} samples written ({samples.height:,} new)" in line
    assert "0 quarantined" in line and "0 duplicates repaired" in line
    assert_frame_equal(open_store(store).read_series(), samples)

    again = runner.invoke(app, ["ingest", str(path), "--store", str(store), "--format", "vendor"])
    assert again.exit_code == 0, again.output
    assert "0 series added, 0 updated" in _summary(again.output)
    assert f"({0:,} new)" in _summary(again.output)


def test_quarantine_counts_by_reason(tmp_path, broken_export):
    store = tmp_path / "store"
    result = runner.invoke(app, ["ingest", str(broken_export), "--store", str(store)])
    assert result.exit_code == 0, result.output
    line = _summary(result.output)
    assert "3 series added" in line and "1 quarantined (bad_gzip 1)" in line
    q = open_store(store).quarantine()
    assert q["reason"].to_list() == ["bad_gzip"] and q["row"].to_list() == [1]


def test_strict_stops_with_exit_1_and_leaves_store_untouched(
    tmp_path, export, broken_export, monkeypatch, capsys
):
    store = tmp_path / "store"
    assert runner.invoke(app, ["ingest", str(export[0]), "--store", str(store)]).exit_code == 0
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    monkeypatch.setattr(
        sys, "argv", ["floodmark", "ingest", str(broken_export), "--store", str(store), "--strict"]
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(r"error: .*broken\.parquet.*row 1", err), err
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before


def test_usage_errors_exit_2(tmp_path, export):
    store = str(tmp_path / "store")
    assert (
        runner.invoke(
            app, ["ingest", str(tmp_path / "missing.parquet"), "--store", store]
        ).exit_code
        == 2
    )
    assert runner.invoke(app, ["ingest", str(export[0])]).exit_code == 2  # no --store
    bad_format = runner.invoke(app, ["ingest", str(export[0]), "--store", store, "--format", "xls"])
    assert bad_format.exit_code == 2
    assert not Path(store).exists()


def test_foreign_store_directory_exits_1(tmp_path, export, monkeypatch, capsys):
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    monkeypatch.setattr(
        sys, "argv", ["floodmark", "ingest", str(export[0]), "--store", str(foreign)]
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    assert "not a floodmark store" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_long_table_input(tmp_path):
    samples = _samples(ids=("ff",), vectors=("PT_UDP",), n=20, seed=4)
    path = tmp_path / "long.csv"
    samples.with_columns(pl.col("timestamp").dt.epoch("s")).write_csv(path)
    store = tmp_path / "store"
    result = runner.invoke(app, ["ingest", str(path), "--store", str(store), "--format", "long"])
    assert result.exit_code == 0, result.output
    assert "1 series added" in _summary(result.output)
    assert_frame_equal(open_store(store).read_series(), samples)


def test_single_series_csv_from_the_public_traces(tmp_path, shared_data):
    trace = shared_data / "nab-aws-network" / "ec2_network_in_5abac7.csv"
    store = tmp_path / "store"
    args = ["ingest", str(trace), "--store", str(store), "--format", "series-csv",
            "--prediction-id", "ec2-5abac7", "--vector", "PT_TOTAL", "--metric", "BW"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    line = _summary(result.output)
    assert "1 series added" in line and "11 duplicates repaired" in line
    cat = open_store(store).catalog().row(0, named=True)
    assert cat["median_step_s"] == 300.0
    assert cat["n_samples"] == pl.read_csv(trace)["timestamp"].n_unique()


def test_help_has_an_example():
    result = runner.invoke(app, ["ingest", "--help"])
    assert result.exit_code == 0
    assert "floodmark ingest" in result.output and "--strict" in result.output


def _bomb_cell(inflated: int) -> str:
    """base64(gzip) of a JSON head and ``inflated`` bytes of zeros, built in 1 MB steps."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(b'{"passedDays":{"d":{"values":[')]
    parts += [packer.compress(bytes(1 << 20)) for _ in range(inflated >> 20)]
    return base64.b64encode(b"".join(parts) + packer.flush()).decode("ascii")


@pytest.fixture(scope="module")
def bomb_export(tmp_path_factory) -> Path:
    """Four good series, then one cell that inflates to 1 GB (a ~80 KB Parquet cell)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.parquet"
    write_vendor_export(_samples(), path)
    table = pl.read_parquet(path)
    bomb = table.head(1).with_columns(
        prediction_id=pl.lit("bomb"), time_series=pl.lit(_bomb_cell(1 << 30))
    )
    pq.write_table(pl.concat([table, bomb]).to_arrow(), path, compression="zstd")
    return path


# The peak of this process's own memory: VmHWM starts afresh at exec, where
# getrusage's ru_maxrss would carry over the RSS of the process that started it.
_MEASURED_INGEST = """
import re, sys
from floodmark.cli import main
sys.argv = ["floodmark", "ingest", *sys.argv[1:]]
try:
    main()
finally:
    with open("/proc/self/status") as status:
        peak = re.search(r"VmHWM:\\s*(\\d+) kB", status.read()).group(1)
    print("peak-rss-kb", peak, file=sys.stderr)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_decompression_bomb_is_quarantined_in_bounded_memory(tmp_path, export, bomb_export):
    assert bomb_export.stat().st_size < 200_000

    def measured_ingest(path: Path, store: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-c", _MEASURED_INGEST, str(path), "--store", str(store)]
        return subprocess.run(command, capture_output=True, text=True, timeout=600)

    # A small export first fills Numba's cache (compiling takes memory of its own, once
    # per install); the bomb is then measured as every ingest after the first runs.
    assert measured_ingest(export[0], tmp_path / "warm-up").returncode == 0
    proc = measured_ingest(bomb_export, tmp_path / "store")
    assert proc.returncode == 0, proc.stderr
    assert "4 series added" in proc.stdout and "1 quarantined (too_large 1)" in proc.stdout
    peak_kb = int(re.search(r"peak-rss-kb (\d+)", proc.stderr).group(1))
    assert peak_kb < 500 * 1024, peak_kb


def test_max_series_bytes_sets_the_limit(tmp_path, export):
    path, samples = export
    store = tmp_path / "store"
    args = ["ingest", str(path), "--store", str(store)]
    small = runner.invoke(app, [*args, "--max-series-bytes", "100"])
    assert small.exit_code == 0, small.output
    assert "0 series added" in _summary(small.output)
    assert "4 quarantined (too_large 4)" in _summary(small.output)
    assert runner.invoke(app, [*args, "--max-series-bytes", "0"]).exit_code == 2
    default = runner.invoke(app, args)
    assert "4 series added" in _summary(default.output)
    help_text = " ".join(runner.invoke(app, ["ingest", "--help"]).output.split())
    assert f"{MAX_SERIES_BYTES:,}" in help_text.replace("│ ", "").replace(" │", "")


def test_a_bad_row_quarantines_its_series_and_the_rest_is_ingested(tmp_path):
    long = tmp_path / "long.csv"
    long.write_text(
        "prediction_id,vector,metric,timestamp,passed,blocked\n"
        "a,PT_TCP,PPS,1700000000,1,0\n"
        "b,PT_TCP,PPS,1700000000,2,0\n"
        "b,PT_TCP,PPS,noon,2,0\n"
        "c,PT_TCP,PPS,1700000000,3,0\n"
    )
    single = tmp_path / "trace.csv"
    single.write_text("timestamp,value\n1700000000,1\n1700000300,many\n")
    store = tmp_path / "store"
    args = ["ingest", str(long), str(single), "--store", str(store)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 series added" in _summary(result.output)
    assert "2 quarantined (bad_number 1, bad_time 1)" in _summary(result.output)
    q = open_store(store).quarantine().sort("row")
    assert q.select("prediction_id", "row", "reason").rows() == [
        ("trace", 1, "bad_number"),
        ("b", 2, "bad_time"),
    ]
    strict = runner.invoke(app, [*args[:-2], "--store", str(tmp_path / "strict"), "--strict"])
    assert strict.exit_code == 1
    assert not (tmp_path / "strict").exists()
