"""Generalized extreme value (GEV) fits to daily maxima, for many series at once.

A budget of ``b`` false alarms per day is, to first order, a probability ``b`` that a
day's maximum crosses the level, so the natural model is the distribution of daily
maxima (block maxima, Fisher-Tippett-Gnedenko): a GEV with location ``mu``, scale
``sigma`` and shape ``gamma``. Traffic varies by factors, so the maxima are modelled
on a log scale, ``y = log(max + offset)``.

Three or four weeks of maxima cannot pin the shape down, and the shape decides how far
a once-a-year level lies beyond the data. The fit therefore averages over it: for
each shape on a grid (``gamma >= 0``: a bounded tail on a log scale would promise that
traffic never exceeds what was seen), ``mu`` and ``sigma`` come from a least-squares
fit of the order statistics to GEV quantiles (Gringorten plotting positions),
the lowest ``censor`` share of the days is treated as censored (dead days and outages
say nothing about the upper tail), and each shape is weighted by its likelihood (a
flat prior). The exceedance probability of a level is the posterior-weighted mixture,
which is heavier-tailed than any single plug-in fit: that is what makes rare-level
promises hold on new data.

Everything is vectorised over a ``(series, days)`` matrix padded with NaN.
"""

from __future__ import annotations

import numpy as np

#: |gamma| below this is the Gumbel limit.
GAMMA_EPS = 1e-9


def shape_grid(max_shape: float, n: int = 21) -> np.ndarray:
    """The shapes averaged over: ``0 … max_shape``."""
    return np.linspace(0.0, max_shape, n)


def unit_quantile(p: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Quantile of the standard GEV (``mu=0, sigma=1``) at non-exceedance ``p``."""
    y = -np.log(p)
    small = np.abs(gamma) < GAMMA_EPS
    g = np.where(small, 1.0, gamma)
    return np.where(small, -np.log(y), (y ** (-g) - 1.0) / g)


def _t(z: np.ndarray, mu: np.ndarray, sigma: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """``-log P(X <= z)`` for a GEV (``gamma >= 0``); ``inf`` below the lower bound."""
    small = np.abs(gamma) < GAMMA_EPS
    g = np.where(small, 1.0, gamma)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = (z - mu) / sigma
        base = 1.0 + g * s
        t_general = np.where(base > 0, np.power(np.maximum(base, 1e-300), -1.0 / g), np.inf)
        return np.where(small, np.exp(-s), t_general)


def gev_sf(z: np.ndarray, mu: np.ndarray, sigma: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """``P(X > z)`` for a GEV (``gamma >= 0``), broadcast over all arguments."""
    return -np.expm1(-_t(z, mu, sigma, gamma))


def _log_density(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray, gamma: float) -> np.ndarray:
    """GEV log density; ``-inf`` outside the support."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = (x - mu) / sigma
        if abs(gamma) < GAMMA_EPS:
            return -np.log(sigma) - s - np.exp(-s)
        base = 1.0 + gamma * s
        safe = np.maximum(base, 1e-300)
        out = -np.log(sigma) - (1.0 + 1.0 / gamma) * np.log(safe) - safe ** (-1.0 / gamma)
    return np.where(base > 0, out, -np.inf)


def fit_posterior(
    y: np.ndarray, shapes: np.ndarray, censor: float = 0.25
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mu, sigma, weights)``, each ``(series, shapes)``, from sorted-or-not maxima ``y``.

    ``y`` is ``(series, days)`` with NaN padding; rows need at least three values.
    Weights sum to one per row (the posterior over ``shapes`` under a flat prior).
    """
    y = np.sort(y, axis=1)  # NaN last
    finite = np.isfinite(y)
    n = finite.sum(axis=1)
    rank = np.arange(y.shape[1])[None, :]
    p = np.clip((rank + 1 - 0.44) / (n[:, None] + 0.12), 1e-9, 1 - 1e-9)
    k = np.floor(n * censor).astype(np.int64)  # censored lowest days
    upper = finite & (rank >= k[:, None])
    x_cens = np.take_along_axis(np.where(finite, y, np.inf), np.maximum(k - 1, 0)[:, None], 1)[:, 0]
    yu = np.where(upper, y, 0.0)
    m = upper.sum(axis=1)
    y_bar = yu.sum(axis=1) / m

    mus, sigmas, logliks = [], [], []
    for gamma in shapes:
        # Ordinary least squares of the kept order statistics on the standard quantiles.
        # (Inverse-variance weights would let the bulk decide the scale; on short
        # records that made the predictive two to five times too cautious.)
        h = np.where(upper, unit_quantile(p, np.float64(gamma)), 0.0)
        h_bar = h.sum(axis=1) / m
        dh = np.where(upper, h - h_bar[:, None], 0.0)
        slope = (dh * (yu - y_bar[:, None])).sum(axis=1) / (dh * dh).sum(axis=1)
        sigma = np.maximum(slope, 1e-12)
        mu = y_bar - sigma * h_bar
        dens = _log_density(y, mu[:, None], sigma[:, None], float(gamma))
        ll = np.where(upper, dens, 0.0).sum(axis=1)
        # log P(X <= x_cens) directly: 1 - sf would round to 0 far below the bulk
        ll = ll - np.where(k > 0, k * _t(x_cens, mu, sigma, np.float64(gamma)), 0.0)
        mus.append(mu)
        sigmas.append(sigma)
        logliks.append(ll)
    mu = np.stack(mus, axis=1)
    sigma = np.stack(sigmas, axis=1)
    ll = np.stack(logliks, axis=1)
    ll = np.where(np.isfinite(ll), ll, -np.inf)
    top = ll.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        w = np.exp(ll - np.where(np.isfinite(top), top, 0.0))
    w = np.where(np.isfinite(w), w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = w / total
    return mu, sigma, w


def predictive_sf(
    y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, weights: np.ndarray, shapes: np.ndarray
) -> np.ndarray:
    """Posterior predictive ``P(Y > y)`` per series (``y`` is ``(series,)`` or ``(series, k)``)."""
    y = np.asarray(y, dtype=np.float64)
    squeeze = y.ndim == 1
    yy = y[:, :, None] if not squeeze else y[:, None, None]
    out = (weights[:, None, :] * gev_sf(yy, mu[:, None, :], sigma[:, None, :], shapes)).sum(-1)
    return out[:, 0] if squeeze else out
