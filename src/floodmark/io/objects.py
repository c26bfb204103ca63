"""Protected objects: which networks each ``prediction_id`` covers.

The objects file is a CSV with a header ``prediction_id,name,networks``; ``networks``
holds IPv4 and IPv6 prefixes in CIDR notation separated by spaces (it may be empty:
such an object is kept, and exporters report it instead of guessing its networks).

Example::

    prediction_id,name,networks
    a1,shop frontend,192.0.2.0/24 2001:db8:1::/48
    b2,mail,198.51.100.16/28
"""

from __future__ import annotations

import csv
import ipaddress
from pathlib import Path

import polars as pl

from floodmark.errors import InputFormatError
from floodmark.io.atomic import write_table

OBJECT_COLUMNS: tuple[str, ...] = ("prediction_id", "name", "networks")

#: One row per object; ``networks`` in canonical CIDR text, IPv4 before IPv6.
OBJECT_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "name": pl.String(),
    "networks": pl.List(pl.String()),
}


def parse_networks(text: str | None) -> list[str]:
    """Prefixes from a space-separated list, canonical and de-duplicated.

    Raises ``ValueError`` naming the first prefix that is not a valid network
    (host bits set, such as ``192.0.2.1/24``, count as invalid: they are usually typos).
    """
    networks = []
    for token in (text or "").split():
        try:
            networks.append(ipaddress.ip_network(token, strict=True))
        except ValueError as exc:
            raise ValueError(f"{token!r} is not a network in CIDR notation ({exc})") from None
    unique = sorted(set(networks), key=lambda n: (n.version, n.network_address, n.prefixlen))
    return [str(n) for n in unique]


def read_objects_csv(path: str | Path) -> pl.DataFrame:
    """Read and validate an objects file (``OBJECT_SCHEMA``), one row per object.

    Errors name the file and the 1-based line: a missing column, an empty or repeated
    ``prediction_id``, or an invalid prefix. Surrounding whitespace is trimmed.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in OBJECT_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise InputFormatError(
                    f"objects file lacks column(s) {', '.join(missing)}; "
                    f"expected a header {','.join(OBJECT_COLUMNS)}",
                    file=path,
                )
            rows = [_object_row(path, reader.line_num, record) for record in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputFormatError(f"cannot read objects file ({exc})", file=path) from None
    seen: dict[str, int] = {}
    for line, row in rows:
        if row["prediction_id"] in seen:
            raise InputFormatError(
                f"prediction_id {row['prediction_id']!r} repeats line {seen[row['prediction_id']]}",
                file=path,
                row=line,
            )
        seen[row["prediction_id"]] = line
    return pl.DataFrame([row for _, row in rows], schema=OBJECT_SCHEMA)


def _object_row(path: Path, line: int, record: dict[str, str | None]) -> tuple[int, dict]:
    prediction_id = (record.get("prediction_id") or "").strip()
    if not prediction_id:
        raise InputFormatError("prediction_id is empty", file=path, row=line)
    try:
        networks = parse_networks(record.get("networks"))
    except ValueError as exc:
        raise InputFormatError(str(exc), file=path, row=line) from None
    name = (record.get("name") or "").strip() or prediction_id
    return line, {"prediction_id": prediction_id, "name": name, "networks": networks}


def write_objects_csv(table: pl.DataFrame, path: str | Path) -> Path:
    """Write objects (``OBJECT_SCHEMA``) as the CSV ``read_objects_csv`` reads, atomically."""
    flat = table.select(
        "prediction_id", "name", pl.col("networks").list.join(" ").alias("networks")
    )
    return write_table(flat, path)
