"""The fast paths read exactly what the full parse reads, or leave the document to it.

Two fast paths: the compiled scanner (``json_scan``) and the typed msgspec path.
"""

from __future__ import annotations

import base64
import ctypes
import json
import mmap
from decimal import Decimal
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from io_builders import T0, blob, doc, write_vendor_rows

from floodmark.errors import SeriesDefect
from floodmark.io import codec, json_scan, vendor
from floodmark.io.vendor import read_vendor_export

# Without msgspec every document takes the full parse: only the agreement tests apply.
needs_msgspec = pytest.mark.skipif(codec.msgspec is None, reason="msgspec is not installed")


def outcome(decode, text: bytes) -> tuple:
    """What decoding ``text`` gives, bit for bit: the arrays, or the defect (or error)."""
    try:
        s = decode(text)
    except SeriesDefect as exc:
        return ("defect", exc.reason, exc.message)
    except Exception as exc:  # the full parse's other failures must match too
        return ("error", type(exc).__name__, str(exc))
    return (
        "ok",
        s.timestamps.dtype.str,
        s.timestamps.tobytes(),
        s.passed.tobytes(),
        s.blocked.tobytes(),
        s.repaired_duplicates,
    )


def full_parse(text: bytes):
    return codec.decode_document(codec._parse_json(text))


def fast_only(text: bytes):
    series = codec._fast_decode(text)
    if series is None:
        raise LookupError("not taken")
    return series


def scanned_only(text: bytes):
    series = codec._scan_decode(text)
    if series is None:
        raise LookupError("not taken")
    return series


# Where both fast paths must hold the same promise.
each_fast_path = pytest.mark.parametrize(
    "fast", [fast_only, scanned_only], ids=["msgspec", "scanner"]
)


# --- random documents, written token by token so that every oddity can be spelled -----------

WHOLE_SECONDS = st.integers(0, 4000).map(lambda k: str(T0 + 300 * k))
GOOD_VALUES = st.one_of(
    st.floats(0, 1e15).map(repr),
    st.floats(0, 1e300).map(json.dumps),
    st.integers(0, 2**70).map(str),  # beyond 2**53 and 2**64 too
    st.from_regex(r"(0|[1-9][0-9]{0,25})\.[0-9]{1,25}", fullmatch=True),  # more digits than a float
    st.from_regex(r"[1-9](\.[0-9]{1,8})?[eE][+-]?[0-9]{1,2}", fullmatch=True),
    st.sampled_from(["0", "-0", "0.0", "-0.0", "5e-324", "1.7976931348623157e308", "1e-400"]),
)
ODD_VALUES = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "-1",
        "-0.5",
        "1e400",
        "null",
        "true",
        "false",
        '"3"',
        '"x"',
        "[]",
        "{}",
        "01",
        "1.",
        "",
    ]
)
ODD_TIMES = st.sampled_from(
    ["1700000000.0", "1.7e9", "1700000000.5", "1700000000000", "-62135596801", "null", '"t"']
)
SEPARATORS = st.sampled_from([(",", ":"), (", ", ": "), (",\n  ", ": "), (" ,\t", " :\r\n")])


def obj(pairs: list[tuple[str, str]], sep: tuple[str, str]) -> str:
    comma, colon = sep
    return "{" + comma.join(f'"{k}"{colon}{v}' for k, v in pairs) + "}"


@st.composite
def members(draw, pairs: list[tuple[str, str]], odd: bool) -> list[tuple[str, str]]:
    """Object members in any order; when ``odd`` also extra, missing or doubled ones."""
    if draw(st.booleans()):
        pairs = draw(st.permutations(pairs))
    if odd and draw(st.integers(0, 5)) == 0:
        pairs = [*pairs, ("extra", draw(GOOD_VALUES))]
    if odd and pairs and draw(st.integers(0, 7)) == 0:
        pairs = [*pairs]
        del pairs[draw(st.integers(0, len(pairs) - 1))]
    if odd and pairs and draw(st.integers(0, 7)) == 0:
        pairs = [*pairs, draw(st.sampled_from(pairs))]
    return list(pairs)


@st.composite
def sides(draw, odd: bool, sep) -> str:
    days = []
    for day in draw(st.lists(st.sampled_from(["2023-11-14", "2023-11-15", "d", "é"]), max_size=3)):
        samples = []
        for _ in range(draw(st.integers(0, 6))):
            value = draw(ODD_VALUES if odd and draw(st.integers(0, 6)) == 0 else GOOD_VALUES)
            time = draw(ODD_TIMES if odd and draw(st.integers(0, 8)) == 0 else WHOLE_SECONDS)
            pairs = draw(members([("value", value), ("timeStamp", time)], odd))
            samples.append(obj(pairs, sep))
        values = "[" + sep[0].join(samples) + "]"
        if odd and draw(st.integers(0, 12)) == 0:
            values = draw(st.sampled_from(["null", "{}", '"abc"', "[1, 2]"]))
        days.append((day, obj(draw(members([("values", values)], odd)), sep)))
    return obj(days, sep)


@st.composite
def documents(draw, odd: bool = True) -> bytes:
    sep = draw(SEPARATORS)
    top = [
        ("passedDays", draw(sides(odd, sep))),
        ("blockedDays", draw(sides(odd, sep))),
        ("underAttack", "false"),
    ]
    if odd and draw(st.integers(0, 8)) == 0:
        at = draw(st.integers(0, 2))
        top[at] = (top[at][0], draw(st.sampled_from(["null", "[]", "1", '"x"'])))
    text = obj(draw(members(top, odd)), sep)
    if odd and draw(st.integers(0, 10)) == 0:
        text = draw(st.sampled_from(["\ufeff", " ", "[", ""])) + text
    return text.encode()


@each_fast_path
@given(text=documents())
def test_fast_path_and_full_parse_agree_on_any_document(fast, text):
    expected = outcome(full_parse, text)
    assert outcome(codec.decode_json, text) == expected
    taken = outcome(fast, text)
    if taken[0] != "error":  # taken: then it must be what the full parse gives
        assert taken == expected


@needs_msgspec
@given(documents(odd=False))
def test_fast_path_takes_every_good_document_in_any_layout(text):
    fast = outcome(fast_only, text)
    assert fast[0] != "error"  # neither refused nor broken
    assert fast == outcome(full_parse, text)


SAMPLES = [(T0, 1.5), (T0 + 300, 2.0), (T0 + 300, 7.0), (T0 + 900, 0.0)]
BLOCKED = [(T0 + 300, 4.25), (T0 + 600, 3.0)]
PLAIN = doc(SAMPLES, BLOCKED)


@needs_msgspec
@pytest.mark.parametrize(
    "text",
    [
        json.dumps(PLAIN).encode(),  # Python's default ", " and ": "
        json.dumps(PLAIN, indent=2).encode(),
        json.dumps(
            {
                "underAttack": True,
                "blockedDays": PLAIN["blockedDays"],
                "passedDays": {
                    day: {
                        "values": [
                            {"timeStamp": s["timeStamp"], "value": s["value"]} for s in v["values"]
                        ]
                    }
                    for day, v in PLAIN["passedDays"].items()
                },
            }
        ).encode(),  # keys in another order, everywhere
        json.dumps({"passedDays": PLAIN["passedDays"]}).encode(),
        json.dumps({"passedDays": PLAIN["passedDays"], "blockedDays": None}).encode(),
    ],
    ids=["spaces", "indented", "reversed-keys", "no-blocked", "null-blocked"],
)
@each_fast_path
def test_layouts_the_fast_path_takes(fast, text):
    taken = outcome(fast, text)
    assert taken[0] == "ok"
    assert taken == outcome(full_parse, text)


@pytest.mark.parametrize(
    "text",
    [
        b'{"passedDays":{"d":{"values":[{"value":NaN,"timeStamp":1700000000}]}}}',
        b'{"passedDays":{"d":{"values":[{"value":Infinity,"timeStamp":1700000000}]}}}',
        b'{"passedDays":{"d":{"values":[{"value":"3","timeStamp":1700000000}]}}}',
        b'{"passedDays":{"d":{"values":[{"value":null,"timeStamp":1700000000}]}}}',
        b'{"passedDays":{"d":{"values":[{"value":true,"timeStamp":1700000000}]}}}',
        b'{"passedDays":{"d":{"values":[{"value":1,"timeStamp":1700000000,"unit":"pps"}]}}}',
        b'{"passedDays":{"d":{"other":[]}}}',
        b'{"passedDays":{"d":{"values":[{"value":-1,"timeStamp":1700000000}]}}}',
        b'{"passedDays":{"d":{"values":[{"value":1,"timeStamp":1.5}]}}}',
        b'{"passedDays":{},"underAttack":1}',
        b'{"blockedDays":{}}',
        b'{"passedDays":{"d":{"values":[]}}',
    ],
    ids=[
        "nan",
        "infinity",
        "text-value",
        "null-value",
        "bool-value",
        "extra-key",
        "missing-values",
        "negative",
        "fractional-time",
        "odd-under-attack",
        "no-passed",
        "broken",
    ],
)
def test_documents_the_fast_path_leaves_to_the_full_parse(text):
    assert codec._fast_decode(text) is None
    assert codec._scan_decode(text) is None
    assert outcome(codec.decode_json, text) == outcome(full_parse, text)


# --- the compiled scanner: what it takes, what it leaves, and its numbers ----------------

# Spellings of a number the scanner proves exact: at most 15 significant digits
# (so at most 2^53) and a decimal exponent within 10^+-22.
EXACT_TOKENS = st.one_of(
    st.integers(0, 10**15 - 1).map(str),
    st.from_regex(r"-?(0|[1-9][0-9]{0,6})\.[0-9]{1,8}", fullmatch=True),
    st.from_regex(r"[1-9](\.[0-9]{1,3})?[eE][+-]?(1?[0-9])", fullmatch=True),  # |e| <= 22
    st.sampled_from(["0", "-0", "0.0", "-0.0", "0e400", "0.000", "-0E-0"]),
)


@st.composite
def plain_documents(draw) -> bytes:
    """Good documents in any layout whose every number the scanner proves exact."""
    sep = draw(SEPARATORS)
    top = []
    for name in draw(st.permutations(["passedDays", "blockedDays", "underAttack"])):
        if name == "underAttack":
            top.append((name, draw(st.sampled_from(["true", "false", "null"]))))
            continue
        days = []
        names = draw(st.lists(st.sampled_from(["2023-11-14", "2023-11-15", "d", " "]), unique=True))
        for day in names:
            samples = [
                obj(
                    draw(st.permutations([("value", value), ("timeStamp", draw(WHOLE_SECONDS))])),
                    sep,
                )
                for value in draw(st.lists(EXACT_TOKENS.filter(_not_negative), max_size=6))
            ]
            days.append((day, obj([("values", "[" + sep[0].join(samples) + "]")], sep)))
        top.append((name, obj(days, sep)))
    if draw(st.booleans()):
        top = [(k, v) for k, v in top if k != "blockedDays"]
    return (draw(st.sampled_from(["", " ", "\n"])) + obj(top, sep) + " ").encode()


def _not_negative(token: str) -> bool:
    return not token.startswith("-") or float(token) == 0


@given(plain_documents())
def test_the_scanner_takes_every_plain_document_exactly(text):
    taken = outcome(scanned_only, text)
    assert taken[0] == "ok"  # neither refused nor broken
    assert taken == outcome(full_parse, text)


@given(
    st.one_of(
        EXACT_TOKENS,
        st.from_regex(
            r"-?(0|[1-9][0-9]{0,22})(\.[0-9]{1,22})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
        ),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
    )
)
def test_scanned_numbers_are_bit_identical_to_python_float(token):
    text = _sample(token.encode(), b"1700000000")
    sides = json_scan.scan_document(text)
    assert (sides is not None) == provably_exact(token)  # refused exactly when unprovable
    if sides is not None:  # what Python's json reads (an integer token first as int)
        assert sides[1].tobytes() == np.array([float(json.loads(token))]).tobytes()


def provably_exact(token: str) -> bool:
    """m x 10^e with m = 0, or m <= 2^53 of at most 19 digits and |e| <= 22."""
    _, digits, exponent = Decimal(token).as_tuple()
    mantissa = int("".join(map(str, digits)))
    return mantissa == 0 or (len(digits) <= 19 and mantissa <= 2**53 and -22 <= exponent <= 22)


def canonical(value: str, stamp: str) -> str:
    """A sample as the vendor writes it."""
    return '{"value":' + value + ',"timeStamp":' + stamp + "}"


def one_day(samples: bytes) -> bytes:
    """A document of one passed day holding ``samples`` (``{...},{...}``)."""
    return b'{"passedDays":{"d":{"values":[' + samples + b"]}}}"


def _sample(value: bytes, stamp: bytes) -> bytes:
    return one_day(canonical(value.decode(), stamp.decode()).encode())


@pytest.mark.parametrize(
    "text",
    [
        b'{"passedDays":{"d":{"values":[{"value":1,"timeStamp":1700000000}]},'
        b'"d":{"values":[{"value":2,"timeStamp":1700000300}]}}}',  # the general parse keeps one
        b'{"passedDays":{"d\\u0041":{"values":[]}}}',
        '{"passedDays":{"\u00e9":{"values":[]}}}'.encode(),
        b'{"passedDays":{},"passedDays":{}}',
        b'{"passedDays":{"d":{"values":[],"values":[]}}}',
        _sample(b"1", b"1700000000").replace(b'"value"', b'"value","value":2'),
        _sample(b"12345678901234567890", b"1700000000"),
        _sample(b"1e23", b"1700000000"),
        _sample(b"1e-23", b"1700000000"),
        _sample(b"9007199254740993", b"1700000000"),  # 2^53 + 1: not a double
        # Nineteen digits past 2^63: refused, not wrapped round (a negative value read as
        # positive would have passed the check that quarantines it).
        _sample(b"9999999999999999999", b"1700000000"),
        _sample(b"-9999999999999999999e-10", b"1700000000"),
        _sample(b"01", b"1700000000"),
        _sample(b"1.", b"1700000000"),
        _sample(b"-", b"1700000000"),
        _sample(b"1", b"1700000000") + b"{}",
        b"\xef\xbb\xbf" + _sample(b"1", b"1700000000"),
        b"",
    ],
    ids=[
        "repeated-day",
        "escaped-day",
        "non-ascii-day",
        "repeated-side",
        "repeated-values",
        "repeated-member",
        "twenty-digits",
        "exponent-too-large",
        "exponent-too-small",
        "beyond-2-53",
        "nineteen-digits-past-2-63",
        "negative-nineteen-digits-past-2-63",
        "leading-zero",
        "bare-point",
        "bare-minus",
        "two-documents",
        "byte-order-mark",
        "empty",
    ],
)
def test_documents_the_scanner_leaves_to_the_other_paths(text):
    assert json_scan.scan_document(text) is None
    assert outcome(codec.decode_json, text) == outcome(full_parse, text)


def test_without_msgspec_everything_takes_the_full_parse():
    text = json.dumps(PLAIN).encode()
    with (
        mock.patch.object(codec, "msgspec", None),
        mock.patch.object(codec, "_scan_decode", lambda text: None),
    ):
        assert codec._fast_decode(text) is None
        assert outcome(codec.decode_json, text) == outcome(full_parse, text)


@needs_msgspec
def test_packed_records_follow_the_probe():
    # The side reader trusts msgpack's layout only after checking it.
    sample = codec._Sample(value=2.5, time_stamp=1.0)
    packed = codec._PACKER.encode(sample)
    record = np.frombuffer(packed, codec._RECORD)[0]
    assert (record["value"], record["time"]) == (2.5, 1.0)
    assert codec._packed_side({"d": codec._Day(values=[sample] * 16)}) is not None
    with mock.patch.object(codec, "_PROBE", codec._PROBE[::-1]):
        assert codec._packed_side({"d": codec._Day(values=[sample])}) is None


# --- the vendor reader: vectorised base64 and the fast path change nothing ----------------


@given(st.text(alphabet="QUJDRAa+/=\n -é", max_size=12))
def test_vectorised_base64_only_accepts_what_the_per_cell_decoder_accepts(text):
    decoded, refused = vendor._base64_cells(pa.array([text]))
    if decoded[0] is None:
        assert refused == {0: text.encode()}
    else:
        assert decoded[0] == base64.b64decode(text, validate=True)


GOOD_CELL = blob(PLAIN)
CELLS = st.sampled_from(
    [
        GOOD_CELL,
        "\n".join(GOOD_CELL[i : i + 76] for i in range(0, len(GOOD_CELL), 76)),  # in lines
        GOOD_CELL + "\n",
        blob(b"A") + "==",  # excess padding the strict per-cell decoder still takes
        blob(json.dumps(PLAIN, indent=1).encode()),
        blob(doc([(T0, -1.0)])),
        blob(b'{"passedDays":{"d":{"values":[{"value":NaN,"timeStamp":1700000000}]}}}'),
        blob({"passedDays": {"d": {"values": [{"value": "x", "timeStamp": T0}]}}}),
        base64.b64encode(b"plain text, not gzip").decode(),
        "not base64 at all!",
        "é",
        "",
        None,
    ]
)


@given(st.lists(st.tuples(CELLS, st.sampled_from(["PT_TCP", "PT_HTTP"])), min_size=1, max_size=6))
def test_vendor_reader_matches_the_per_cell_full_parse(tmp_path_factory, rows):
    path = write_vendor_rows(
        tmp_path_factory.mktemp("fast") / "v.parquet",
        [
            {"prediction_id": f"p{i}", "vector": vec, "metric": "PPS", "time_series": cell}
            for i, (cell, vec) in enumerate(rows)
        ],
    )
    got = read_vendor_export(path, batch_rows=4)

    def every_cell_alone(column):
        return [None] * len(column), dict(enumerate(vendor._blobs(column)))

    with (
        mock.patch.object(vendor, "_base64_cells", every_cell_alone),
        mock.patch.object(codec, "_fast_decode", lambda text: None),
        mock.patch.object(codec, "_scan_decode", lambda text: None),
    ):
        want = read_vendor_export(path, batch_rows=4)
    assert got.samples.equals(want.samples)
    assert got.series.equals(want.series)
    assert got.quarantine.equals(want.quarantine)
    assert got.repaired_duplicates == want.repaired_duplicates


EDGES = [codec.MIN_EPOCH_S, codec.MAX_EPOCH_S]
SIDE_STAMPS = st.one_of(
    st.integers(codec.MIN_EPOCH_S, codec.MAX_EPOCH_S).map(float),  # mostly good ones
    st.sampled_from([e + d for e in EDGES for d in (-1.0, -0.5, 0.0, 0.5, 1.0)]),
    st.floats(),  # NaN, infinities, fractions
)
SIDE_VALUES = st.one_of(
    st.floats(0, 1e300),  # mostly good ones
    st.sampled_from([0.0, -0.0, -1e-300, -1.0, float("inf"), float("-inf"), float("nan")]),
    st.floats(),
)


@given(st.lists(st.tuples(SIDE_STAMPS, SIDE_VALUES), max_size=4))
@example([(float(T0), float("inf"))])
@example([(float(T0), float("nan"))])
@example([(float(T0), -0.0), (T0 + 300.0, 0.0)])
@example([(float(T0), -1e-300)])
@example([(T0 + 0.5, 1.0)])
@example([(float("nan"), 1.0)])
@example([(codec.MAX_EPOCH_S + 1.0, 1.0)])
@example([(codec.MIN_EPOCH_S - 1.0, 1.0)])
def test_the_scanners_compiled_checks_are_checked(samples):
    ts = np.array([t for t, _ in samples], dtype=np.float64)
    val = np.array([v for _, v in samples], dtype=np.float64)
    seconds = np.empty(ts.size, np.int64)
    try:
        want = codec._checked(ts, val, "passedDays")
    except SeriesDefect:
        want = None
    valid = codec._valid_side(ts, val, seconds)
    assert valid == (want is not None)
    if valid:
        assert seconds.tobytes() == want[0].tobytes()


# --- the scanner's canonical samples, read by words --------------------------------------

# Numbers at the word reader's edges: 15 digits (its limit), 16 and 19 (the member
# loop's), 20 (refused), fractions that split them, zeros, signs, exponents and what JSON
# forbids; every one either read by words or left to the member loop, never misread.
EDGE_TOKENS = [
    "0",
    "-0",
    "0.0",
    "-0.0",
    "0.000000000000001",
    "0.0000000000000001",
    "123456789012345",
    "12345678901234.5",
    "1234567.89012345",
    "1234567890123456",
    "123456789.0123456",
    "9007199254740992",
    "9007199254740993",
    "1234567890123456789",
    "12345678901234567890",
    "1.5e3",
    "1E2",
    "5e-1",
    "01",
    "00.5",
    "1.",
    ".5",
    "-1",
    "1767225600",
    "1767225600.0",
]
EDGE_NUMBERS = st.one_of(
    st.sampled_from(EDGE_TOKENS),
    st.from_regex(r"(0|[1-9][0-9]{0,19})(\.[0-9]{1,19})?", fullmatch=True),
    st.integers(10**14, 10**20).map(str),
)
PLAIN_NUMBERS = st.one_of(
    st.from_regex(r"(0|[1-9][0-9]{0,7})(\.[0-9]{1,7})?", fullmatch=True),
    st.integers(0, 10**15 - 1).map(str),
)
BLANKS = st.sampled_from([" ", "\n", "\t", "\r"])


@st.composite
def spelled_samples(draw) -> tuple[str, list[str]]:
    """Mostly a sample as the vendor writes it, with plain numbers; now and then an edge
    number, the members swapped, or a blank anywhere (between tokens or splitting a name
    or a number); and its numbers."""
    value = draw(EDGE_NUMBERS if draw(st.integers(0, 5)) == 0 else PLAIN_NUMBERS)
    stamp = draw(EDGE_NUMBERS if draw(st.integers(0, 7)) == 0 else WHOLE_SECONDS)
    text = canonical(value, stamp)
    spelling = draw(st.integers(0, 7))
    if spelling == 1:
        text = '{"timeStamp":' + stamp + ',"value":' + value + "}"
    elif spelling == 2:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(BLANKS) + text[at:]
    return text, [value, stamp]


@st.composite
def canonical_documents(draw) -> tuple[bytes, list[str]]:
    """Samples as above in one or both sides, at any distance from the end of the text
    (the words are read only where the whole sample fits)."""
    sides, numbers = [], []
    for name in ("passedDays", "blockedDays")[: draw(st.integers(1, 2))]:
        samples = draw(st.lists(spelled_samples(), max_size=6))
        numbers += [number for _, pair in samples for number in pair]
        values = ",".join(text for text, _ in samples)
        sides.append(f'"{name}":{{"2023-11-14":{{"values":[{values}]}}}}')
    tail = " " * draw(st.integers(0, 80))
    return ("{" + ",".join(sides) + "}" + tail).encode(), numbers


def read_by_the_member_loop(text: bytes) -> bytes:
    """The same JSON with a blank after every sample's '{': no sample is read by words."""
    return text.replace(b'{"value"', b'{ "value"')


def assert_words_agree(text: bytes, numbers: list[str]) -> None:
    """Read by words, ``text`` gives the member loop's arrays bit for bit (or both refuse
    it), the full parse's series whenever taken, and is taken when exactly readable."""
    by_words = json_scan.scan_document(text)
    by_members = json_scan.scan_document(read_by_the_member_loop(text))
    assert (by_words is None) == (by_members is None)
    if by_words is not None:
        assert [a.tobytes() for a in by_words] == [a.tobytes() for a in by_members]
    expected = outcome(full_parse, text)
    taken = outcome(scanned_only, text)
    if taken[0] != "error":
        assert taken == expected
    if expected[0] == "ok" and all(map(provably_exact, numbers)):
        assert taken[0] == "ok"


@given(canonical_documents())
def test_samples_read_by_words_are_what_the_member_loop_and_the_full_parse_read(case):
    assert_words_agree(*case)


@pytest.mark.parametrize("token", EDGE_TOKENS)
@pytest.mark.parametrize("member", ["value", "timeStamp"])
def test_edge_numbers_read_by_words(token, member):
    value, stamp = (token, "1767225600") if member == "value" else ("0.5", token)
    samples = ",".join([canonical("1.25", "1767225000"), canonical(value, stamp)] * 2)
    text = one_day(samples.encode()) + b" " * 80
    assert_words_agree(text, [value, stamp, "1.25", "1767225000"])


SAMPLE = canonical("0.007", "1767225600").encode()


@pytest.mark.parametrize(
    "odd",
    [SAMPLE[:at] + b" " + SAMPLE[at:] for at in range(len(SAMPLE) + 1)]
    + [SAMPLE[:at] + b"x" + SAMPLE[at + 1 :] for at in range(len(SAMPLE))]
    # '7' with bit 7 set: not a digit, nor valid UTF-8
    + [SAMPLE[:at] + b"\xb7" + SAMPLE[at + 1 :] for at in range(len(SAMPLE))],
)
def test_a_blank_or_another_byte_anywhere_in_a_canonical_sample(odd):
    # Between tokens, the member loop reads it; in a name or a number, both refuse it.
    samples = b",".join([SAMPLE, odd, SAMPLE])
    assert_words_agree(one_day(samples) + b" " * 80, ["0.007", "1767225600"])


def at_the_end_of_readable_memory(text: bytes) -> memoryview:
    """``text`` in memory followed by a page that cannot be read: reading past it crashes."""
    page = mmap.PAGESIZE
    size = -(-max(len(text), 1) // page) * page
    memory = mmap.mmap(-1, size + page)
    memory[size - len(text) : size] = text
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    start = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    if libc.mprotect(start + size, page, 0) != 0:  # 0: PROT_NONE, no access at all
        pytest.skip(f"mprotect is not available here (errno {ctypes.get_errno()})")
    return memoryview(memory).toreadonly()[size - len(text) : size]


@pytest.mark.parametrize(
    "value", [b"0.007", b"123456789012345", b"1234567.89012345", b"0", b"1234567890123456"]
)
def test_the_scanner_never_reads_past_the_text(value):
    # Every cut of a canonical document ends where memory ends: each one is refused (or,
    # whole, read) without a byte read beyond it.
    sample = canonical(value.decode(), "1767225600").encode()
    text = one_day(b",".join([sample] * 3))
    whole = json_scan.scan_document(text)
    assert whole is not None
    for cut in range(len(text) + 1):
        got = json_scan.scan_document(at_the_end_of_readable_memory(text[:cut]))
        if cut < len(text):
            assert got is None
        else:
            assert [a.tobytes() for a in got] == [a.tobytes() for a in whole]
