"""The store: partitioned Parquet samples, a catalog and a quarantine, updated atomically.

>>> from floodmark.store import ingest_files, open_store
>>> ingest_files("fleet-store", ["export.parquet"])  # doctest: +SKIP
>>> store = open_store("fleet-store")  # doctest: +SKIP
>>> store.catalog(), store.read_series(vector="PT_SYN")  # doctest: +SKIP
"""

from floodmark.store.chunks import ChunkPiece, ChunkSpec, read_chunk, read_chunk_runs
from floodmark.store.ingestion import IngestSummary, ingest, ingest_files
from floodmark.store.reader import Store, open_store
from floodmark.store.tables import CATALOG_SCHEMA, STORE_QUARANTINE_SCHEMA

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
