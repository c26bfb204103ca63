"""Package namespaces whose names are imported on first use (PEP 562).

A package ``__init__`` that imports its modules eagerly makes every ``import
floodmark.x.light_module`` pay for Polars, PyArrow and Numba: the command's start-up
and its cheap paths (``--help``, an ingest of unchanged inputs) would load them all.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_names(
    package: str, origins: dict[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``origins`` maps module -> names."""
    origin = {name: module for module, names in origins.items() for name in names}

    def __getattr__(name: str) -> object:
        module = origin.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(origin))

    return __getattr__, __dir__
