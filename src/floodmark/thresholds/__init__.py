"""Threshold methods: features (and samples) of a learning window → ss <= sc <= nw <= rl.

Every method follows one contract (``ThresholdMethod``): parameters in ``__init__``,
``fit(features, samples=None)`` learns and returns ``self``, ``predict(features)``
applies it and returns the thresholds table (``THRESHOLD_SCHEMA``).

Example::

    from floodmark.thresholds import make_method
    table = make_method("rule-daily").fit(features).predict(features)
"""

from floodmark.thresholds.base import (
    EXPECTED_FA_COLUMNS,
    THRESHOLD_SCHEMA,
    ThresholdMethod,
    empty_thresholds,
)
from floodmark.thresholds.budget import Budget
from floodmark.thresholds.default import default_method, resolve_method
from floodmark.thresholds.evt import EVT
from floodmark.thresholds.experts import Experts
from floodmark.thresholds.floors import Floors, floor_thresholds
from floodmark.thresholds.methods import METHODS, make_method
from floodmark.thresholds.model import GBTModel
from floodmark.thresholds.recommend import fallback_summary, recommend_thresholds
from floodmark.thresholds.rules import RuleDaily, RuleMax, RuleP95

__all__ = [  # sorted; tests keep it complete
    "Budget",
    "EVT",
    "EXPECTED_FA_COLUMNS",
    "Experts",
    "Floors",
    "GBTModel",
    "METHODS",
    "RuleDaily",
    "RuleMax",
    "RuleP95",
    "THRESHOLD_SCHEMA",
    "ThresholdMethod",
    "default_method",
    "empty_thresholds",
    "fallback_summary",
    "floor_thresholds",
    "make_method",
    "recommend_thresholds",
    "resolve_method",
]
