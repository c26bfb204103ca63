"""What one ingest did: the counts the command prints and the store records.

Apart from the ingest itself (Polars) so that the check for unchanged inputs can
report without loading it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest did (counts over all its inputs)."""

    series_added: int
    series_updated: int
    samples_written: int  # samples read from the inputs
    samples_new: int  # of those, at a (series, timestamp) the store did not hold
    quarantined: Mapping[str, int] = field(default_factory=dict)  # rows by reason
    repaired_duplicates: int = 0  # samples a later one of the same input replaced
    inputs: int = 0
    skipped: bool = False  # the inputs were those of the last ingest: nothing was read

    def as_record(self) -> dict:
        """The counts a later ingest of the same inputs reports (see ``skipped``)."""
        return {
            "samples_written": self.samples_written,
            "quarantined": dict(self.quarantined),
            "repaired_duplicates": self.repaired_duplicates,
            "inputs": self.inputs,
        }

    def describe(self) -> str:
        """The one-line summary the command prints."""
        q_total = sum(self.quarantined.values())
        reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(self.quarantined.items()))
        return (
            f"{self.inputs:,} input{'s' if self.inputs != 1 else ''}: "
            f"{self.series_added:,} series added, {self.series_updated:,} updated, "
            f"{self.samples_written:,} samples written ({self.samples_new:,} new), "
            f"{q_total:,} quarantined" + (f" ({reasons})" if reasons else "") + ", "
            f"{self.repaired_duplicates:,} duplicates repaired"
            + ("; inputs unchanged since the last ingest, not read again" if self.skipped else "")
        )


def unchanged_summary(record: dict) -> IngestSummary:
    """The summary of an ingest whose inputs made the current version."""
    return IngestSummary(
        series_added=0,
        series_updated=0,
        samples_written=int(record.get("samples_written", 0)),
        samples_new=0,
        quarantined=dict(record.get("quarantined", {})),
        repaired_duplicates=int(record.get("repaired_duplicates", 0)),
        inputs=int(record.get("inputs", 0)),
        skipped=True,
    )
