"""Agreement with expert labels: median absolute percentage error and share within ±25 %."""

from __future__ import annotations

import numpy as np


def _pairs(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    # A zero label has no percentage error; such series are left out of both scores.
    keep = np.isfinite(pred) & np.isfinite(truth) & (truth > 0)
    return pred[keep], truth[keep]


def mdape(pred: np.ndarray, truth: np.ndarray) -> float:
    """Median of ``|pred - truth| / truth`` over positive labels (NaN when there are none)."""
    p, t = _pairs(pred, truth)
    return float(np.median(np.abs(p - t) / t)) if len(t) else float("nan")


def within(pred: np.ndarray, truth: np.ndarray, tolerance: float = 0.25) -> float:
    """Share of positive labels predicted within ``±tolerance`` (relative); NaN when none."""
    p, t = _pairs(pred, truth)
    return float(np.mean(np.abs(p - t) <= tolerance * t)) if len(t) else float("nan")
