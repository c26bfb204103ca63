"""The threshold methods by name: an explicit registry, never discovered by scanning."""

from __future__ import annotations

from typing import Any

from floodmark.errors import FloodmarkError
from floodmark.thresholds.base import ThresholdMethod
from floodmark.thresholds.budget import Budget
from floodmark.thresholds.evt import EVT
from floodmark.thresholds.experts import Experts
from floodmark.thresholds.model import GBTModel
from floodmark.thresholds.rules import RuleDaily, RuleMax, RuleP95

#: Method name (as used on the command line and in the ``method`` column) → class.
METHODS: dict[str, type[ThresholdMethod]] = {
    "rule-max": RuleMax,
    "rule-daily": RuleDaily,
    "evt": EVT,
    "model": GBTModel,
    "rule-p95": RuleP95,
    "experts": Experts,
    "budget": Budget,
}


def make_method(name: str, **params: Any) -> ThresholdMethod:
    """A new, unfitted method by registry name, e.g. ``make_method("evt", min_days=3)``."""
    try:
        cls = METHODS[name]
    except KeyError:
        raise FloodmarkError(
            f"unknown threshold method {name!r}; choose from {', '.join(METHODS)}"
        ) from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise FloodmarkError(f"{name}: bad parameters ({exc})") from None
