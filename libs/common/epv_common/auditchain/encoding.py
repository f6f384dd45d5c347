"""The audit chain's canonical encoding and hash rule (a published contract).

Anything that must recompute an entry's hash -- the audit service when it appends, its
verification endpoint, the offline CLI, a third party holding an export -- uses this module
and nothing else. It is pure: no I/O, no framework imports.

Hashed fields
-------------
Every entry hashes exactly these keys (``HASHED_FIELDS``); no key may be missing or added:

- ``v`` (integer): encoding version, ``1`` (``ENCODING_VERSION``)
- ``seq`` (integer >= 1): position in the chain; 1, 2, 3, ... without gaps
- ``event_id`` (string): the CloudEvents ``id`` of the event (one entry per event)
- ``occurred_at`` (canonical timestamp): when it happened, the event's ``time``
- ``recorded_at`` (canonical timestamp): when the audit service appended the entry
- ``source`` (string): the emitting service (CloudEvents ``source``)
- ``action`` (string): the event type, e.g. ``case.updated`` (CloudEvents ``type``)
- ``actor_id`` (string or null): who did it (CloudEvents ``actorid``); null for the system
- ``entity_type`` (string or null): the kind of entity touched, e.g. ``case``, ``user``
- ``entity_id`` (string or null): which entity (CloudEvents ``subject``)
- ``request_id`` (string or null): the request that caused it (CloudEvents ``requestid``)
- ``security`` (boolean): a security event (failed login, lockout, role change, ...)
- ``before`` / ``after`` (any JSON or null): the state before / after a change, if any
- ``event`` (object): the whole CloudEvents envelope as received

``prev_hash`` is not one of them: it enters the hash as its 32-byte prefix (below). An entry as
stored or exported is the hashed fields plus ``prev_hash`` and ``hash`` (``ENTRY_KEYS``).

Canonical timestamps are RFC 3339 in UTC with exactly six fractional digits and a ``Z``:
``2025-01-31T09:05:00.000000Z`` (``format_timestamp``). PostgreSQL ``timestamptz`` keeps
microseconds, so a value read back from the database formats to the same string.

Values must be I-JSON (RFC 7493): strings without lone surrogates, integers within
+-(2**53 - 1), finite floats, object keys that are strings. Anything else is refused with
``EncodingError`` rather than hashed ambiguously; convert big integers and decimals to strings
before they reach an entry. Store ``before``/``after``/``event`` so that they decode to the
same values: a PostgreSQL ``json`` or ``text`` column keeps the text; ``jsonb`` respells
numbers as decimals, so a float of 2**53 or more (e.g. ``1e16``) would come back as an integer
outside the I-JSON range and no longer encode.

Hash rule
---------
::

    canonical_k = JCS(fields_k)                       # RFC 8785 JSON Canonicalization Scheme, UTF-8
    hash_k      = hex(SHA-256(unhex(prev_hash_k) || canonical_k))   # 64 lowercase hex digits
    prev_hash_1 = GENESIS_PREV_HASH                   # "0" * 64 (32 zero bytes)
    prev_hash_k = hash_(k-1)                          # for k > 1

``unhex(prev_hash_k)`` is the 32 raw bytes of the previous hash (not its hex text); ``||`` is
byte concatenation. The reference implementation of JCS is the ``rfc8785`` package; the
verification hot path uses ``canonical_bytes_fast``, which produces the same bytes (see there).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import rfc8785

__all__ = [
    "ENCODING_VERSION",
    "ENTRY_KEYS",
    "GENESIS_PREV_HASH",
    "HASHED_FIELDS",
    "EncodedEntry",
    "EncodingError",
    "build_chain",
    "canonical_bytes",
    "canonical_bytes_fast",
    "chain_entry",
    "entry_fields",
    "entry_hash",
    "fields_bytes_from_entry_bytes",
    "format_timestamp",
    "is_canonical_timestamp",
    "is_hash_hex",
    "jcs_number",
    "make_fields",
    "parse_timestamp",
]

ENCODING_VERSION = 1

GENESIS_PREV_HASH = "0" * 64
"""The ``prev_hash`` of entry 1: 32 zero bytes, in hex."""

HASHED_FIELDS: tuple[str, ...] = (
    "v",
    "seq",
    "event_id",
    "occurred_at",
    "recorded_at",
    "source",
    "action",
    "actor_id",
    "entity_type",
    "entity_id",
    "request_id",
    "security",
    "before",
    "after",
    "event",
)
"""The keys an entry's hash covers, all of them and only them."""

ENTRY_KEYS: tuple[str, ...] = (*HASHED_FIELDS, "prev_hash", "hash")
"""The keys of an entry as stored and exported: the hashed fields plus the two chain links."""

_HASHED_SET = frozenset(HASHED_FIELDS)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)
_CANONICAL_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


class EncodingError(ValueError):
    """An entry (or a value in it) has no canonical encoding under this contract."""


# --------------------------------------------------------------------------- timestamps


def format_timestamp(value: datetime | str) -> str:
    """The canonical form of a timestamp: RFC 3339, UTC, six fractional digits, ``Z``.

    Accepts an aware ``datetime`` or an RFC 3339 string (any offset, any number of fractional
    digits; digits past the microsecond are truncated). A naive ``datetime`` is refused: its
    zone is a guess, and a guess would change the hash.
    """
    if isinstance(value, str):
        value = parse_timestamp(value)
    if not isinstance(value, datetime):
        raise EncodingError(f"not a timestamp: {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise EncodingError(f"naive datetime has no zone: {value!r}")
    u = value.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T"
        f"{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"
    )


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC ``datetime`` (microsecond precision)."""
    m = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise EncodingError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        dt = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
    except ValueError as e:
        raise EncodingError(f"not a valid timestamp: {text!r} ({e})") from None
    return dt.astimezone(UTC)


# --------------------------------------------------------------------------- canonical bytes


def _jcs(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:
        raise EncodingError(f"no canonical JSON encoding: {e}") from None
    except RecursionError:
        raise EncodingError("no canonical JSON encoding: nested too deeply") from None


def canonical_bytes(entry_fields: Mapping[str, Any]) -> bytes:
    """RFC 8785 (JCS) bytes of an entry's hashed fields -- the reference encoding.

    The mapping must hold exactly ``HASHED_FIELDS``. Raises ``EncodingError`` for a wrong
    key set or a value that is not I-JSON.
    """
    if not isinstance(entry_fields, Mapping):
        raise EncodingError(f"entry fields must be a mapping, not {type(entry_fields).__name__}")
    keys = entry_fields.keys()
    if keys != _HASHED_SET:
        missing = sorted(_HASHED_SET - set(keys))
        extra = sorted(set(keys) - _HASHED_SET, key=str)
        raise EncodingError(f"entry fields: missing {missing}, unexpected {extra}")
    return _jcs(dict(entry_fields))


_FAST_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
# orjson spells a float differently from RFC 8785 only when it is integral ("100.0", JCS
# "100") or in exponent form ("1e+16", JCS "10000000000000000"; "1e-6", JCS "0.000001").
_INTEGRAL_FLOAT = re.compile(rb"\.0[,\]}]")
_INTEGRAL_FLOAT_TAIL = re.compile(rb"\.0(?=[,\]}])")
_NEGATIVE_ZERO = re.compile(rb"[:,\[]-0[,\]}]")
# Matched whole from its "e", so the "e-<digit>" that uuids are full of fail inside the regex
# engine, not one by one in Python; the digit before the "e" (a class to start a search with
# would be tried at every digit) is checked per match, and matches are rare.
_EXPONENT_FLOAT_TAIL = re.compile(rb"e[-+][0-9]+[,\]}]")
_DIGITS = frozenset(b"0123456789")
# UTF-8 lead bytes of U+E000..U+FFFF (EE, EF) and of U+10000.. (F0..F4): the only characters
# whose code-point order (orjson's key sort) differs from UTF-16 order (RFC 8785's key sort).
_SORT_SENSITIVE = re.compile(rb"[\xee-\xf4]")


def _refuse(value: Any) -> Any:
    raise TypeError(f"not a JSON type: {type(value).__name__}")


def _has_exponent_float(out: bytes) -> bool:
    for m in _EXPONENT_FLOAT_TAIL.finditer(out):
        if m.start() > 0 and out[m.start() - 1] in _DIGITS:
            return True
    return False


def jcs_number(value: float) -> bytes:
    """A float as RFC 8785 writes it (ECMAScript ``Number.prototype.toString``)."""
    if value != value or value in (math.inf, -math.inf):
        raise EncodingError(f"{value!r} has no JSON encoding")
    if value == 0:
        return b"0"
    text = repr(value)  # the shortest digits that round-trip, like ECMAScript's
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    stripped = digits.lstrip("0")
    # value = 0.<digits> * 10**n
    n = len(whole) + (int(exp) if exp else 0) - (len(digits) - len(stripped))
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * -n + digits
    else:
        e = n - 1
        out = (digits if k == 1 else digits[0] + "." + digits[1:]) + ("e+" if e > 0 else "e-")
        out += str(abs(e))
    return (sign + out).encode("ascii")


def _respell_floats(value: Any) -> Any:
    t = type(value)
    if t is float:
        return orjson.Fragment(jcs_number(value))
    if t is dict:
        return {k: _respell_floats(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [_respell_floats(v) for v in value]
    return value


def _orjson_matches_jcs() -> bool:
    """Check at import that this orjson spells things as the fast path assumes."""
    try:
        probe = ["\x00\x08\x1f\x7f\u2028\"\\/\n\u00e9", 1.5, 100.0, 1e16, 1e-6, 2**53 - 1]
        return (
            orjson.dumps(probe) == b'["\\u0000\\b\\u001f\x7f\xe2\x80\xa8\\"\\\\/\\n\xc3\xa9",'
            b"1.5,100.0,1e+16,1e-6,9007199254740991]"
            and orjson.dumps([orjson.Fragment(b"1")]) == b"[1]"
            and orjson.dumps({"b": 1, "a": 2}, option=_FAST_OPTIONS) == b'{"a":2,"b":1}'
        )
    except Exception:  # noqa: BLE001 - any surprise means: do not use the fast path
        return False


_FAST = _orjson_matches_jcs()


def canonical_bytes_fast(value: Any) -> bytes:
    """The JCS bytes of a JSON value, fast: for values decoded from JSON text.

    orjson with sorted keys writes exactly the JCS bytes for strings (checked over every code
    point), integers within the I-JSON range, booleans, null, and floats that it prints neither
    in exponent form nor ending in ``.0``; object keys sort alike unless the text holds code
    points at or above U+E000. So: orjson first; when its output may hold a float spelled
    otherwise, the floats are respelled (``jcs_number``) and orjson runs again; anything else
    -- a big integer, a non-JSON type, code points that sort differently -- goes through the
    reference ``rfc8785`` encoder. The result equals ``rfc8785.dumps(value)`` for every value
    JSON text can decode to. (It does not police Python-only values: NaN and infinity, which
    JSON text cannot carry, come out as ``null``, and ``UUID``/``Enum`` objects as their values;
    use ``canonical_bytes`` on values built in Python.)
    """
    if not _FAST or (type(value) is not dict and type(value) is not list):
        return _jcs(value)  # a bare scalar: nothing follows a number to delimit it
    try:
        out = orjson.dumps(value, default=_refuse, option=_FAST_OPTIONS)
    except (orjson.JSONEncodeError, RecursionError):
        return _jcs(value)
    if not out.isascii() and _SORT_SENSITIVE.search(out) is not None:
        return _jcs(value)
    exponent = _has_exponent_float(out)
    if _INTEGRAL_FLOAT.search(out) is None:
        if not exponent:
            return out
    elif not exponent:
        # Integral floats only: drop their ".0". The same characters inside a string would be
        # cut too, so the result counts only if it decodes back to the value (a changed string
        # compares unequal; 100 == 100.0). "-0.0" must become "0": leave that to the slow path.
        candidate = _INTEGRAL_FLOAT_TAIL.sub(b"", out)
        if _NEGATIVE_ZERO.search(candidate) is None and orjson.loads(candidate) == value:
            return candidate
    try:
        out = orjson.dumps(_respell_floats(value), default=_refuse, option=_FAST_OPTIONS)
    except (orjson.JSONEncodeError, RecursionError):
        return _jcs(value)
    if _INTEGRAL_FLOAT.search(out) is None and not _has_exponent_float(out):
        return out
    return _jcs(value)


_LINK_HASH = b',"hash":"'
_LINK_PREV = b',"prev_hash":"'
_AFTER_HASH = b'","occurred_at":"'
_AFTER_PREV = b'","recorded_at":"'


def fields_bytes_from_entry_bytes(text: bytes) -> bytes | None:
    """JCS(hashed fields) from JCS(entry): cut the ``hash`` and ``prev_hash`` members.

    In the canonical text of an entry (``ENTRY_KEYS``, keys sorted) ``"hash"`` sits between
    ``event_id`` and ``occurred_at`` and ``"prev_hash"`` between ``occurred_at`` and
    ``recorded_at``, each with a 64-character value; removing both members leaves exactly the
    canonical text of the hashed fields. Returns None when ``text`` does not have that layout,
    or when anything after ``"hash"`` might be an object or array (a ``{`` or ``[``, even
    inside a string): the members are found by searching, and only scalars may follow them.
    (For text from elsewhere -- an export line -- the cut is only a candidate: a hash that
    matches proves it is the canonical text, since the cut-out members cannot hide inside it.)
    """
    j = text.rfind(_LINK_PREV)
    if j < 0 or text[j + 78 : j + 95] != _AFTER_PREV:
        return None
    i = text.rfind(_LINK_HASH, 0, j)
    if i < 0 or text[i + 73 : i + 90] != _AFTER_HASH:
        return None
    if text.find(b"{", i) >= 0 or text.find(b"[", i) >= 0:
        return None
    return text[:i] + text[i + 74 : j] + text[j + 79 :]


class EncodedEntry(dict):  # type: ignore[type-arg]
    """An entry (a plain dict of ``ENTRY_KEYS``) carrying candidate canonical bytes of its hashed
    fields, cut from the text it was read from (``ndjson.read_lines``) or encoded from its values
    as it was read (``canonical_bytes_fast`` over database rows). ``verify_chain`` hashes those
    bytes instead of re-encoding the values: when the hash matches they are the canonical bytes,
    and the dict's values are what they encode. With ``None`` it encodes the values itself."""

    __slots__ = ("fields_bytes",)

    def __init__(self, data: dict[str, Any], fields_bytes: bytes | None) -> None:
        super().__init__(data)
        self.fields_bytes = fields_bytes


def is_hash_hex(value: Any) -> bool:
    """True for a hash as the chain writes it: 64 lowercase hex digits."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def _prev_bytes(prev_hash_hex: str) -> bytes:
    if not is_hash_hex(prev_hash_hex):
        raise EncodingError(f"prev_hash must be 64 lowercase hex digits: {prev_hash_hex!r}")
    return bytes.fromhex(prev_hash_hex)


def entry_hash(prev_hash_hex: str, entry_fields: Mapping[str, Any]) -> str:
    """``hex(SHA-256(unhex(prev_hash_hex) || canonical_bytes(entry_fields)))``."""
    return hashlib.sha256(_prev_bytes(prev_hash_hex) + canonical_bytes(entry_fields)).hexdigest()


# --------------------------------------------------------------------------- building entries


def _opt_str(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise EncodingError(f"{name} must be a string or None, not {type(value).__name__}")
    return value


def make_fields(
    *,
    seq: int,
    event_id: str,
    occurred_at: datetime | str,
    recorded_at: datetime | str,
    source: str,
    action: str,
    actor_id: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    request_id: str | None = None,
    security: bool = False,
    before: Any = None,
    after: Any = None,
    event: Mapping[str, Any],
) -> dict[str, Any]:
    """Build and check an entry's hashed fields; timestamps come out canonical.

    Raises ``EncodingError`` for a wrong type or a value with no canonical encoding, so a bad
    entry is refused when it is written, not discovered when it is verified.
    """
    if type(seq) is not int or seq < 1:
        raise EncodingError(f"seq must be an integer >= 1: {seq!r}")
    for name, value in (("event_id", event_id), ("source", source), ("action", action)):
        if not isinstance(value, str) or not value:
            raise EncodingError(f"{name} must be a non-empty string: {value!r}")
    if type(security) is not bool:
        raise EncodingError(f"security must be a bool: {security!r}")
    if not isinstance(event, Mapping):
        raise EncodingError(f"event must be a JSON object, not {type(event).__name__}")
    fields = {
        "v": ENCODING_VERSION,
        "seq": seq,
        "event_id": event_id,
        "occurred_at": format_timestamp(occurred_at),
        "recorded_at": format_timestamp(recorded_at),
        "source": source,
        "action": action,
        "actor_id": _opt_str("actor_id", actor_id),
        "entity_type": _opt_str("entity_type", entity_type),
        "entity_id": _opt_str("entity_id", entity_id),
        "request_id": _opt_str("request_id", request_id),
        "security": security,
        "before": before,
        "after": after,
        "event": dict(event),
    }
    canonical_bytes(fields)  # refuse now what could not be hashed later
    return fields


def entry_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of a stored or exported entry (drops ``prev_hash`` and ``hash``)."""
    try:
        return {k: entry[k] for k in HASHED_FIELDS}
    except KeyError as e:
        raise EncodingError(f"entry has no {e.args[0]!r}") from None


def chain_entry(prev_hash_hex: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """An entry ready to store: ``fields`` plus ``prev_hash`` and its ``hash``."""
    return {**fields, "prev_hash": prev_hash_hex, "hash": entry_hash(prev_hash_hex, fields)}


def build_chain(
    fields: Iterable[Mapping[str, Any]], *, prev_hash: str = GENESIS_PREV_HASH
) -> Iterator[dict[str, Any]]:
    """Chain a stream of hashed fields (already numbered) starting after ``prev_hash``."""
    for f in fields:
        entry = chain_entry(prev_hash, f)
        prev_hash = entry["hash"]
        yield entry


def is_canonical_timestamp(value: Any) -> bool:
    """True when ``value`` is already in the canonical timestamp form."""
    return isinstance(value, str) and _CANONICAL_TIMESTAMP.fullmatch(value) is not None
