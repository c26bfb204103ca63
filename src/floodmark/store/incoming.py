"""An ingest's incoming samples, held per partition as whole-series blocks.

Readers give whole series (``SeriesBlocks``): each input batch is one or a few
block sets over three plain columns — timestamp (epoch microseconds), passed,
blocked — in memory or in a raw block file a decoding process wrote. A partition
keeps, for each of its series, which block set holds it and where (no key per
sample, no copy): memory holds what the ingest kept in memory plus what is being
written, and block files come back from the page cache at copy speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from floodmark.io.series_blocks import (
    DTYPES,
    Arrays,
    MappedFiles,
    OpenFiles,
    SeriesBlocks,
    in_order_of,
    timestamp_series,
)
from floodmark.schema import KEY_COLUMNS


@dataclass
class _Segment:
    """One batch's series of a partition, all in one block set."""

    seq: int  # the block set's number: later ones are newer
    input_no: int
    source: SeriesBlocks
    first_block: int  # its blocks are [first_block, first_block + n_blocks)
    n_blocks: int


@dataclass
class IncomingPartition:
    """The incoming blocks of one (vector, metric), in arrival order."""

    spill_dir: Path  # where the general merge's fragment files go
    files: OpenFiles = field(default_factory=OpenFiles)
    ids: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    segment_of: list[int] = field(default_factory=list)
    row_in_source: list[int] = field(default_factory=list)
    segments: list[_Segment] = field(default_factory=list)
    #: Every block's timestamps strictly increase (readers sort and repair series).
    in_order: bool = True

    def add(
        self,
        source: SeriesBlocks,
        series: list[int],
        *,
        seq: int,
        input_no: int,
    ) -> None:
        """Take series ``series`` (positions in ``source``, none empty) of one batch."""
        starts = source.starts
        self.segments.append(_Segment(seq, input_no, source, len(self.ids), len(series)))
        self.ids.extend(source.keys[s][0] for s in series)
        self.counts.extend(source.counts[series].tolist())
        self.segment_of.extend([len(self.segments) - 1] * len(series))
        self.row_in_source.extend(starts[series].tolist())
        self.in_order &= bool(source.in_order[series].all())

    def close(self) -> None:
        """Forget the blocks (the caller closes the files and removes the folder)."""
        self.segments.clear()

    def series_unique(self) -> bool:
        """Whether no series came twice (in two batches, inputs or runs of one batch)."""
        return len(set(self.ids)) == len(self.ids)

    def read_blocks(self, blocks: list[int]) -> Arrays:
        """The rows of ``blocks``, one block after another, as fresh arrays."""
        total = sum(self.counts[b] for b in blocks)
        out = tuple(np.empty(total, dtype=d) for d in DTYPES)
        at = 0
        for b in blocks:
            n = self.counts[b]
            source = self.segments[self.segment_of[b]].source
            source.copy_rows(self.row_in_source[b], tuple(c[at : at + n] for c in out), self.files)
            at += n
        return out  # type: ignore[return-value]

    def view_blocks(self, blocks: list[int], maps: MappedFiles) -> list[Arrays]:
        """The rows of each of ``blocks`` as views (see ``SeriesBlocks.view_rows``)."""
        return [
            self.segments[self.segment_of[b]].source.view_rows(
                self.row_in_source[b], self.counts[b], maps
            )
            for b in blocks
        ]

    def fragments(self) -> list[pl.DataFrame | Path]:
        """Each batch's rows as a fragment of the general merge (see ``_frame``), in
        arrival order: batches held in files as Parquet files, so memory stays bounded."""
        out: list[pl.DataFrame | Path] = []
        for number, segment in enumerate(self.segments):
            frame = self._frame(segment)
            if segment.source.arrays is None:
                self.spill_dir.mkdir(parents=True, exist_ok=True)
                path = self.spill_dir / f"frag-{number:08d}.parquet"
                frame.write_parquet(path, compression="lz4", statistics=True)
                out.append(path)
            else:
                out.append(frame)
        return out

    def _frame(self, segment: _Segment) -> pl.DataFrame:
        """prediction_id, timestamp, passed, blocked, _seq, _input of one batch's rows."""
        blocks = list(range(segment.first_block, segment.first_block + segment.n_blocks))
        ts, passed, blocked = self.read_blocks(blocks)
        ids = pl.Series("prediction_id", [self.ids[b] for b in blocks], dtype=pl.String)
        counts = np.array([self.counts[b] for b in blocks], dtype=np.int64)
        return pl.DataFrame(
            [
                ids.gather(np.repeat(np.arange(len(blocks)), counts)),
                timestamp_series(ts),
                pl.Series("passed", passed, dtype=pl.Float64),
                pl.Series("blocked", blocked, dtype=pl.Float64),
                pl.Series("_seq", np.full(ts.size, segment.seq, dtype=np.int64)),
                pl.Series("_input", np.full(ts.size, segment.input_no, dtype=np.int64)),
            ]
        )


def blocks_of(samples: pl.DataFrame) -> SeriesBlocks:
    """A LONG_SCHEMA frame (no nulls) as blocks: its runs of consecutive rows of one series."""
    height = samples.height
    changed = pl.any_horizontal(pl.col(k) != pl.col(k).shift(1) for k in KEY_COLUMNS)
    starts = (
        samples.select(pl.arg_where(changed.fill_null(True)).cast(pl.Int64)).to_series().to_numpy()
    )
    keys = samples.select(KEY_COLUMNS)[starts].rows()
    counts = np.diff(np.append(starts, height))
    ts = samples["timestamp"].cast(pl.Int64).to_numpy()
    arrays = (ts, samples["passed"].to_numpy(), samples["blocked"].to_numpy())
    return SeriesBlocks(keys, counts, in_order_of(ts, starts, counts), arrays)
