"""An ingest's incoming samples, held per partition as whole-series blocks.

Readers give series contiguously, so a batch is a few runs of one series each. A
partition keeps each run as a block (its id, where its rows are, which batch and
input it came from) over three plain columns — timestamp (epoch microseconds),
passed, blocked — without a key per sample. Batches stay in memory up to a budget;
the rest is appended to raw column files (24 bytes a sample, no encoding), read
back block by block, so memory holds the budget plus what is being written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA

COLUMNS: tuple[str, ...] = ("timestamp", "passed", "blocked")
#: Memory of one held sample: three 8-byte columns.
ROW_BYTES = 8 * len(COLUMNS)
_DTYPES = (np.int64, np.float64, np.float64)
TIMESTAMP = LONG_SCHEMA["timestamp"]

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class _Segment:
    """One batch's rows of a partition: in memory, or at ``file_row`` in the spill files."""

    seq: int  # the batch's number: later batches are newer
    input_no: int
    arrays: Arrays | None
    file_row: int
    first_block: int  # its blocks are [first_block, first_block + n_blocks)
    n_blocks: int


@dataclass
class IncomingPartition:
    """The incoming blocks of one (vector, metric), in arrival order."""

    spill_dir: Path
    ids: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    segment_of: list[int] = field(default_factory=list)
    offset_in_segment: list[int] = field(default_factory=list)
    segments: list[_Segment] = field(default_factory=list)
    #: Every block's timestamps strictly increase (readers sort and repair series).
    in_order: bool = True
    spilled_rows: int = 0
    _files: list | None = None

    def add(
        self,
        ids: list[str],
        counts: np.ndarray,
        arrays: Arrays,
        *,
        seq: int,
        input_no: int,
        keep_in_memory: bool,
    ) -> None:
        """Append one batch's blocks (``arrays`` hold them one after another)."""
        segment = _Segment(seq, input_no, None, 0, len(self.ids), len(ids))
        if keep_in_memory:
            segment.arrays = arrays
        else:
            segment.file_row = self._spill(arrays)
        self.segments.append(segment)
        offsets = np.cumsum(counts) - counts
        self.ids.extend(ids)
        self.counts.extend(counts.tolist())
        self.segment_of.extend([len(self.segments) - 1] * len(ids))
        self.offset_in_segment.extend(offsets.tolist())

    def _spill(self, arrays: Arrays) -> int:
        if self._files is None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            self._files = [open(self.spill_dir / f"{c}.bin", "w+b") for c in COLUMNS]  # noqa: SIM115
        first = self.spilled_rows
        for file, array in zip(self._files, arrays, strict=True):
            file.write(memoryview(np.ascontiguousarray(array)))
        self.spilled_rows += int(arrays[0].size)
        return first

    def close(self) -> None:
        """Close the spill files (the caller removes the folder)."""
        for file in self._files or []:
            file.close()
        self._files = None

    def series_unique(self) -> bool:
        """Whether no series came twice (in two batches, inputs or runs of one batch)."""
        return len(set(self.ids)) == len(self.ids)

    def read_blocks(self, blocks: list[int]) -> Arrays:
        """The rows of ``blocks``, one block after another, as fresh arrays."""
        total = sum(self.counts[b] for b in blocks)
        out = tuple(np.empty(total, dtype=d) for d in _DTYPES)
        if self._files is not None:
            for file in self._files:
                file.flush()
        at = 0
        for b in blocks:
            n = self.counts[b]
            segment = self.segments[self.segment_of[b]]
            start = self.offset_in_segment[b]
            if segment.arrays is not None:
                for column, source in zip(out, segment.arrays, strict=True):
                    column[at : at + n] = source[start : start + n]
            else:
                row = segment.file_row + start
                for column, file in zip(out, self._files, strict=True):
                    _pread_exact(file.fileno(), column[at : at + n], row * 8)
            at += n
        return out  # type: ignore[return-value]

    def fragments(self) -> list[pl.DataFrame | Path]:
        """Each batch's rows as a fragment of the general merge (see ``_frame``), in
        arrival order: spilled batches as Parquet files, so memory stays bounded."""
        out: list[pl.DataFrame | Path] = []
        for segment in self.segments:
            frame = self._frame(segment)
            if segment.arrays is None:
                path = self.spill_dir / f"frag-{segment.seq:08d}.parquet"
                frame.write_parquet(path, compression="lz4", statistics=True)
                out.append(path)
            else:
                out.append(frame)
        return out

    def _frame(self, segment: _Segment) -> pl.DataFrame:
        """prediction_id, timestamp, passed, blocked, _seq, _input of one batch's rows."""
        blocks = list(range(segment.first_block, segment.first_block + segment.n_blocks))
        arrays = self.read_blocks(blocks) if segment.arrays is None else segment.arrays
        ids = pl.Series("prediction_id", [self.ids[b] for b in blocks], dtype=pl.String)
        counts = np.array([self.counts[b] for b in blocks], dtype=np.int64)
        return pl.DataFrame(
            [
                ids.gather(np.repeat(np.arange(len(blocks)), counts)),
                timestamp_series(arrays[0]),
                pl.Series("passed", arrays[1], dtype=pl.Float64),
                pl.Series("blocked", arrays[2], dtype=pl.Float64),
                pl.Series("_seq", np.full(arrays[0].size, segment.seq, dtype=np.int64)),
                pl.Series("_input", np.full(arrays[0].size, segment.input_no, dtype=np.int64)),
            ]
        )


def _pread_exact(fd: int, out: np.ndarray, offset: int) -> None:
    view = memoryview(out).cast("B")
    while view.nbytes:
        got = os.preadv(fd, [view], offset)
        if got <= 0:
            raise OSError(f"spill file ended early at byte {offset}")
        view, offset = view[got:], offset + got


def timestamp_series(micros: np.ndarray) -> pl.Series:
    return pl.Series("timestamp", micros, dtype=pl.Int64).cast(TIMESTAMP)


@dataclass(frozen=True)
class Runs:
    """A long table cut into its runs of one series: keys, row counts, value columns."""

    keys: list[tuple[str, str, str]]
    counts: np.ndarray
    arrays: Arrays
    in_order: np.ndarray  # per run: its timestamps strictly increase


def runs_of(samples: pl.DataFrame) -> Runs:
    """Cut a LONG_SCHEMA frame (no nulls) into runs of consecutive rows of one series."""
    height = samples.height
    changed = pl.any_horizontal(pl.col(k) != pl.col(k).shift(1) for k in KEY_COLUMNS)
    starts = (
        samples.select(pl.arg_where(changed.fill_null(True)).cast(pl.Int64)).to_series().to_numpy()
    )
    keys = samples.select(KEY_COLUMNS)[starts].rows()
    counts = np.diff(np.append(starts, height))
    ts = samples["timestamp"].cast(pl.Int64).to_numpy()
    arrays = (ts, samples["passed"].to_numpy(), samples["blocked"].to_numpy())
    # A step that does not increase, where it is not the start of a run, breaks its run's order.
    steps_up = np.diff(ts) > 0
    steps_up[starts[1:] - 1] = True
    broken = np.flatnonzero(~steps_up) + 1
    in_order = np.ones(len(starts), dtype=bool)
    in_order[np.searchsorted(starts, broken, side="right") - 1] = False
    return Runs(keys, counts, arrays, in_order)
