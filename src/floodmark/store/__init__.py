"""The store: partitioned Parquet samples, a catalog and a quarantine, updated atomically.

>>> from floodmark.store import ingest_files, open_store
>>> ingest_files("fleet-store", ["export.parquet"])  # doctest: +SKIP
>>> store = open_store("fleet-store")  # doctest: +SKIP
>>> store.catalog(), store.read_series(vector="PT_SYN")  # doctest: +SKIP

Names are imported on first use, so that ``floodmark.store.layout`` and the check
for unchanged inputs load without Polars.
"""

from floodmark.lazy import lazy_names

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "floodmark.store.chunks": ("ChunkPiece", "ChunkSpec", "read_chunk", "read_chunk_runs"),
        "floodmark.store.ingestion": ("ingest", "ingest_files"),
        "floodmark.store.summary": ("IngestSummary",),
        "floodmark.store.reader": ("Store", "open_store"),
        "floodmark.store.tables": ("CATALOG_SCHEMA", "STORE_QUARANTINE_SCHEMA"),
    },
)

__all__ = [  # sorted; tests keep it complete
    "CATALOG_SCHEMA",
    "ChunkPiece",
    "ChunkSpec",
    "IngestSummary",
    "STORE_QUARANTINE_SCHEMA",
    "Store",
    "ingest",
    "ingest_files",
    "open_store",
    "read_chunk",
    "read_chunk_runs",
]
