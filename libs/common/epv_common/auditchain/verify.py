"""Verify an audit chain: one streaming pass, constant memory, first problem named.

``verify_chain`` walks entries in the order given (by ``seq`` from the database, or file order
from an export), recomputes every hash with the rule in ``encoding``, checks each signed
checkpoint when it reaches the checkpoint's ``seq``, and stops at the first problem:

================================ =============================================================
problem                          when
================================ =============================================================
``modified``                     an entry's content no longer hashes to its stored ``hash``,
                                 its ``prev_hash`` or ``seq`` field was altered, it is not a
                                 well-formed entry, or (stored hashes rewritten) it no longer
                                 hashes to what the next entry links to. Reported at the entry
                                 that changed: when entry k was altered and its hash recomputed,
                                 entry k+1 still links to the old hash and k is named.
``missing``                      ``seq`` k is expected but the next entry present is later
                                 (k+1, ...) and k does not turn up close behind: entry k (and
                                 maybe more) was deleted. Reported at the first missing seq.
``out_of_order``                 entry k turns up behind a later entry (e.g. k and k+1
                                 swapped), an earlier seq appears again, or two rows swapped
                                 their contents. Reported at k.
``checkpoint_mismatch``          a validly signed checkpoint's ``head_hash`` differs from the
                                 recomputed hash at its ``seq``: the chain before it was
                                 rewritten (content and hashes recomputed). Reported at the
                                 checkpoint's seq; the damage lies after the last good one.
``bad_signature``                a checkpoint's signature does not verify, or its key is
                                 unknown. Reported at the checkpoint's seq.
``after_last_checkpoint``        the chain ends before the ``seq`` of a (validly signed)
                                 checkpoint, or before ``expected_last_seq``: its tail was
                                 dropped after the last good checkpoint. Reported at the first
                                 missing seq (last present + 1).
================================ =============================================================

Starting after a retention cut: pass ``start_prev_hash=cp.head_hash, start_seq=cp.seq + 1``
with the retained checkpoint ``cp`` among ``checkpoints`` (it is then checked too and counts as
the start anchor), or pass both as ``None`` to start from the first entry given (its seq; the
head of a good checkpoint at seq - 1 if one is given, else its own ``prev_hash``).

Checkpoints before the start (``seq < start_seq - 1``) are ignored: their entries are gone.

Entries are mappings with the hashed fields, ``prev_hash`` and ``hash`` (see ``ENTRY_KEYS``);
``prev_hash`` and ``hash`` may be absent (the recomputed chain is then checked only against the
next entry's link and the checkpoints). Extra keys are ignored. An item that is not a mapping
(e.g. ``ndjson.MalformedLine``) counts as a modified entry at the seq expected there.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from epv_common.auditchain.checkpoint import Checkpoint, verify_checkpoint
from epv_common.auditchain.encoding import (
    ENTRY_KEYS,
    GENESIS_PREV_HASH,
    HASHED_FIELDS,
    EncodedEntry,
    EncodingError,
    canonical_bytes_fast,
    fields_bytes_from_entry_bytes,
    is_hash_hex,
)

__all__ = ["DEFAULT_LOOKAHEAD", "Problem", "VerifyResult", "join_results", "verify_chain"]

DEFAULT_LOOKAHEAD = 1024
"""How far past a gap verify reads to tell a moved entry (out_of_order) from a deleted one."""


class Problem(StrEnum):
    MODIFIED = "modified"
    MISSING = "missing"
    OUT_OF_ORDER = "out_of_order"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    BAD_SIGNATURE = "bad_signature"
    AFTER_LAST_CHECKPOINT = "after_last_checkpoint"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What a verification found. ``ok`` or the first bad ``seq`` and its ``problem``."""

    ok: bool
    problem: Problem | None
    seq: int | None
    """The first seq that does not verify (None when ok)."""
    detail: str
    entries_checked: int
    """Entries that verified before the first problem (all of them when ok)."""
    first_seq: int | None
    last_seq: int | None
    """The last seq that verified (None when none did)."""
    head_hash: str
    """The hash of ``last_seq`` (the start's prev hash when no entry verified)."""
    last_good_checkpoint: Checkpoint | None
    checkpoints_verified: int
    anchored_start: bool
    """True when the chain starts at genesis or at the head of a good checkpoint."""

    @property
    def unsigned_entries(self) -> int:
        """Verified entries after the last good checkpoint: chained, but not yet signed."""
        if self.last_seq is None:
            return 0
        if self.last_good_checkpoint is None:
            return self.entries_checked
        return max(0, self.last_seq - self.last_good_checkpoint.seq)

    def to_dict(self) -> dict[str, Any]:
        cp = self.last_good_checkpoint
        return {
            "ok": self.ok,
            "problem": None if self.problem is None else str(self.problem),
            "seq": self.seq,
            "detail": self.detail,
            "entries_checked": self.entries_checked,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "head_hash": self.head_hash,
            "last_good_checkpoint": None if cp is None else cp.to_dict(),
            "checkpoints_verified": self.checkpoints_verified,
            "anchored_start": self.anchored_start,
            "unsigned_entries": self.unsigned_entries,
        }


def join_results(head: VerifyResult, tail: VerifyResult) -> VerifyResult:
    """One result for a chain verified in two runs: ``head`` ok up to a good checkpoint at its
    last entry, then ``tail`` from the entry after it, started on that checkpoint
    (``start_prev_hash=cp.head_hash, start_seq=cp.seq + 1`` with ``cp`` among its checkpoints,
    so ``tail`` counted it again).

    That is what one run over both gives: at that checkpoint its state (next seq, hash, last
    good checkpoint) is the state ``tail`` starts from, so a run between signed checkpoints
    can go in parallel with the others and the results still add up.
    """
    cp = head.last_good_checkpoint
    if not head.ok or cp is None or cp.seq != head.last_seq:
        raise ValueError("head must be ok and end at a good checkpoint")
    if tail.first_seq not in (None, cp.seq + 1) or tail.checkpoints_verified < 1:
        raise ValueError(f"tail must start on the checkpoint at seq {cp.seq}")
    return VerifyResult(
        ok=tail.ok,
        problem=tail.problem,
        seq=tail.seq,
        detail=tail.detail,
        entries_checked=head.entries_checked + tail.entries_checked,
        first_seq=head.first_seq,
        last_seq=head.last_seq if tail.last_seq is None else tail.last_seq,
        head_hash=tail.head_hash,
        last_good_checkpoint=tail.last_good_checkpoint,
        checkpoints_verified=head.checkpoints_verified + tail.checkpoints_verified - 1,
        anchored_start=head.anchored_start,
    )


class _Stop(Exception):
    def __init__(self, problem: Problem, seq: int | None, detail: str) -> None:
        self.problem, self.seq, self.detail = problem, seq, detail


_ENTRY_SET = frozenset(ENTRY_KEYS)


def _fields_or_none(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        return {k: entry[k] for k in HASHED_FIELDS}
    except KeyError:
        return None


def _hash(prev_hex: str, fields: Mapping[str, Any]) -> str | None:
    """The entry hash, or None when the fields have no canonical encoding."""
    try:
        return hashlib.sha256(bytes.fromhex(prev_hex) + canonical_bytes_fast(fields)).hexdigest()
    except EncodingError:
        return None


def _seq_of(item: Any) -> Any:
    return item.get("seq") if isinstance(item, Mapping) else None


def _span(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first}..{last}"


def verify_chain(
    entries: Iterable[Any],
    checkpoints: Iterable[Checkpoint] = (),
    public_keys: Mapping[str, Ed25519PublicKey] | None = None,
    *,
    start_prev_hash: str | None = GENESIS_PREV_HASH,
    start_seq: int | None = 1,
    expected_last_seq: int | None = None,
    lookahead: int = DEFAULT_LOOKAHEAD,
) -> VerifyResult:
    """Recompute the chain over ``entries`` and check ``checkpoints`` against it.

    ``public_keys`` maps key id to Ed25519 public key. ``start_prev_hash``/``start_seq`` give
    where the entries start (genesis by default); ``None`` for both means "from the first entry
    given". ``expected_last_seq``, when known (e.g. the head the service reports), makes a chain
    that ends earlier fail with ``after_last_checkpoint`` even with no checkpoint past its end.
    """
    keys = public_keys or {}
    cps = sorted(checkpoints, key=lambda c: c.seq)
    it: Iterator[Any] = iter(entries)

    # ---- where the chain starts
    adopt = start_seq is None
    if adopt or start_prev_hash is None:
        first = next(it, None)
        peeked = [first] if first is not None else []
        first_seq = _seq_of(first)
        if start_seq is None and (type(first_seq) is not int or first_seq < 1) and peeked:
            # the first item is unreadable: place it just before the second
            second = next(it, None)
            if second is not None:
                peeked.append(second)
                second_seq = _seq_of(second)
                if type(second_seq) is int and second_seq > 1:
                    first_seq = second_seq - 1
        it = itertools.chain(peeked, it)
        if start_seq is None:
            start_seq = first_seq if type(first_seq) is int and first_seq >= 1 else 1
        if start_prev_hash is None and start_seq == 1:
            start_prev_hash = GENESIS_PREV_HASH
    assert start_seq is not None

    state = _State(keys, start_seq)
    anchor_cps = [c for c in cps if c.seq == start_seq - 1]
    cp_index = next((i for i, c in enumerate(cps) if c.seq >= start_seq), len(cps))

    try:
        if start_prev_hash is None:
            # adopted start after a cut: a good checkpoint at seq - 1 anchors it, else the
            # first entry's own prev_hash does (unanchored).
            for cp in anchor_cps:
                if state.signature_ok(cp):
                    start_prev_hash = cp.head_hash
                    break
            else:
                link = first.get("prev_hash") if isinstance(first, Mapping) else None
                start_prev_hash = link if is_hash_hex(link) else GENESIS_PREV_HASH
        if not is_hash_hex(start_prev_hash):
            raise ValueError(f"start_prev_hash must be 64 lowercase hex digits: {start_prev_hash!r}")
        state.prev_hex = start_prev_hash
        state.anchored = start_seq == 1 and start_prev_hash == GENESIS_PREV_HASH
        for cp in anchor_cps:
            state.check_checkpoint(cp)
            state.anchored = True
        state.run(it, cps, cp_index, lookahead)
        state.finish(cps, expected_last_seq)
    except _Stop as stop:
        return state.result(stop.problem, stop.seq, stop.detail)
    return state.result(None, None, "")


class _State:
    __slots__ = ("keys", "start_seq", "expected", "prev_hex", "last_good", "verified", "anchored")

    def __init__(self, keys: Mapping[str, Ed25519PublicKey], start_seq: int) -> None:
        self.keys = keys
        self.start_seq = start_seq
        self.expected = start_seq
        self.prev_hex = GENESIS_PREV_HASH
        self.last_good: Checkpoint | None = None
        self.verified = 0
        self.anchored = False

    @property
    def count(self) -> int:
        return self.expected - self.start_seq

    # ---- results

    def result(self, problem: Problem | None, seq: int | None, detail: str) -> VerifyResult:
        last = self.expected - 1 if self.count else None
        return VerifyResult(
            ok=problem is None,
            problem=problem,
            seq=seq,
            detail=detail,
            entries_checked=self.count,
            first_seq=self.start_seq if self.count else None,
            last_seq=last,
            head_hash=self.prev_hex,
            last_good_checkpoint=self.last_good,
            checkpoints_verified=self.verified,
            anchored_start=self.anchored,
        )

    # ---- checkpoints

    def signature_ok(self, cp: Checkpoint) -> bool:
        key = self.keys.get(cp.key_id)
        return key is not None and verify_checkpoint(key, cp)

    def check_checkpoint(self, cp: Checkpoint) -> None:
        """Check ``cp`` against the current head (the hash at ``cp.seq``)."""
        if cp.key_id not in self.keys:
            raise _Stop(
                Problem.BAD_SIGNATURE, cp.seq,
                f"checkpoint at seq {cp.seq} is signed by unknown key {cp.key_id!r}",
            )
        if not verify_checkpoint(self.keys[cp.key_id], cp):
            raise _Stop(
                Problem.BAD_SIGNATURE, cp.seq,
                f"checkpoint at seq {cp.seq}: signature does not verify with key {cp.key_id!r}",
            )
        if cp.head_hash != self.prev_hex:
            since = self.last_good.seq if self.last_good else None
            where = (
                f"after the last good checkpoint at seq {since}" if since is not None
                else "since the start"
            )
            raise _Stop(
                Problem.CHECKPOINT_MISMATCH, cp.seq,
                f"checkpoint at seq {cp.seq} signs head {cp.head_hash}, the chain recomputes "
                f"{self.prev_hex}: entries were rewritten {where}",
            )
        self.last_good = cp
        self.verified += 1

    # ---- the pass

    def run(self, it: Iterator[Any], cps: list[Checkpoint], ci: int, lookahead: int) -> None:
        n_cps = len(cps)
        next_cp = cps[ci].seq if ci < n_cps else -1
        expected = self.expected
        prev_hex = self.prev_hex
        fast = canonical_bytes_fast
        cut = fields_bytes_from_entry_bytes
        entry_keys = _ENTRY_SET
        sha256 = hashlib.sha256
        prev_raw = bytes.fromhex(prev_hex)
        for entry in it:
            try:
                seq = entry["seq"]
                stored = entry.get("hash")
                link = entry.get("prev_hash")
            except (KeyError, TypeError, AttributeError):
                self._sync(expected, prev_hex)
                raise _Stop(Problem.MODIFIED, expected, _malformed(entry, expected)) from None
            if seq != expected or type(seq) is not int:
                self._sync(expected, prev_hex)
                self._wrong_seq(entry, seq, it, lookahead)
            # the canonical bytes of the hashed fields: as read (an export line), cut from the
            # canonical text of the whole entry, or encoded from the fields themselves
            data = entry.fields_bytes if type(entry) is EncodedEntry else None
            try:
                if data is None and type(stored) is str and entry.keys() == entry_keys:
                    data = cut(fast(entry))
                if data is None:
                    data = fast({k: entry[k] for k in HASHED_FIELDS})
            except KeyError:
                self._sync(expected, prev_hex)
                raise _Stop(Problem.MODIFIED, expected, _malformed(entry, expected)) from None
            except EncodingError as e:
                self._sync(expected, prev_hex)
                raise _Stop(Problem.MODIFIED, expected, f"entry {expected}: {e}") from None
            digest = sha256(prev_raw + data).digest()
            hex_ = digest.hex()
            if (stored is not None and stored != hex_) or (link is not None and link != prev_hex):
                self._sync(expected, prev_hex)
                self._bad_link(entry, hex_, it)
            prev_raw = digest
            prev_hex = hex_
            expected += 1
            if seq == next_cp:
                self._sync(expected, prev_hex)
                while ci < n_cps and cps[ci].seq == seq:
                    self.check_checkpoint(cps[ci])
                    ci += 1
                next_cp = cps[ci].seq if ci < n_cps else -1
        self._sync(expected, prev_hex)

    def _sync(self, expected: int, prev_hex: str) -> None:
        self.expected = expected
        self.prev_hex = prev_hex

    def _prev_anchored(self) -> bool:
        """Is the entry before ``expected`` vouched for by a good checkpoint (or the start)?"""
        k = self.expected
        return k == self.start_seq or (self.last_good is not None and self.last_good.seq == k - 1)

    def _wrong_seq(
        self, entry: Mapping[str, Any], seq: Any, it: Iterator[Any], lookahead: int
    ) -> None:
        k = self.expected
        if type(seq) is not int:
            raise _Stop(Problem.MODIFIED, k, f"entry {k}: seq is not an integer: {seq!r}")
        fields = _fields_or_none(entry)
        stored = entry.get("hash")
        if (
            fields is not None
            and stored is not None
            and _hash(self.prev_hex, {**fields, "seq": k}) == stored
        ):
            raise _Stop(Problem.MODIFIED, k, f"entry {k}: its seq field was changed to {seq}")
        if seq < k:
            raise _Stop(
                Problem.OUT_OF_ORDER, k,
                f"entry {seq} appears again (or late) where entry {k} was expected",
            )
        for item in itertools.islice(it, lookahead):
            if _seq_of(item) == k:
                raise _Stop(
                    Problem.OUT_OF_ORDER, k, f"entry {k} appears after entry {seq}, out of order"
                )
        raise _Stop(
            Problem.MISSING, k, f"{_span(k, seq - 1)} missing: entry {seq} follows entry {k - 1}"
        )

    def _bad_link(self, entry: Mapping[str, Any], computed: str, it: Iterator[Any]) -> None:
        k = self.expected
        stored = entry.get("hash")
        link = entry.get("prev_hash")
        fields = _fields_or_none(entry)
        if fields is None:
            raise _Stop(Problem.MODIFIED, k, _malformed(entry, k))
        if stored is not None and stored == computed:
            raise _Stop(
                Problem.MODIFIED, k,
                f"entry {k}: its prev_hash field was changed (content and hash still match)",
            )
        if link is not None and link != self.prev_hex:
            consistent = stored is None or (is_hash_hex(link) and _hash(link, fields) == stored)
            if consistent and not self._prev_anchored():
                raise _Stop(
                    Problem.MODIFIED, k - 1,
                    f"entry {k - 1} was changed and its hash recomputed: entry {k} still "
                    f"links to the original hash {link}",
                )
            if consistent:
                raise _Stop(
                    Problem.MODIFIED, k,
                    f"entry {k} links to {link}, not to the verified hash {self.prev_hex} "
                    f"before it (its prev_hash and hash were rewritten)",
                )
        # two rows that traded places (seq kept in position, content swapped)?
        nxt = next(it, None)
        if (
            isinstance(nxt, Mapping)
            and link is not None
            and nxt.get("prev_hash") == self.prev_hex
            and nxt.get("hash") == link
        ):
            raise _Stop(
                Problem.OUT_OF_ORDER, k,
                f"entries {k} and {k + 1} traded places (entry {k}'s content follows {k + 1}'s)",
            )
        if (
            stored is not None
            and is_hash_hex(link)
            and type(fields.get("seq")) is int
            and _hash(link, {**fields, "seq": fields["seq"] + 1}) == stored
        ):
            raise _Stop(
                Problem.MISSING, k,
                f"entry {k} missing: the entries after it were renumbered (entry {k}'s place "
                f"holds entry {k + 1} with its seq changed)",
            )
        if stored is not None and _hash(self.prev_hex, fields) == stored:
            raise _Stop(
                Problem.MODIFIED, k,
                f"entry {k}: its text is not in canonical form (the values still match the hash)",
            )
        raise _Stop(Problem.MODIFIED, k, f"entry {k}: content does not match its hash")

    # ---- the end

    def finish(self, cps: list[Checkpoint], expected_last_seq: int | None) -> None:
        last = self.expected - 1
        beyond = [c for c in cps if c.seq > last and c.seq >= self.start_seq]
        for cp in beyond:
            if not self.signature_ok(cp):
                why = "unknown key" if cp.key_id not in self.keys else "signature does not verify"
                raise _Stop(
                    Problem.BAD_SIGNATURE, cp.seq,
                    f"checkpoint at seq {cp.seq} past the end of the chain: {why}",
                )
        claimed = max((c.seq for c in beyond), default=None)
        if expected_last_seq is not None and expected_last_seq > last:
            claimed = max(claimed or 0, expected_last_seq)
        if claimed is not None:
            good = self.last_good.seq if self.last_good else None
            after = (
                f"after the last good checkpoint at seq {good}" if good is not None
                else "and no checkpoint before the end verified"
            )
            raise _Stop(
                Problem.AFTER_LAST_CHECKPOINT, last + 1,
                f"{_span(last + 1, claimed)} missing: the chain ends at seq {last} {after}, "
                f"but is expected to reach seq {claimed}",
            )


def _malformed(entry: Any, k: int) -> str:
    if isinstance(entry, Mapping):
        missing = [f for f in ("seq", *HASHED_FIELDS) if f not in entry]
        return f"entry {k}: not a well-formed entry (missing {sorted(set(missing))})"
    return f"entry {k}: not a well-formed entry ({entry})"
