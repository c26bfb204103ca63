"""Series blocks: whole series without a key per sample, in memory or in a block file."""

from __future__ import annotations

import mmap

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from floodmark.errors import SchemaError
from floodmark.io.read_result import ReadResult
from floodmark.io.series_blocks import BlockFile, MappedFiles, OpenFiles, checked_blocks

KEYS = [("a", "PT_SYN", "PPS"), ("b", "PT_SYN", "PPS"), ("c", "PT_UDP", "BW")]


def _arrays(ts, passed=None):
    ts = np.asarray(ts, dtype=np.int64)
    passed = np.arange(ts.size, dtype=np.float64) if passed is None else np.asarray(passed)
    return ts, passed, passed / 2


def test_blocks_say_which_series_are_in_time_order():
    ts = [10, 20, 30, 5, 5, 1, 2]  # a: in order; b: a timestamp twice; c: in order
    blocks = checked_blocks(KEYS, np.array([3, 2, 2]), _arrays(ts))
    assert blocks.in_order.tolist() == [True, False, True]
    assert blocks.starts.tolist() == [0, 3, 5] and blocks.rows == 7
    # A series without samples (empty days) neither breaks nor hides its neighbours' order.
    ts = [10, 20, 3, 1]
    blocks = checked_blocks(KEYS, np.array([2, 0, 2]), _arrays(ts))
    assert blocks.in_order.tolist() == [True, True, False]


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_blocks_with_a_bad_value_are_refused_naming_the_series(bad):
    passed = [1.0, 2.0, 3.0, bad, 5.0]
    with pytest.raises(SchemaError, match="NaN, infinite or negative") as caught:
        checked_blocks(KEYS[:2], np.array([3, 2]), _arrays([1, 2, 3, 1, 2], passed))
    assert "series b/PT_SYN/PPS" in str(caught.value)


def test_blocks_with_an_unknown_vector_are_refused_naming_the_series():
    with pytest.raises(SchemaError, match="unknown vector") as caught:
        checked_blocks([("x", "PT_NOPE", "PPS")], np.array([1]), _arrays([1]))
    assert "PT_NOPE" in str(caught.value)


def test_blocks_written_to_a_file_read_back_the_same(tmp_path):
    first = checked_blocks(KEYS, np.array([3, 2, 2]), _arrays([10, 20, 30, 5, 6, 1, 2]))
    second = checked_blocks(KEYS[:1], np.array([4]), _arrays([1, 2, 3, 4], [9.0, 8.0, 7.0, 6.0]))
    file = BlockFile(tmp_path / "blocks.bin")
    filed = [first.written_to(file), second.written_to(file)]  # appended one after the other
    file.close()
    assert filed[0].arrays is None and filed[1].offset == 7 * 24
    files = OpenFiles()
    try:
        for memory, disk in zip((first, second), filed, strict=True):
            for got, want in zip(disk.read(files), memory.arrays, strict=True):
                np.testing.assert_array_equal(got, want)
        out = tuple(np.empty(2, dtype=d) for d in (np.int64, np.float64, np.float64))
        filed[0].copy_rows(3, out, files)  # series b alone
        assert out[0].tolist() == [5, 6] and out[1].tolist() == [3.0, 4.0]
    finally:
        files.close()
    assert_frame_equal(filed[0].frame(), first.frame())


def _mapped(path) -> int:
    """Bytes of ``path`` mapped into this process."""
    total = 0
    with open("/proc/self/maps") as maps:
        for line in maps:
            if line.rstrip().endswith(str(path)):
                start, stop = (int(x, 16) for x in line.split()[0].split("-"))
                total += stop - start
    return total


def test_views_of_a_block_file_are_its_rows_and_are_unmapped_together(tmp_path):
    blocks = checked_blocks(KEYS, np.array([3, 2, 2]), _arrays([10, 20, 30, 5, 6, 1, 2]))
    file = BlockFile(tmp_path / "blocks.bin")
    file.append(_arrays([7, 8]))  # another block set before: the views start further on
    filed = blocks.written_to(file)
    file.close()
    with MappedFiles() as maps:
        views = filed.view_rows(3, 2, maps)  # series b alone
        assert [v.tolist() for v in views] == [[5, 6], [3.0, 4.0], [1.5, 2.0]]
        memory = blocks.view_rows(3, 2, maps)
        assert all(np.array_equal(v, m) for v, m in zip(views, memory, strict=True))
        assert _mapped(file.path)
        del views, memory
    # The pages a writer touched count in its memory while mapped: closing unmaps them.
    assert not _mapped(file.path)


def test_a_view_maps_its_own_rows_only(tmp_path):
    """Not the file around them: a fault maps the whole cached folio a mapping spans,
    so mapping whole files took a writer's memory to gigabytes at full scale."""
    file = BlockFile(tmp_path / "blocks.bin")
    before = file.append(_arrays(np.arange(1 << 17)))  # 3 MB of other series
    blocks = checked_blocks(KEYS[:1], np.array([4]), _arrays([1, 2, 3, 4])).written_to(file)
    file.append(_arrays(np.arange(1 << 17)))
    file.close()
    assert before == 0 and blocks.offset == 3 << 20
    with MappedFiles() as maps:
        views = blocks.view_rows(1, 2, maps)
        assert views[0].tolist() == [2, 3]
        assert 0 < _mapped(file.path) <= 3 * 2 * mmap.ALLOCATIONGRANULARITY
        del views


def test_views_past_the_mapping_limit_are_read_and_equal(tmp_path):
    """A file of many short series must not run into the kernel's limit of mappings."""
    file = BlockFile(tmp_path / "blocks.bin")
    blocks = checked_blocks(KEYS, np.array([3, 2, 2]), _arrays([10, 20, 30, 5, 6, 1, 2]))
    filed = blocks.written_to(file)
    file.close()
    with MappedFiles(max_maps=2) as maps:
        views = [filed.view_rows(start, n, maps) for start, n in ((0, 3), (3, 2), (5, 2))]
        assert len(maps._maps) == 2
        expected = [blocks.view_rows(start, n, maps) for start, n in ((0, 3), (3, 2), (5, 2))]
        for got, want in zip(views, expected, strict=True):
            assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
        del views, expected


def test_a_read_result_of_blocks_gives_its_long_table():
    blocks = checked_blocks(KEYS, np.array([2, 0, 1]), _arrays([0, 1_000_000, 7_000_000]))
    result = ReadResult(blocks=(blocks,))
    samples = result.samples
    assert samples["prediction_id"].to_list() == ["a", "a", "c"]
    assert samples["timestamp"].dt.epoch("s").to_list() == [0, 1, 7]
    assert samples["blocked"].to_list() == [0.0, 0.5, 1.0]
    assert ReadResult().samples.height == 0 and ReadResult().blocks == ()
    with pytest.raises(ValueError, match="not both"):
        ReadResult(samples=samples, blocks=(blocks,))
    assert_frame_equal(ReadResult(blocks=(blocks, blocks)).samples, pl.concat([samples] * 2))
