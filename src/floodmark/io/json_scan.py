"""A compiled reader for the exact vendor JSON shape: bytes straight into float arrays.

One pass over the inflated text (Numba), no Python object per sample. It takes
only documents it can read exactly as the general parse does and refuses the
rest (``None``), which then go to the general path; so whatever it returns, the
general path returns too. It refuses:

- anything but ``{"passedDays": {...}, "blockedDays": {...} | null,
  "underAttack": true | false | null}`` (any member order, any JSON whitespace,
  ``blockedDays``/``underAttack`` optional) with days ``{"values": [...]}`` and
  samples ``{"value": N, "timeStamp": N}``; a member given twice; a day name that
  is not plain printable ASCII (escapes, non-ASCII) or is repeated in one side;
- a number it cannot prove exact: ``m x 10^e`` with at most 19 significant digits,
  ``m <= 2^53`` and ``|e| <= 22`` is one IEEE multiplication or division of two
  exactly representable doubles, hence correctly rounded, hence bit-identical to
  Python's ``float()`` (Clinger's fast path; zero of any exponent is exact too).
  Longer mantissas, larger exponents, ``NaN``/``Infinity`` tokens are refused.
"""

from __future__ import annotations

import numba
import numpy as np

# Status codes of ``_scan``; anything but OK sends the document to the general path.
OK = 0
REFUSED = 1

_MAX_EXACT = 2**53
_POW10 = np.array([10.0**k for k in range(23)])  # 1e0 .. 1e22, every one exact

# Member names and literals, as tuples of byte values (compiled in as constants).
_PASSED = tuple(b"passedDays")
_BLOCKED = tuple(b"blockedDays")
_UNDER = tuple(b"underAttack")
_VALUES = tuple(b"values")
_TRUE = tuple(b"true")
_FALSE = tuple(b"false")
_NULL = tuple(b"null")

#: The shortest sample, ``{"value":0,"timeStamp":0}``, and the shortest day,
#: ``"":{"values":[]}``: bounds on how many of each a text can hold.
_MIN_SAMPLE_BYTES = 25
_MIN_DAY_BYTES = 16


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _skip_ws(b, i):
    n = b.size
    while i < n:
        c = b[i]
        if c == 32 or c == 10 or c == 13 or c == 9:
            i += 1
        else:
            break
    return i


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _plain_string(b, i):
    """End (after the closing quote) of the string at ``i``; -1 unless plain printable ASCII."""
    n = b.size
    if i >= n or b[i] != 34:
        return -1
    i += 1
    while i < n:
        c = b[i]
        if c == 34:
            return i + 1
        if c == 92 or c < 32 or c >= 127:  # escapes and non-ASCII go to the general path
            return -1
        i += 1
    return -1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _is(b, start, stop, word):
    """Whether ``b[start:stop]`` is ``word``."""
    if stop - start != len(word):
        return False
    for k in range(len(word)):  # noqa: SIM110 - compiled: no generators
        if b[start + k] != word[k]:
            return False
    return True


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _colon(b, i):
    i = _skip_ws(b, i)
    if i >= b.size or b[i] != 58:
        return -1
    return _skip_ws(b, i + 1)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _is_ws(c):
    return c == 32 or c == 10 or c == 13 or c == 9


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _is_digit(c):
    return 48 <= c <= 57


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _exact(mantissa, exp10, negative):
    """``(-1)^negative x mantissa x 10^exp10`` as a double; NaN when not provably exact."""
    if mantissa == 0:
        value = 0.0
    elif mantissa > _MAX_EXACT or exp10 > 22 or exp10 < -22:
        return np.nan  # never a parsed value: NaN tokens are refused before
    elif exp10 >= 0:
        value = float(mantissa) * _POW10[exp10]
    else:
        value = float(mantissa) / _POW10[-exp10]
    return -value if negative else value


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _samples(b, i, stamps, values, count):
    """Read ``[sample, ...]`` at ``i`` into the arrays from ``count``; (end, new count).

    The hot loop, written out in one function: a call passing the arrays costs
    reference counting, which took more time than the reading itself.
    """
    n = b.size
    if i >= n or b[i] != 91:  # '['
        return -1, count
    i += 1
    while i < n and _is_ws(b[i]):
        i += 1
    if i < n and b[i] == 93:  # ']'
        return i + 1, count
    while True:
        if i >= n or b[i] != 123 or count >= stamps.size:  # '{'
            return -1, count
        i += 1
        have = 0  # 1: value read, 2: timeStamp read
        while True:
            while i < n and _is_ws(b[i]):
                i += 1
            # The member name: "value" or "timeStamp", spelled plainly. Byte by byte
            # here: a call to a comparing function made the whole scan 1.5x slower.
            if (
                i + 7 <= n
                and b[i] == 34
                and b[i + 1] == 118
                and b[i + 2] == 97
                and b[i + 3] == 108
                and b[i + 4] == 117
                and b[i + 5] == 101
                and b[i + 6] == 34
            ):
                field = 1
                i += 7
            elif (
                i + 11 <= n
                and b[i] == 34
                and b[i + 1] == 116
                and b[i + 2] == 105
                and b[i + 3] == 109
                and b[i + 4] == 101
                and b[i + 5] == 83
                and b[i + 6] == 116
                and b[i + 7] == 97
                and b[i + 8] == 109
                and b[i + 9] == 112
                and b[i + 10] == 34
            ):
                field = 2
                i += 11
            else:
                return -1, count
            if have & field:
                return -1, count
            have |= field
            while i < n and _is_ws(b[i]):
                i += 1
            if i >= n or b[i] != 58:  # ':'
                return -1, count
            i += 1
            while i < n and _is_ws(b[i]):
                i += 1
            # The number, by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
            negative = False
            if i < n and b[i] == 45:  # '-'
                negative = True
                i += 1
            if i >= n or not _is_digit(b[i]):
                return -1, count
            mantissa = 0
            digits = 0  # significant digits in the mantissa
            exp10 = 0
            fraction_or_exponent = False
            if b[i] == 48:  # a leading 0 stands alone
                i += 1
            else:
                while i < n and _is_digit(b[i]):
                    if digits == 19:
                        return -1, count
                    mantissa = mantissa * 10 + (b[i] - 48)
                    if mantissa > _MAX_EXACT:  # refused by _exact anyway; never wraps round
                        return -1, count
                    digits += 1
                    i += 1
            if i < n and b[i] == 46:  # '.'
                fraction_or_exponent = True
                i += 1
                if i >= n or not _is_digit(b[i]):
                    return -1, count
                while i < n and _is_digit(b[i]):
                    if mantissa != 0 or b[i] != 48:
                        if digits == 19:
                            return -1, count
                        mantissa = mantissa * 10 + (b[i] - 48)
                        if mantissa > _MAX_EXACT:
                            return -1, count
                        digits += 1
                    exp10 -= 1
                    i += 1
            if i < n and (b[i] == 101 or b[i] == 69):  # 'e', 'E'
                fraction_or_exponent = True
                i += 1
                exp_negative = False
                if i < n and (b[i] == 43 or b[i] == 45):
                    exp_negative = b[i] == 45
                    i += 1
                if i >= n or not _is_digit(b[i]):
                    return -1, count
                explicit = 0
                while i < n and _is_digit(b[i]):
                    if explicit < 100_000:  # past that only a zero mantissa is exact
                        explicit = explicit * 10 + (b[i] - 48)
                    i += 1
                exp10 += -explicit if exp_negative else explicit
            # An integer token is a Python int first: -0 is 0, not -0.0.
            integer_zero = mantissa == 0 and not fraction_or_exponent
            value = _exact(mantissa, exp10, negative and not integer_zero)
            if np.isnan(value):
                return -1, count
            if field == 1:
                values[count] = value
            else:
                stamps[count] = value
            while i < n and _is_ws(b[i]):
                i += 1
            if i < n and b[i] == 44:  # ',' then the next member
                i += 1
                continue
            if i < n and b[i] == 125 and have == 3:  # '}' after both members
                i += 1
                break
            return -1, count
        count += 1
        while i < n and _is_ws(b[i]):
            i += 1
        if i < n and b[i] == 44:
            i += 1
            while i < n and _is_ws(b[i]):
                i += 1
            continue
        if i < n and b[i] == 93:
            return i + 1, count
        return -1, count


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _side(b, i, side, stamps, values, count, days, n_days):
    """Read one side's ``{day: {"values": [...]}, ...}``; (end, count, n_days)."""
    n = b.size
    if i >= n or b[i] != 123:
        return -1, count, n_days
    i = _skip_ws(b, i + 1)
    if i < n and b[i] == 125:
        return i + 1, count, n_days
    while True:
        end = _plain_string(b, i)
        if end < 0 or n_days >= days.shape[0]:
            return -1, count, n_days
        days[n_days, 0] = side
        days[n_days, 1] = i + 1
        days[n_days, 2] = end - 1
        n_days += 1
        i = _colon(b, end)
        if i < 0 or i >= n or b[i] != 123:
            return -1, count, n_days
        i = _skip_ws(b, i + 1)
        end = _plain_string(b, i)
        if end < 0 or not _is(b, i + 1, end - 1, _VALUES):
            return -1, count, n_days
        i = _colon(b, end)
        if i < 0:
            return -1, count, n_days
        i, count = _samples(b, i, stamps, values, count)
        if i < 0:
            return -1, count, n_days
        i = _skip_ws(b, i)
        if i >= n or b[i] != 125:  # a day holds "values" alone
            return -1, count, n_days
        i = _skip_ws(b, i + 1)
        if i < n and b[i] == 44:
            i = _skip_ws(b, i + 1)
            continue
        if i < n and b[i] == 125:
            return i + 1, count, n_days
        return -1, count, n_days


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _literal(b, i, word):
    if i + len(word) > b.size or not _is(b, i, i + len(word), word):
        return -1
    return i + len(word)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _scan(b, stamps, values, days, bounds):
    """Read a whole document; ``bounds`` gets [passed start, stop, blocked start, stop, days].

    Returns OK or REFUSED.
    """
    n = b.size
    i = _skip_ws(b, 0)
    if i >= n or b[i] != 123:
        return REFUSED
    i = _skip_ws(b, i + 1)
    count = 0
    n_days = 0
    seen_passed = False
    seen_blocked = False
    seen_under = False
    bounds[0] = bounds[1] = bounds[2] = bounds[3] = 0
    if i < n and b[i] == 125:
        return REFUSED  # no passedDays
    while True:
        end = _plain_string(b, i)
        if end < 0:
            return REFUSED
        key_start = i + 1
        i = _colon(b, end)
        if i < 0:
            return REFUSED
        if _is(b, key_start, end - 1, _PASSED) and not seen_passed:
            seen_passed = True
            bounds[0] = count
            i, count, n_days = _side(b, i, 0, stamps, values, count, days, n_days)
            bounds[1] = count
        elif _is(b, key_start, end - 1, _BLOCKED) and not seen_blocked:
            seen_blocked = True
            bounds[2] = count
            null_end = _literal(b, i, _NULL)
            if null_end >= 0:
                i = null_end
            else:
                i, count, n_days = _side(b, i, 1, stamps, values, count, days, n_days)
            bounds[3] = count
        elif _is(b, key_start, end - 1, _UNDER) and not seen_under:
            seen_under = True
            end = _literal(b, i, _TRUE)
            if end < 0:
                end = _literal(b, i, _FALSE)
            if end < 0:
                end = _literal(b, i, _NULL)
            i = end
        else:
            return REFUSED
        if i < 0:
            return REFUSED
        i = _skip_ws(b, i)
        if i < n and b[i] == 44:
            i = _skip_ws(b, i + 1)
            continue
        if i < n and b[i] == 125:
            break
        return REFUSED
    if not seen_passed or _skip_ws(b, i + 1) != n:
        return REFUSED
    bounds[4] = n_days
    return OK


def scan_document(text: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(passed stamps, passed values, blocked stamps, blocked values) as float64, or None.

    None: the document is not one this reader takes exactly (see the module doc).
    """
    buffer = np.frombuffer(text, np.uint8)
    capacity = buffer.size // _MIN_SAMPLE_BYTES + 1
    stamps = np.empty(capacity)
    values = np.empty(capacity)
    days = np.empty((buffer.size // _MIN_DAY_BYTES + 1, 3), np.int64)
    bounds = np.zeros(5, np.int64)
    if _scan(buffer, stamps, values, days, bounds) != OK:
        return None
    # A day named twice in one side: the general parse keeps the later one only.
    for side in (0, 1):
        names = [text[start:stop] for s, start, stop in days[: bounds[4]].tolist() if s == side]
        if len(set(names)) != len(names):
            return None
    p_lo, p_hi, b_lo, b_hi = bounds[:4].tolist()
    # Views of buffers sized for the worst case (about 1.6x a usual series): they
    # live until the batch's arrays are concatenated.
    return stamps[p_lo:p_hi], values[p_lo:p_hi], stamps[b_lo:b_hi], values[b_lo:b_hi]
