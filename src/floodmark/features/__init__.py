"""Features: whole series in, one row of the notebook's features per series out.

Families are registered in ``floodmark.features.families.FAMILIES``; every
definition is in the module of its family (``stats``, ``daily``, ``quality``).
``feature_kernel`` / ``finish_features`` (in ``floodmark.features.engine``) are
the two stages an engine runs per chunk and once at the end.
"""

from floodmark.features.engine import compute_features, find_super_peaks
from floodmark.features.families import FEATURE_COLUMNS

__all__ = ["FEATURE_COLUMNS", "compute_features", "find_super_peaks"]
