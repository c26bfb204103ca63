"""Order statistics per series: median, quartiles and mode, compiled with Numba.

Each series' values are counted in a hash table (traffic takes few distinct
values: counts are quantised by flow sampling), the distinct values are radix
sorted, and one walk over them in order finds every rank a quantile needs and
the most frequent value. On the generated fleet (8.9 M samples, one thread) this
took 88 ms where Polars' grouped median, quartiles and mode took 280 ms; on
values that are all distinct, 84 ms against 142 ms per 3 M samples.

Results are those of Polars (and pandas): quantiles interpolate linearly between
the samples at ranks ``floor(q (n - 1))`` and the next; the mode is the smallest
of the most frequent values; ``-0.0`` counts as ``0.0`` and NaN sorts last. An
empty series gives NaN.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Fibonacci hashing: the top bits of key * 2^64/phi spread even keys whose low
#: bits are all zero (whole numbers as floats).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SIGN = np.uint64(1 << 63)
_NAN_BITS = np.uint64(0x7FF8000000000000)
#: The quantiles, in the order of their rows in ``order_stats``' result.
QUANTILES = (0.25, 0.5, 0.75)


def order_stats(x: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """``median``, ``q25``, ``q75`` and ``mode`` of each series.

    ``x`` holds the series one after another, ``n[i]`` samples each.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = _order_stats(x, x.view(np.uint64), n.astype(np.int64))
    return {"q25": out[0], "median": out[1], "q75": out[2], "mode": out[3]}


@njit(nogil=True, cache=True)
def _sort_key(value: float, bits: np.uint64) -> np.uint64:
    """Unsigned key in the order of the floats: ``bits`` are ``value``'s IEEE bits,
    negatives flipped whole, positives their sign bit set."""
    if value != value:
        return _NAN_BITS | _SIGN  # every NaN is one value, after +inf
    if value == 0.0:
        return _SIGN  # -0.0 counts as 0.0
    return ~bits if bits & _SIGN else bits | _SIGN


@njit(nogil=True, cache=True)
def _to_floats(keys):
    """Sort keys back to the float64 values, in place."""
    for k in range(keys.size):
        keys[k] = keys[k] ^ _SIGN if keys[k] & _SIGN else ~keys[k]
    return keys.view(np.float64)


@njit(nogil=True, cache=True)
def _order_stats(x, x_bits, n):
    out = np.full((4, n.size), np.nan)
    longest = max(1, n.max()) if n.size else 1
    bits = 1
    while (1 << bits) < 2 * longest:  # at most half full
        bits += 1
    mask = np.uint64((1 << bits) - 1)
    shift = np.uint64(64 - bits)
    table_keys = np.empty(1 << bits, np.uint64)
    table_counts = np.zeros(1 << bits, np.int64)
    slots = np.empty(longest, np.uint64)
    keys = np.empty(longest, np.uint64)
    counts = np.empty(longest, np.int64)
    scratch_keys = np.empty(longest, np.uint64)
    scratch_counts = np.empty(longest, np.int64)
    histograms = np.empty((8, 256), np.int64)
    ranks = np.empty(3, np.int64)
    low = np.empty(3)
    high = np.empty(3)
    start = 0
    for i in range(n.size):
        size = n[i]
        distinct = 0
        for j in range(start, start + size):
            key = _sort_key(x[j], x_bits[j])
            slot = (key * _GOLDEN) >> shift
            while table_counts[slot] != 0 and table_keys[slot] != key:
                slot = (slot + np.uint64(1)) & mask  # linear probing
            if table_counts[slot] == 0:
                table_keys[slot] = key
                slots[distinct] = slot
                distinct += 1
            table_counts[slot] += 1
        for k in range(distinct):
            keys[k] = table_keys[slots[k]]
            counts[k] = table_counts[slots[k]]
            table_counts[slots[k]] = 0  # empty again for the next series
        start += size
        if distinct == 0:
            continue
        _radix_sort(keys[:distinct], counts[:distinct], scratch_keys, scratch_counts, histograms)
        for q in range(3):
            ranks[q] = int(np.floor(QUANTILES[q] * (size - 1)))
        values = _to_floats(keys[:distinct])
        below = 0
        most = 0
        for k in range(distinct):
            value = values[k]
            if counts[k] > most:  # strictly more: ties keep the smaller value
                most = counts[k]
                out[3, i] = value
            above = below + counts[k]
            for q in range(3):
                if below <= ranks[q] < above:
                    low[q] = value
                if below <= ranks[q] + 1 < above:
                    high[q] = value
            below = above
        for q in range(3):
            position = QUANTILES[q] * (size - 1)
            lower = low[q]
            upper = high[q] if ranks[q] + 1 < size else lower
            # Polars' linear interpolation, written as it writes it.
            if lower == upper or position == ranks[q]:
                out[q, i] = lower
            else:
                out[q, i] = (position - ranks[q]) * (upper - lower) + lower
    return out


@njit(nogil=True, cache=True)
def _radix_sort(keys, counts, scratch_keys, scratch_counts, histograms):
    """Sort ``keys`` ascending, ``counts`` along: least significant byte first,
    skipping the bytes every key shares (the exponent, zero low bits)."""
    size = keys.size
    histograms[:] = 0
    for k in range(size):
        for byte in range(8):
            histograms[byte, (keys[k] >> np.uint64(8 * byte)) & np.uint64(255)] += 1
    source_keys, source_counts = keys, counts
    target_keys, target_counts = scratch_keys[:size], scratch_counts[:size]
    in_scratch = False
    for byte in range(8):
        histogram = histograms[byte]
        if histogram.max() == size:
            continue
        offset = 0
        for b in range(256):
            offset, histogram[b] = offset + histogram[b], offset
        shift = np.uint64(8 * byte)
        for k in range(size):
            b = (source_keys[k] >> shift) & np.uint64(255)
            target_keys[histogram[b]] = source_keys[k]
            target_counts[histogram[b]] = source_counts[k]
            histogram[b] += 1
        source_keys, target_keys = target_keys, source_keys
        source_counts, target_counts = target_counts, source_counts
        in_scratch = not in_scratch
    if in_scratch:
        keys[:] = source_keys
        counts[:] = source_counts
