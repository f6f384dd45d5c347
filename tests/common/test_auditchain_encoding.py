"""The audit chain's canonical encoding and hash rule (epv_common.auditchain.encoding)."""

from __future__ import annotations

import hashlib
import json
import math
import struct
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from epv_common.auditchain import (
    ENTRY_KEYS,
    GENESIS_PREV_HASH,
    HASHED_FIELDS,
    EncodingError,
    build_chain,
    canonical_bytes,
    canonical_bytes_fast,
    chain_entry,
    entry_fields,
    entry_hash,
    fields_bytes_from_entry_bytes,
    format_timestamp,
    jcs_number,
    make_fields,
    parse_timestamp,
)

T0 = datetime(2025, 1, 31, 9, 5, tzinfo=UTC)


def _fields(seq: int = 1, **over: object) -> dict:
    base = dict(
        seq=seq,
        event_id=f"0190a1b2-c3d4-7e5f-8a9b-{seq:012x}",
        occurred_at=T0 + timedelta(seconds=seq),
        recorded_at=T0 + timedelta(seconds=seq, microseconds=20_000),
        source="cases",
        action="case.updated",
        actor_id="u-42",
        entity_type="case",
        entity_id="c-7",
        request_id="r-1",
        security=False,
        before={"status": "draft", "wacc": 0.085},
        after={"status": "review", "wacc": 0.09},
        event={"id": f"0190a1b2-c3d4-7e5f-8a9b-{seq:012x}", "type": "case.updated"},
    )
    base.update(over)
    return make_fields(**base)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the contract


def test_hashed_fields_and_genesis_are_the_published_ones():
    assert HASHED_FIELDS == (
        "v", "seq", "event_id", "occurred_at", "recorded_at", "source", "action", "actor_id",
        "entity_type", "entity_id", "request_id", "security", "before", "after", "event",
    )
    assert ENTRY_KEYS == (*HASHED_FIELDS, "prev_hash", "hash")
    assert GENESIS_PREV_HASH == "0" * 64


def test_entry_hash_is_sha256_of_raw_prev_hash_then_canonical_fields():
    f = _fields(1)
    expected = hashlib.sha256(bytes(32) + rfc8785.dumps(f)).hexdigest()
    assert entry_hash(GENESIS_PREV_HASH, f) == expected
    prev = "ab" * 32
    assert entry_hash(prev, f) == hashlib.sha256(bytes.fromhex(prev) + rfc8785.dumps(f)).hexdigest()


def test_known_answer_vector():
    """Pins the contract: a change to the encoding or the rule breaks every stored chain."""
    f = {
        "v": 1, "seq": 1, "event_id": "e-1",
        "occurred_at": "2025-01-31T09:05:00.000000Z",
        "recorded_at": "2025-01-31T09:05:00.020000Z",
        "source": "auth", "action": "auth.login.failed", "actor_id": None,
        "entity_type": "user", "entity_id": "u-1", "request_id": "r-1", "security": True,
        "before": None, "after": None,
        "event": {"id": "e-1", "type": "auth.login.failed", "data": {"attempt": 3, "x": 1.5}},
    }
    assert canonical_bytes(f) == (
        b'{"action":"auth.login.failed","actor_id":null,"after":null,"before":null,'
        b'"entity_id":"u-1","entity_type":"user","event":{"data":{"attempt":3,"x":1.5},'
        b'"id":"e-1","type":"auth.login.failed"},"event_id":"e-1",'
        b'"occurred_at":"2025-01-31T09:05:00.000000Z",'
        b'"recorded_at":"2025-01-31T09:05:00.020000Z","request_id":"r-1","security":true,'
        b'"seq":1,"source":"auth","v":1}'
    )
    assert entry_hash(GENESIS_PREV_HASH, f) == (
        "fde5bec03aec1a87344f9ec6ea8966b5cc9dba0e6e53ee1378565a9b2c7f0eb1"
    )


def test_canonical_bytes_refuses_a_wrong_key_set():
    f = _fields(1)
    with pytest.raises(EncodingError, match="missing"):
        canonical_bytes({k: v for k, v in f.items() if k != "actor_id"})
    with pytest.raises(EncodingError, match="unexpected"):
        canonical_bytes({**f, "hash": "0" * 64})


def test_prev_hash_must_be_lowercase_hex():
    with pytest.raises(EncodingError):
        entry_hash("AB" * 32, _fields(1))
    with pytest.raises(EncodingError):
        entry_hash("ab" * 31, _fields(1))


def test_chain_entry_and_build_chain_link_each_entry_to_the_previous():
    chain = list(build_chain(_fields(i) for i in range(1, 6)))
    assert chain[0]["prev_hash"] == GENESIS_PREV_HASH
    for a, b in zip(chain, chain[1:], strict=False):
        assert b["prev_hash"] == a["hash"]
        assert b["hash"] == entry_hash(a["hash"], entry_fields(b))
    assert set(chain[0]) == set(ENTRY_KEYS)
    assert chain_entry(GENESIS_PREV_HASH, _fields(1)) == chain[0]


# --------------------------------------------------------------------------- timestamps


def test_timestamps_are_utc_microseconds_with_z():
    assert format_timestamp(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2025-01-02T03:04:05.000000Z"
    plus2 = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2025, 1, 2, 5, 4, 5, 7, tzinfo=plus2)) == "2025-01-02T03:04:05.000007Z"
    assert format_timestamp("2025-01-02T03:04:05.123456789Z") == "2025-01-02T03:04:05.123456Z"
    assert format_timestamp("2025-01-02T04:04:05+01:00") == "2025-01-02T03:04:05.000000Z"
    with pytest.raises(EncodingError, match="naive"):
        format_timestamp(datetime(2025, 1, 2))
    for bad in ("2025-01-02", "2025-13-02T00:00:00Z", "yesterday", "2025-01-02T03:04:05"):
        with pytest.raises(EncodingError):
            format_timestamp(bad)


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1)))
def test_timestamp_round_trip_through_a_database_hashes_the_same(dt):
    # timestamptz keeps microseconds: what comes back formats to the same string
    text = format_timestamp(dt)
    assert format_timestamp(parse_timestamp(text)) == text
    assert parse_timestamp(text) == dt


def test_make_fields_refuses_what_could_not_be_hashed():
    with pytest.raises(EncodingError):
        _fields(0)
    with pytest.raises(EncodingError):
        _fields(1, security="yes")
    with pytest.raises(EncodingError):
        _fields(1, after={"big": 2**60})
    with pytest.raises(EncodingError):
        _fields(1, after={"nan": math.nan})
    with pytest.raises(EncodingError):
        _fields(1, after={"when": datetime.now(UTC)})
    with pytest.raises(EncodingError):
        _fields(1, actor_id=42)


# --------------------------------------------------------------------------- RFC 8785 properties


def test_keys_sort_by_utf16_code_units():
    # RFC 8785 section 3.2.3
    value = {
        "\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = [k for k, _ in json.loads(canonical_bytes_fast(value), object_pairs_hook=list)]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canonical_bytes_fast(value) == rfc8785.dumps(value)


def test_rfc8785_example():
    # RFC 8785 section 3.2.2
    value = json.loads(
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert rfc8785.dumps(value) == expected
    assert canonical_bytes_fast(value) == expected


# RFC 8785 Appendix B: IEEE 754 bit patterns and their JSON spelling
NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), NUMBERS)
def test_numbers_are_spelled_as_rfc8785_appendix_b(bits, text):
    f = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert jcs_number(f) == text.encode()
    assert canonical_bytes_fast([f]) == f"[{text}]".encode()
    assert canonical_bytes_fast({"x": f, "s": "1.0,"}) == rfc8785.dumps({"x": f, "s": "1.0,"})


def test_numbers_outside_i_json_are_refused():
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(EncodingError):
            jcs_number(bad)
    for big in (2**53, -(2**53), 10**30):
        with pytest.raises(EncodingError):
            canonical_bytes_fast({"n": big})
    assert canonical_bytes_fast({"n": 2**53 - 1}) == b'{"n":9007199254740991}'


def test_strings_unicode_and_escapes():
    s = "caf\u00e9 \u2028 \U0001f600 \x00\x1f\x7f \"q\" \\ / \t\n\r\b\f"
    out = canonical_bytes_fast({"s": s})
    assert out == rfc8785.dumps({"s": s})
    assert out == (
        '{"s":"caf\u00e9 \u2028 \U0001f600 \\u0000\\u001f\x7f \\"q\\" \\\\ / \\t\\n\\r\\b\\f"}'
    ).encode("utf-8")
    with pytest.raises(EncodingError):
        canonical_bytes_fast({"s": "\ud800"})  # a lone surrogate has no UTF-8


def test_fast_path_is_not_fooled_by_float_look_alikes_in_strings():
    tricky = [
        {"s": "v1.0,", "x": 100.0},
        {"s": "v1.0}", "x": [1.0, 2.0], "y": -0.0},
        {"s": '":1e+16,', "x": 1e16, "hex": "3e-5,"},
        {"a": "1.0]", "b": {"c": 0.0, "d": "2e-7}"}},
        {"k.0,": 1.0, "k,": 1},
    ]
    for value in tricky:
        assert canonical_bytes_fast(value) == rfc8785.dumps(value), value


def test_fields_bytes_cut_from_the_entry_text_are_the_hashed_bytes():
    entry = chain_entry(GENESIS_PREV_HASH, _fields(3, after={"hash": "x", "prev_hash": "y"}))
    text = canonical_bytes_fast(entry)
    assert fields_bytes_from_entry_bytes(text) == canonical_bytes(entry_fields(entry))
    assert fields_bytes_from_entry_bytes(b'{"a":1}') is None


# --------------------------------------------------------------------------- hypothesis

_finite = st.floats(allow_nan=False, allow_infinity=False)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | _finite
    | st.text()
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_fast_encoding_equals_the_reference(value):
    assert canonical_bytes_fast(value) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_json_decoded_values_encode_identically(value):
    # what an export or a JSONB column gives back encodes to the same bytes
    decoded = orjson.loads(orjson.dumps(value))
    assert canonical_bytes_fast(decoded) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), _scalars, min_size=1, max_size=12), st.randoms())
def test_key_insertion_order_does_not_matter(value, rnd):
    items = list(value.items())
    rnd.shuffle(items)
    assert canonical_bytes_fast(dict(items)) == canonical_bytes_fast(value)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_canonical_text_decodes_to_the_value(value):
    assert json.loads(canonical_bytes_fast(value), parse_int=float) == value


@settings(max_examples=100, deadline=None)
@given(_json, _json)
def test_cut_fields_bytes_match_for_any_content(before, after):
    f = _fields(7, before=before, after=after)
    entry = chain_entry("cd" * 32, f)
    assert fields_bytes_from_entry_bytes(canonical_bytes_fast(entry)) == canonical_bytes(f)
