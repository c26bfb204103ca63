"""Atomic writes: permissions like a plain open(), the umask untouched, errors naming the target."""

from __future__ import annotations

import errno
import os
import stat
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

from floodmark.errors import OutputError
from floodmark.io.atomic import atomic_path, write_json, write_table


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield 0o022
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_written_file_gets_the_mode_a_plain_open_gives(tmp_path, mask):
    old = os.umask(mask)
    try:
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
        out = write_json({"a": 1}, tmp_path / "out.json")
    finally:
        os.umask(old)
    assert _mode(out) == _mode(plain) == 0o666 & ~mask


def test_the_process_umask_is_never_changed(tmp_path, umask_022, monkeypatch):
    def forbidden(mask):
        raise AssertionError(f"os.umask({mask:o}) called")

    monkeypatch.setattr(os, "umask", forbidden)
    write_table(pl.DataFrame({"a": [1]}), tmp_path / "t.parquet")
    write_json([1], tmp_path / "t.json")


def test_files_created_by_other_threads_meanwhile_keep_the_umask(tmp_path, umask_022):
    """Other threads' files never come out group- or world-writable during atomic writes."""
    done = threading.Event()
    loose: list[str] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: widen any race

    def atomic_writer() -> None:
        try:
            for j in range(1000):
                with atomic_path(tmp_path / f"a{j % 5}.bin") as tmp:
                    tmp.write_bytes(b"x")
        finally:
            done.set()

    def plain_creator(i: int) -> None:
        # Bounded: the writer finishes long before; the cap only guards a hung writer.
        for j in range(2_000_000):
            if done.is_set():
                return
            path = tmp_path / f"p{i}-{j % 100}"
            path.unlink(missing_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o666)
            mode = os.fstat(fd).st_mode
            os.close(fd)
            if mode & 0o022:
                loose.append(f"{path.name}: {oct(stat.S_IMODE(mode))}")

    threads = [threading.Thread(target=atomic_writer)]
    threads += [threading.Thread(target=plain_creator, args=(i,)) for i in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not loose, f"group/world-writable files: {loose[:5]}"
    assert sorted(p.name for p in tmp_path.glob("a*")) == [f"a{j}.bin" for j in range(5)]
    assert _mode(tmp_path / "a0.bin") == 0o644
    assert not list(tmp_path.glob(".*.tmp"))


def test_unwritable_folder_names_the_target(read_only_folder):
    target = read_only_folder / "out.parquet"
    with pytest.raises(OutputError) as info:
        write_table(pl.DataFrame({"a": [1]}), target)
    assert str(info.value) == f"{target}: cannot write: Permission denied"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_names_the_target(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match=r"ro/out\.csv: cannot write: Permission denied"):
            write_table(pl.DataFrame({"a": [1]}), folder / "out.csv")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("suffix", [".json", ".csv", ".parquet"])
def test_full_disk_names_the_target_and_leaves_the_old_file(tmp_path, monkeypatch, suffix):
    target = tmp_path / f"out{suffix}"
    write_table(pl.DataFrame({"a": [1]}), target)
    before = target.read_bytes()

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    monkeypatch.setattr(pl.DataFrame, "write_csv", full)
    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(OutputError) as info:
        write_table(pl.DataFrame({"a": [2]}), target)
    assert str(info.value) == f"{target}: cannot write: No space left on device"
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_polars_io_failure_names_the_target(tmp_path, monkeypatch):
    """Polars reports a full disk as a ComputeError; it still names the output."""

    def full(self, *args, **kwargs):
        raise pl.exceptions.ComputeError("IO error: No space left on device (os error 28)")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    target = tmp_path / "f.parquet"
    with pytest.raises(OutputError, match=r"f\.parquet: cannot write the table .*No space left"):
        write_table(pl.DataFrame({"a": [1]}), target)
    assert not list(tmp_path.iterdir())


def test_an_error_unrelated_to_the_output_passes_through(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "x") as _tmp:
        (tmp_path / "missing").read_bytes()


def test_a_file_in_place_of_the_folder_is_named(tmp_path):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "out.json"
    with pytest.raises(OutputError) as info:
        write_json({}, target)
    assert str(info.value) == f"{target}: cannot write: {tmp_path / 'afile'} is not a folder"


def test_a_folder_in_place_of_the_file_is_named(tmp_path):
    target = tmp_path / "out.json"
    target.mkdir()
    with pytest.raises(OutputError, match=r"out\.json: cannot write: Is a directory"):
        write_json({}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
