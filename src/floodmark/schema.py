"""Names shared by every module: vectors, metrics, levels and table schemas.

Glossary (the vendor's names, kept as its export spells them):

- object: one protected IP address or range, keyed by ``prediction_id``;
- vector: a kind of traffic (``PT_SYN``: TCP SYN packets, ``PT_TOTAL``: everything …);
- metric: ``PPS`` (packets per second) or ``BW`` (bandwidth);
- series: one (object, vector, metric), samples of ``passed`` and ``blocked`` traffic;
  ``blocked`` is what the mitigation dropped, so a sample with ``blocked`` above the
  blocked threshold is attack traffic;
- levels ``ss``, ``sc``, ``nw``, ``rl``: the four sensitivity levels a detection
  threshold is set at, from the most sensitive (``ss``: lowest, alarms first) to the
  least (``rl``: highest); always ``ss <= sc <= nw <= rl``, in the series' unit;
- ``ip_ss`` … ``ip_rl``: the thresholds an expert configured for the object as a
  single IP; ``range_ss`` … ``range_rl``: those configured for the address range it
  belongs to. Both are optional labels carried from the input, and what the
  ``model`` method learns from (``ip_*`` by default).
"""

from __future__ import annotations

import polars as pl

VECTORS: tuple[str, ...] = (
    "PT_LARGE_SYN",
    "PT_SYN",
    "PT_TCP",
    "PT_DNS",
    "PT_DNS_RESPONSE",
    "PT_NTP",
    "PT_SSDP",
    "PT_ICMP",
    "PT_GENERAL",
    "PT_TOTAL",
    "PT_UDP",
    "PT_FRAG",
    "PT_NETFLOW",
)
METRICS: tuple[str, ...] = ("PPS", "BW")

#: Sensitivity levels, most to least sensitive: thresholds satisfy ss <= sc <= nw <= rl.
LEVELS: tuple[str, ...] = ("ss", "sc", "nw", "rl")
IP_LABELS: tuple[str, ...] = tuple(f"ip_{level}" for level in LEVELS)
RANGE_LABELS: tuple[str, ...] = tuple(f"range_{level}" for level in LEVELS)

KEY_COLUMNS: tuple[str, ...] = ("prediction_id", "vector", "metric")

#: The long table every reader produces and the store holds.
LONG_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "vector": pl.String(),
    "metric": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "passed": pl.Float64(),
    "blocked": pl.Float64(),
}

#: Per-series metadata carried from the input into the store catalog (all optional).
LABEL_SCHEMA: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    **{name: pl.Float64() for name in IP_LABELS + RANGE_LABELS},
}

#: One row per quarantined series (or whole input, when keys are unknown).
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "row": pl.Int64(),
    "prediction_id": pl.String(),
    "vector": pl.String(),
    "metric": pl.String(),
    "reason": pl.String(),
    "detail": pl.String(),
}

#: Stable reason codes for quarantined series.
DEFECT_REASONS: dict[str, str] = {
    "bad_base64": "time_series is not valid base64",
    "bad_gzip": "time_series is not valid gzip",
    "bad_json": "time_series is not valid JSON",
    "too_large": "time_series inflates beyond the per-series limit (--max-series-bytes)",
    "decode_error": "time_series could not be decoded (the detail names the error)",
    "wrong_shape": "JSON document does not have the vendor shape",
    "missing_passed_days": "JSON document has no passedDays",
    "negative_value": "a value is negative",
    "nan_value": "a value is NaN",
    "infinite_value": "a value is infinite",
    "bad_time": "a timestamp cannot be read as a time",
    "bad_number": "a value cell is not a number",
    "unknown_vector": "vector is not one of the known vectors",
    "unknown_metric": "metric is not PPS or BW",
    "missing_key": "prediction_id, vector or metric is empty",
    "missing_file": "catalog names a file that does not exist",
    "outside_root": "catalog names a path outside the data root",
    "unreadable_file": "series file cannot be read",
}


def empty_long() -> pl.DataFrame:
    """An empty frame in the long schema."""
    return pl.DataFrame(schema=LONG_SCHEMA)


def empty_quarantine() -> pl.DataFrame:
    """An empty quarantine table."""
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def series_name(prediction_id: str, vector: str, metric: str) -> str:
    """How a series is named in messages: ``id/vector/metric``."""
    return f"{prediction_id}/{vector}/{metric}"


#: Columns of the vendor export (batch layout), in the order the writer emits them.
#: Only ``prediction_id, vector, metric, time_series`` are required on read.
VENDOR_COLUMNS: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "vector": pl.String(),
    "metric": pl.String(),
    **LABEL_SCHEMA,
    "start_time": pl.Int64(),
    "end_time": pl.Int64(),
    "time_series": pl.String(),
}
