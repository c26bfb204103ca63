"""An ingest that fails or is killed at any point leaves the store as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from store_builders import batch, regular, series_frame, snapshot

from floodmark.errors import SeriesDefect, StoreError
from floodmark.store import ingest, layout, open_store
from floodmark.store import ingestion as ingest_module

TEST_DIR = Path(__file__).parent


def _first() -> list:
    return [
        batch(series_frame(f"id{i}", "PT_SYN", "PPS", regular(20), np.full(20, float(i))))
        for i in range(4)
    ]


def _second() -> list:
    return [
        batch(series_frame("id1", "PT_SYN", "PPS", regular(30), np.full(30, 99.0))),
        batch(series_frame("id7", "PT_UDP", "BW", regular(10), np.ones(10))),
        batch(series_frame("id8", "PT_UDP", "BW", regular(10), np.ones(10))),
    ]


def _visible(root: Path) -> dict:
    """The snapshot without what a killed ingest may leave for the next one to delete."""
    current = os.readlink(root / layout.CURRENT).split("/")[-1]
    return {
        rel: entry
        for rel, entry in snapshot(root).items()
        if not rel.startswith(".current.tmp-")
        and rel != layout.LOCK  # names the killed ingest, for the next one's notice
        and not (rel.startswith(".versions/") and rel.split("/")[1] != current)
    }


@pytest.fixture
def filled(store_dir: Path) -> Path:
    ingest(store_dir, _first(), max_file_rows=40)
    return store_dir


def _boom(*args, **kwargs):
    raise RuntimeError("injected failure")


@pytest.mark.parametrize(
    "target",
    [
        (ingest_module, "merge_partition"),
        (ingest_module, "update_catalog"),
        (ingest_module, "_write_tables"),
        (layout, "swap_current"),
    ],
    ids=lambda t: t[1],
)
def test_failure_after_staging_leaves_store_byte_identical(filled, monkeypatch, target):
    before = snapshot(filled)
    monkeypatch.setattr(*target, _boom)
    with pytest.raises(RuntimeError, match="injected"):
        ingest(filled, _second(), max_file_rows=40)
    assert snapshot(filled) == before  # staging removed too
    monkeypatch.undo()
    ingest(filled, _second(), max_file_rows=40)
    assert open_store(filled).catalog().height == 6


def test_strict_reader_defect_mid_stream_leaves_store_untouched(filled):
    before = snapshot(filled)

    def strict_reader():
        yield from _second()[:2]
        raise SeriesDefect("bad_gzip", "not gzip", file="export.parquet", row=12, series="x")

    with pytest.raises(SeriesDefect, match="export.parquet, row 12"):
        ingest(filled, [strict_reader()])
    assert snapshot(filled) == before


def test_failed_first_ingest_leaves_no_directory(store_dir):
    def broken():
        yield _first()[0]
        raise SeriesDefect("bad_json", "nope", file="f.parquet", row=1)

    with pytest.raises(SeriesDefect):
        ingest(store_dir, [broken()])
    assert not store_dir.exists()


_KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {test_dir!r})
import test_store_atomic as t
from floodmark.store import ingest, layout
from floodmark.store import ingestion as ingest_module

point = {point!r}
die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
if point == "reading":
    def reader():
        yield t._second()[0]
        die()
    inputs = [reader()]
else:
    inputs = t._second()
if point == "merging":
    real = ingest_module.merge_partition
    calls = []
    def merge(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            die()
        return real(*a, **k)
    ingest_module.merge_partition = merge
if point == "before-swap":
    layout.swap_current = die
if point == "after-swap":
    real_swap = layout.swap_current
    def swap(*a):
        real_swap(*a)
        die()
    layout.swap_current = swap
ingest({store!r}, inputs, max_file_rows=40)
"""


def _killed_ingest(store: Path, point: str) -> None:
    code = textwrap.dedent(_KILL_SCRIPT).format(
        test_dir=str(TEST_DIR), point=point, store=str(store)
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr


@pytest.mark.parametrize("point", ["reading", "merging", "before-swap"])
def test_killed_ingest_leaves_previous_version(filled, point):
    before_visible = _visible(filled)
    expected = open_store(filled).read_series()
    _killed_ingest(filled, point)
    assert _visible(filled) == before_visible
    assert_frame_equal(open_store(filled).read_series(), expected)
    # The next ingest clears what the killed one left and works.
    ingest(filled, _second(), max_file_rows=40)
    assert len(list((filled / layout.VERSIONS).iterdir())) == 1
    assert not list(filled.glob(".current.tmp-*"))
    assert open_store(filled).read_series().filter(prediction_id="id1")["passed"].max() == 99.0


def test_killed_after_commit_point_has_the_new_version(filled, tmp_path):
    reference = tmp_path / "reference"
    ingest(reference, _first(), max_file_rows=40)
    ingest(reference, _second(), max_file_rows=40)
    _killed_ingest(filled, "after-swap")
    got = open_store(filled)
    assert_frame_equal(got.read_series(), open_store(reference).read_series())
    assert_frame_equal(got.catalog(), open_store(reference).catalog())
    ingest(filled, _second(), max_file_rows=40)  # cleans the old version; changes nothing
    assert len(list((filled / layout.VERSIONS).iterdir())) == 1


def test_killed_while_creating_a_store(store_dir):
    _killed_ingest(store_dir, "before-swap")
    with pytest.raises(StoreError):
        open_store(store_dir)
    ingest(store_dir, _first())  # an interrupted creation is not a foreign folder
    assert open_store(store_dir).catalog().height == 4


def test_killed_between_commit_and_public_links(store_dir):
    _killed_ingest(store_dir, "after-swap")
    assert not (store_dir / "catalog.parquet").exists()  # the links come after the swap
    assert open_store(store_dir).catalog().height == 3  # but the store is committed
    ingest(store_dir, _second(), max_file_rows=40)  # changes nothing, repairs the links
    for name in layout.PUBLIC_NAMES:
        assert os.readlink(store_dir / name) == f".current/{name}"
    assert pl.read_parquet(store_dir / "catalog.parquet").height == 3


def test_foreign_directories_are_refused(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    before = snapshot(foreign)
    with pytest.raises(StoreError, match="not a floodmark store"):
        ingest(foreign, _first())
    with pytest.raises(StoreError, match="not a floodmark store"):
        open_store(foreign)
    assert snapshot(foreign) == before
    with pytest.raises(StoreError, match="not found"):
        open_store(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        ingest(tmp_path / "file", _first())


def test_foreign_or_newer_marker_is_refused(filled):
    marker = filled / layout.CURRENT / layout.MARKER
    text = marker.read_text()
    marker.unlink()  # the version's files are hard links: replace, never edit in place
    marker.write_text(text.replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(StoreError, match="newer"):
        open_store(filled)
    marker.unlink()
    marker.write_text('{"format": "something-else"}')
    with pytest.raises(StoreError, match="foreign"):
        open_store(filled)
    with pytest.raises(StoreError, match="foreign"):
        ingest(filled, _second())


def test_an_open_store_outlived_by_two_ingests_says_so(filled):
    store = open_store(filled)
    ingest(filled, _second(), max_file_rows=40)  # commits and deletes store's version
    with pytest.raises(StoreError, match="open it again"):
        store.catalog()
    with pytest.raises(StoreError, match="open it again"):
        list(store.iter_chunks())
    assert open_store(filled).catalog().height == 6
    assert isinstance(open_store(filled).scan().collect(), pl.DataFrame)
