"""The registry: threshold sets, their review and approval, objects and an audit log,
in a database (SQLite by default, PostgreSQL by URL).

>>> from floodmark.registry import open_registry, publish_file, approve_set
>>> registry = open_registry("floodmark.db")  # doctest: +SKIP
>>> published = publish_file(registry, "thresholds.csv", by="alice")  # doctest: +SKIP
>>> approve_set(registry, published.set_id, by="bob", reason="weekly review")  # doctest: +SKIP
>>> effective_thresholds(registry, "approved")  # doctest: +SKIP
"""

from floodmark.registry.approvals import Approved, approve_set
from floodmark.registry.audit import AUDIT_SCHEMA, audit_log, current_user
from floodmark.registry.diff import DIFF_SCHEMA, Guard, diff_sets, diff_thresholds, review_summary
from floodmark.registry.engine import Registry, database_url, default_db, open_registry
from floodmark.registry.errors import RegistryError
from floodmark.registry.objects import (
    ObjectImport,
    import_objects,
    import_objects_csv,
    read_objects,
)
from floodmark.registry.overrides import Overridden, override_threshold
from floodmark.registry.publish import Published, publish_file, publish_thresholds
from floodmark.registry.refresh import Refreshed, features_path, refresh
from floodmark.registry.sets import APPROVED, SETS_SCHEMA, effective_thresholds, list_sets

__all__ = [  # sorted
    "APPROVED",
    "AUDIT_SCHEMA",
    "Approved",
    "DIFF_SCHEMA",
    "Guard",
    "ObjectImport",
    "Overridden",
    "Published",
    "Refreshed",
    "Registry",
    "RegistryError",
    "SETS_SCHEMA",
    "approve_set",
    "audit_log",
    "current_user",
    "database_url",
    "default_db",
    "diff_sets",
    "diff_thresholds",
    "effective_thresholds",
    "features_path",
    "import_objects",
    "import_objects_csv",
    "list_sets",
    "open_registry",
    "override_threshold",
    "publish_file",
    "publish_thresholds",
    "read_objects",
    "refresh",
    "review_summary",
]
