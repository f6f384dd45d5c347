"""The NDJSON export of the audit chain (a published contract) and its streaming reader.

One entry per line, in ``seq`` order, each line the RFC 8785 (JCS) encoding of the entry as
stored -- the hashed fields plus ``prev_hash`` and ``hash`` (``ENTRY_KEYS``), nothing else --
followed by ``\\n``. For example (wrapped here)::

    {"action":"case.created","actor_id":"u-1","after":{...},"before":null,"entity_id":"c-9",
     "entity_type":"case","event":{...},"event_id":"...","hash":"<64 hex>",
     "occurred_at":"2025-01-31T09:05:00.000000Z","prev_hash":"<64 hex>",
     "recorded_at":"2025-01-31T09:05:00.020000Z","request_id":"r-1","security":false,
     "seq":1,"source":"cases","v":1}

Because every line is canonical, an export of the same entries is byte-for-byte the same file,
and the reader can refuse any line that is not exactly canonical: changing one byte of a file
either changes a hashed value (caught by the hash), breaks the JSON, or leaves a non-canonical
spelling of the same value -- all three are reported. A verifiable export holds a contiguous
run of seqs (filtered exports are for reading, not for verification).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from epv_common.auditchain.encoding import (
    ENTRY_KEYS,
    EncodedEntry,
    EncodingError,
    canonical_bytes_fast,
    fields_bytes_from_entry_bytes,
)

__all__ = ["MalformedLine", "dump_line", "dump_lines", "read_lines"]

_ENTRY_SET = frozenset(ENTRY_KEYS)


@dataclass(frozen=True, slots=True)
class MalformedLine:
    """A line that is not a well-formed export entry; ``verify_chain`` counts it as modified."""

    line_no: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.reason}"


def dump_line(entry: Mapping[str, Any]) -> bytes:
    """One export line: the canonical JSON of the entry (exactly ``ENTRY_KEYS``) and ``\\n``."""
    if entry.keys() != _ENTRY_SET:
        extra = sorted(set(entry) - _ENTRY_SET, key=str)
        missing = sorted(_ENTRY_SET - set(entry))
        raise EncodingError(f"export entry: missing {missing}, unexpected {extra}")
    return canonical_bytes_fast(dict(entry)) + b"\n"


def dump_lines(entries: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    """Stream export lines for ``entries`` (already in seq order)."""
    for entry in entries:
        yield dump_line(entry)


def read_lines(
    lines: Iterable[bytes | str], *, strict: bool = True
) -> Iterator[dict[str, Any] | MalformedLine]:
    """Parse export lines one at a time (a file opened in binary mode works as ``lines``).

    Yields each entry as a dict, or a ``MalformedLine`` for a line that is not JSON, not an
    object, or has other keys than ``ENTRY_KEYS``. Blank lines are skipped.

    ``strict`` (the default) holds a line to its canonical bytes: a line without the canonical
    layout is malformed, and the entry comes with the bytes of its hashed fields cut from the
    line (``EncodedEntry``), so ``verify_chain`` hashes the very bytes of the file -- any byte
    changed, even one that spells the same value differently, fails the hash. (A line whose
    bytes cannot be cut safely is compared with its canonical encoding in full instead.)
    Without ``strict`` a line may be any JSON spelling of the entry; its values are re-encoded.
    """
    loads = orjson.loads
    keyset = _ENTRY_SET
    cut = fields_bytes_from_entry_bytes
    fast = canonical_bytes_fast
    for line_no, raw in enumerate(lines, 1):
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        if not raw.strip():
            continue
        try:
            obj = loads(raw)
        except orjson.JSONDecodeError as e:
            yield MalformedLine(line_no, f"not JSON ({e})")
            continue
        if type(obj) is not dict:
            yield MalformedLine(line_no, f"not a JSON object ({type(obj).__name__})")
            continue
        if obj.keys() != keyset:
            extra = sorted(set(obj) - keyset)
            missing = sorted(keyset - set(obj))
            yield MalformedLine(line_no, f"wrong keys (missing {missing}, unexpected {extra})")
            continue
        if not strict:
            yield obj
            continue
        fields_bytes = cut(raw)
        if fields_bytes is not None:
            yield EncodedEntry(obj, fields_bytes)
            continue
        try:  # an unusual layout (e.g. "{" in a string after "hash"): compare in full
            canonical = fast(obj) == raw
        except EncodingError as e:
            yield MalformedLine(line_no, f"no canonical form ({e})")
            continue
        yield obj if canonical else MalformedLine(line_no, "not in canonical (RFC 8785) form")
