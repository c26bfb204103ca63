"""Failures a user can cause are one line naming the file and what is wrong, exit 1.

Never "unexpected <ExceptionType>": that line is the last line of defence, for bugs.
"""

from __future__ import annotations

import errno
import sys

import polars as pl
import pyarrow.parquet as pq
import pytest

from floodmark.cli import main


def _run_main(monkeypatch, capsys, args: list[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["floodmark", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err.strip()


def _one_line(err: str) -> str:
    assert len(err.splitlines()) == 1, err
    assert "unexpected" not in err, err
    return err


@pytest.mark.parametrize("fmt", [[], ["--format", "vendor"]])
def test_vendor_export_with_an_integer_time_series_column(tmp_path, monkeypatch, capsys, fmt):
    export = tmp_path / "ints.parquet"
    pl.DataFrame(
        {"prediction_id": ["a"], "vector": ["PT_SYN"], "metric": ["PPS"], "time_series": [5]}
    ).write_parquet(export)
    code, err = _run_main(monkeypatch, capsys, ["ingest", export, "--store", tmp_path / "s", *fmt])
    assert code == 1
    assert _one_line(err) == (
        f"error: {export}: vendor export column time_series is int64, not base64 text"
    )


def test_full_disk_names_the_output(tmp_path, monkeypatch, capsys):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    out = tmp_path / "fleet.parquet"
    args = ["generate", "--objects", 1, "--days", 1, "--workers", 1, "--out", out]
    code, err = _run_main(monkeypatch, capsys, args)
    assert code == 1
    assert _one_line(err) == f"error: {out}: cannot write: No space left on device"
    assert list(tmp_path.iterdir()) == []
