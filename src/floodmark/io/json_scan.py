"""A compiled reader for the exact vendor JSON shape: bytes straight into float arrays.

One pass over the inflated text (Numba), no Python object per sample; the sample
the vendor writes, ``{"value":N,"timeStamp":N}``, is read eight bytes at a time and
any other spelling by a loop over its members, with the same results. It takes
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

import sys

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

# Status codes of ``_scan``; anything but OK sends the document to the general path.
OK = 0
REFUSED = 1

_MAX_EXACT = 2**53
_POW10 = np.array([10.0**k for k in range(23)])  # 1e0 .. 1e22, every one exact
_POW10_INT = np.array([10**k for k in range(16)], np.uint64)

# Member names and literals, as tuples of byte values (compiled in as constants).
_PASSED = tuple(b"passedDays")
_BLOCKED = tuple(b"blockedDays")
_UNDER = tuple(b"underAttack")
_VALUES = tuple(b"values")
_TRUE = tuple(b"true")
_FALSE = tuple(b"false")
_NULL = tuple(b"null")

# The canonical sample, ``{"value":N,"timeStamp":N}`` (what the vendor and the generator
# write), is read eight bytes at a time: its member names compared as whole words, its
# numbers converted eight digits per step. Words are loaded in the machine's byte order,
# so the names are too; the digit conversion assumes little-endian (else not used).
_SWAR = sys.byteorder == "little"
_VALUE_KEY = int.from_bytes(b'"value":', sys.byteorder)
_STAMP_KEY_HEAD = int.from_bytes(b',"timeSt', sys.byteorder)
_STAMP_KEY_TAIL = int.from_bytes(b'eStamp":', sys.byteorder)  # overlaps the head by 3 bytes
_HIGH_BITS = 0x8080808080808080
_LOW_7_BITS = 0x7F7F7F7F7F7F7F7F
_ZERO_DIGITS = 0x3030303030303030
_PAST_NINE = 0x4646464646464646  # 0x80 - 0x3A in every byte: sets bit 7 from ':' up
#: How far from its ``{`` a canonical sample read by words may look: ``{"value":`` (9
#: bytes), a value of at most 16 (15 digits and a point), ``,"timeStamp":`` (13) and the
#: 32 bytes ``_short_number`` reads for the timestamp.
_FAST_REACH = 9 + 16 + 13 + 32

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


# The word readers below take the text's address, not its array: a function given an
# array pays reference counting on every call (two atomic operations and two calls per
# number here, slower than the reading itself), a plain integer pays nothing.


@intrinsic
def _word(typingctx, address, index):
    """The eight bytes at ``address + index`` as one unaligned load (machine byte order).

    One ``mov``, whatever the compiler would make of eight byte reads. Unchecked:
    the caller guarantees the eight bytes are the text's.
    """

    def codegen(context, builder, signature, args):
        at = builder.add(args[0], args[1])
        return builder.load(builder.inttoptr(at, ir.IntType(64).as_pointer()), align=1)

    return types.uint64(types.intp, types.intp), codegen


@intrinsic
def _byte(typingctx, address, index):
    """The byte at ``address + index``, unchecked."""

    def codegen(context, builder, signature, args):
        at = builder.add(args[0], args[1])
        return builder.load(builder.inttoptr(at, ir.IntType(8).as_pointer()))

    return types.uint8(types.intp, types.intp), codegen


@intrinsic
def _trailing_zeros(typingctx, word):
    """Trailing zero bits of a non-zero uint64 (one instruction)."""

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return types.uint64(types.uint64), codegen


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _digits_in(word):
    """How many ASCII digits ``word`` starts with (its low bytes first), 0..8.

    Bit 7 of a byte of ``stop`` marks a byte that is not a digit: above 0x7F, below
    '0' (no borrow into bit 7 once it is set) or above '9' (no carry out of a byte
    below 0x80), so no byte disturbs its neighbours.
    """
    stop = (
        word
        | ~((word | np.uint64(_HIGH_BITS)) - np.uint64(_ZERO_DIGITS))
        | ((word & np.uint64(_LOW_7_BITS)) + np.uint64(_PAST_NINE))
    ) & np.uint64(_HIGH_BITS)
    if stop == 0:
        return 8
    return np.int64(_trailing_zeros(stop) >> np.uint64(3))


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _digit_run(address, i):
    """How many ASCII digits start at ``i``, counted up to 16; reads 16 bytes."""
    count = _digits_in(_word(address, i))
    if count < 8:
        return count
    return 8 + _digits_in(_word(address, i + 8))


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _eight_digits(word):
    """The number the eight ASCII digits of ``word`` spell (first digit in the low byte).

    Bytes 0x00 in the low end read as leading zeros. Three multiplications, each
    joining neighbouring groups: digits into pairs, pairs into fours, fours into eight.
    """
    word = ((word & np.uint64(0x0F0F0F0F0F0F0F0F)) * np.uint64(2561)) >> np.uint64(8)
    word = ((word & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
    return ((word & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) >> np.uint64(32)


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _digits_value(address, i, count):
    """The number spelled by the ``count`` (1..15) digits at ``i``; reads 16 bytes."""
    if count <= 8:
        return _eight_digits(_word(address, i) << np.uint64(64 - 8 * count))
    rest = count - 8
    return _eight_digits(_word(address, i)) * _POW10_INT[rest] + _eight_digits(
        _word(address, i + 8) << np.uint64(64 - 8 * rest)
    )


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _short_number(address, i):
    """(value, end) of the number at ``i`` when it is digits with an optional fraction,
    at most 15 digits in all, no sign and no exponent; end -1 for anything else.

    Such a number is ``m / 10^f`` with ``m < 10^15 <= 2^53`` and ``f <= 15``: what
    ``_exact`` computes for it, by the same operation. Reads at most 32 bytes from ``i``.
    """
    whole = _digit_run(address, i)
    if whole == 0 or whole > 15 or (whole > 1 and _byte(address, i) == 48):  # 01 is not JSON
        return 0.0, -1
    point = i + whole
    if _byte(address, point) != 46:  # '.'
        return float(_digits_value(address, i, whole)), point
    fraction = _digit_run(address, point + 1)
    if fraction == 0 or whole + fraction > 15:
        return 0.0, -1
    mantissa = _digits_value(address, i, whole) * _POW10_INT[fraction] + _digits_value(
        address, point + 1, fraction
    )
    return float(mantissa) / _POW10[fraction], point + 1 + fraction


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
    address = b.ctypes.data
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
        taken = False
        if _SWAR and i + _FAST_REACH <= n and _word(address, i + 1) == np.uint64(_VALUE_KEY):
            # The canonical sample, read by words; any other spelling (whitespace,
            # the other member order, a sign, an exponent, more digits) is left to
            # the member loop below, from this same '{'.
            value, end = _short_number(address, i + 9)
            if (
                end >= 0
                and _word(address, end) == np.uint64(_STAMP_KEY_HEAD)
                and _word(address, end + 5) == np.uint64(_STAMP_KEY_TAIL)
            ):
                stamp, end = _short_number(address, end + 13)
                if end >= 0 and b[end] == 125:  # '}'
                    values[count] = value
                    stamps[count] = stamp
                    taken = True
                    i = end  # the '}', stepped over below
        i += 1
        have = 0  # 1: value read, 2: timeStamp read
        while not taken:
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
