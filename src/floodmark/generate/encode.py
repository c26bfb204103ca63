"""The vendor cell of a generated series, built in bulk: base64( gzip( JSON ) ).

``io.codec.encode_time_series`` builds a Python dict per sample and deflates with
zlib level 6: fine for an export, but about 70 % of the generator's time.
Here orjson formats every number of a side in one call (the same text it writes for
the Python floats and ints ``encode_time_series`` hands it), a compiled loop splices
those numbers into the vendor's JSON, and ISA-L deflates. The JSON text is byte for
byte ``encode_time_series``'s; only the deflate stream differs (ISA-L level 1 is
about 10x zlib level 6 on this JSON; cells 7 % larger). Decoded, a cell is what
``encode_time_series`` would have written: tests hold the two to the same text.
"""

from __future__ import annotations

import numba
import numpy as np
import orjson
import pyarrow as pa
import pybase64
from isal import igzip

DAY = 86_400
#: ISA-L's levels are 0..3; 1 measured as fast as 0 and 2, and the smallest on vendor JSON.
DEFLATE_LEVEL = 1

_SAMPLE_OPEN = np.frombuffer(b'{"value":', np.uint8)
_SAMPLE_MIDDLE = np.frombuffer(b',"timeStamp":', np.uint8)
_DAY_CLOSE = np.frombuffer(b"]}", np.uint8)
_COMMA, _BRACKET_CLOSE, _BRACE_OPEN, _BRACE_CLOSE = b",]{}"
#: Bytes a sample adds besides its two numbers: the text above, "}" and a comma.
_SAMPLE_EXTRA = _SAMPLE_OPEN.size + _SAMPLE_MIDDLE.size + 2


def vendor_cell(
    passed_ts: np.ndarray, passed: np.ndarray, blocked_ts: np.ndarray, blocked: np.ndarray
) -> str:
    """One ``time_series`` cell: what ``encode_time_series`` holds, decoded, faster.

    Timestamps must be sorted (a generated series is); values are float64.
    """
    text = vendor_json(passed_ts, passed, blocked_ts, blocked)
    # mtime 0: the same series gives the same bytes on every run.
    return pybase64.b64encode(igzip.compress(text, DEFLATE_LEVEL, mtime=0)).decode("ascii")


def cell_array(cells: list[str]) -> pa.StringArray:
    """``cells`` as one Arrow string array, from two buffers.

    ``pa.array`` copies string by string: 5x slower on these megabyte cells, and the
    writer's process paid it for every object.
    """
    data = "".join(cells).encode("ascii")  # base64 is ASCII: one byte a character
    offsets = np.zeros(len(cells) + 1, np.int32)
    np.cumsum([len(cell) for cell in cells], out=offsets[1:])
    return pa.StringArray.from_buffers(len(cells), pa.py_buffer(offsets), pa.py_buffer(data))


def vendor_json(
    passed_ts: np.ndarray, passed: np.ndarray, blocked_ts: np.ndarray, blocked: np.ndarray
) -> bytes:
    """The vendor JSON document of one series, as compact as orjson writes it."""
    attacked = bool(np.any(np.asarray(blocked) > 0))
    return b"".join(
        (
            b'{"passedDays":',
            _side(passed_ts, passed),
            b',"blockedDays":',
            _side(blocked_ts, blocked),
            b',"underAttack":',
            b"true" if attacked else b"false",
            b"}",
        )
    )


def _side(ts: np.ndarray, val: np.ndarray) -> bytes:
    """``{"YYYY-MM-DD":{"values":[{"value":v,"timeStamp":t},...]},...}`` for one side."""
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    val = np.ascontiguousarray(val, dtype=np.float64)
    if ts.size != val.size:
        raise ValueError(f"{ts.size} timestamps but {val.size} values")
    if ts.size == 0:
        return b"{}"
    day = ts // DAY
    if (day[1:] < day[:-1]).any():
        raise ValueError("timestamps must be sorted")
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    heads = [b'"%s":{"values":[' % str(np.datetime64(int(d), "D")).encode() for d in day[starts]]
    values = orjson.dumps(val, option=orjson.OPT_SERIALIZE_NUMPY)
    stamps = orjson.dumps(ts, option=orjson.OPT_SERIALIZE_NUMPY)
    joined_heads = b"".join(heads)
    out = np.empty(
        len(values) + len(stamps) + ts.size * _SAMPLE_EXTRA + len(joined_heads) + 3 * len(heads),
        np.uint8,
    )
    size = _splice(
        ts.size,
        np.frombuffer(values, np.uint8),
        np.frombuffer(stamps, np.uint8),
        starts,
        np.frombuffer(joined_heads, np.uint8),
        np.cumsum([len(head) for head in heads]),
        out,
    )
    return out[:size].tobytes()


@numba.njit(cache=True, nogil=True)
def _splice(n, values, stamps, day_starts, heads, head_ends, out):
    """Write a side's JSON into ``out`` and return its length.

    values, stamps: orjson's text of the side's ``n`` numbers, ``[a,b,...]``;
    day_starts: each day's first sample; heads: each day's ``"YYYY-MM-DD":{"values":[``,
    joined, ending at ``head_ends``.
    """
    out[0] = _BRACE_OPEN
    at = 1
    v = t = 1  # past each array's "["
    day = 0
    for k in range(n):
        if day < day_starts.size and k == day_starts[day]:
            first = 0
            if day > 0:
                at = _put(out, at, _DAY_CLOSE)
                out[at] = _COMMA
                at += 1
                first = head_ends[day - 1]
            at = _put(out, at, heads[first : head_ends[day]])
            day += 1
        else:
            out[at] = _COMMA
            at += 1
        at = _put(out, at, _SAMPLE_OPEN)
        at, v = _copy_number(values, v, out, at)
        at = _put(out, at, _SAMPLE_MIDDLE)
        at, t = _copy_number(stamps, t, out, at)
        out[at] = _BRACE_CLOSE
        at += 1
    at = _put(out, at, _DAY_CLOSE)
    out[at] = _BRACE_CLOSE
    return at + 1


@numba.njit(cache=True, nogil=True, inline="always")
def _put(out, at, text):
    for j in range(text.size):
        out[at + j] = text[j]
    return at + text.size


@numba.njit(cache=True, nogil=True, inline="always")
def _copy_number(text, start, out, at):
    """Copy the number at ``text[start]`` to ``out[at]``; return both positions after it."""
    end = start
    while text[end] != _COMMA and text[end] != _BRACKET_CLOSE:
        out[at + end - start] = text[end]
        end += 1
    return at + end - start, end + 1
