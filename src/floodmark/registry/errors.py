"""The registry's error: a missing set, a refused override, an unreachable database."""

from __future__ import annotations

from floodmark.errors import FloodmarkError


class RegistryError(FloodmarkError):
    """A registry operation cannot be done as asked (the message says why)."""
