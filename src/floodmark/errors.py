"""One error tree: every failure floodmark raises on purpose is a FloodmarkError.

Each error carries what it is about (a file, a row, a series) so the CLI can print
one line a user can act on.
"""

from __future__ import annotations

from pathlib import Path


class FloodmarkError(Exception):
    """Root of floodmark's errors.

    Parameters
    ----------
    message: what went wrong, in words a user understands.
    file, row, series: where it went wrong; any may be omitted.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        series: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.series = series

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.series is not None:
            where.append(f"series {self.series}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class InputFormatError(FloodmarkError):
    """An input file cannot be read as the format it claims to be."""


class SeriesDefect(InputFormatError):
    """One series is broken; readers quarantine it (or raise it when strict).

    ``reason`` is a short stable code (see ``floodmark.schema.DEFECT_REASONS``).
    """

    def __init__(self, reason: str, message: str, **where) -> None:
        super().__init__(message, **where)
        self.reason = reason


class OutputError(FloodmarkError):
    """An output file cannot be written (read-only folder, full disk, …); names the target."""


class SchemaError(FloodmarkError):
    """A table lacks a required column or has one of the wrong type."""


class StoreError(FloodmarkError):
    """A store directory is missing, foreign or inconsistent."""


class InsufficientDataError(FloodmarkError):
    """There is not enough data to compute or fit what was asked."""


class NotFittedError(FloodmarkError):
    """A method was used before ``fit()``."""
