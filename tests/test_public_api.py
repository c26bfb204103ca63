"""The public API lives in one place: ``floodmark.__all__`` is sorted and complete."""

from __future__ import annotations

import importlib

import floodmark

# Subpackages whose public names are re-exported at the top level.
SUBPACKAGES = (
    "floodmark.io",
    "floodmark.store",
    "floodmark.generate",
    "floodmark.features",
    "floodmark.thresholds",
    "floodmark.backtest",
    "floodmark.report",
    "floodmark.export",
)


def test_all_is_sorted_and_resolves():
    assert list(floodmark.__all__) == sorted(floodmark.__all__)
    for name in floodmark.__all__:
        assert hasattr(floodmark, name), name


def test_subpackage_public_names_are_reexported():
    missing = []
    for module_name in SUBPACKAGES:
        module = importlib.import_module(module_name)
        missing += [f"{module_name}.{n}" for n in module.__all__ if n not in floodmark.__all__]
    assert not missing, f"not re-exported from floodmark: {missing}"
