"""Chain verification and signed checkpoints (epv_common.auditchain.verify / .checkpoint)."""

from __future__ import annotations

import copy
import hashlib
import pickle
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from epv_common.auditchain import (
    GENESIS_PREV_HASH,
    HASHED_FIELDS,
    Checkpoint,
    CheckpointError,
    MalformedLine,
    Problem,
    build_chain,
    canonical_bytes_fast,
    checkpoint_due,
    derive_key_id,
    entry_fields,
    entry_hash,
    generate_private_key,
    join_results,
    jwk_to_public_key,
    load_private_key,
    load_public_key,
    load_public_keys,
    make_fields,
    private_key_to_pem,
    private_key_to_raw,
    public_jwk,
    public_key_to_pem,
    public_key_to_raw,
    public_keys_document,
    retention_checkpoint,
    sign_checkpoint,
    verify_chain,
    verify_checkpoint,
)

T0 = datetime(2025, 3, 1, tzinfo=UTC)
KEY = generate_private_key()
KEYS = {derive_key_id(KEY.public_key()): KEY.public_key()}
CP_SEQS = (25, 50, 75, 100)


def _fields(seq: int) -> dict:
    return make_fields(
        seq=seq,
        event_id=f"ev-{seq}",
        occurred_at=T0 + timedelta(seconds=seq),
        recorded_at=T0 + timedelta(seconds=seq, microseconds=1500),
        source="cases" if seq % 3 else "auth",
        action="case.updated" if seq % 3 else "auth.login.failed",
        actor_id=f"u-{seq % 5}" if seq % 3 else None,
        entity_type="case" if seq % 3 else "user",
        entity_id=f"c-{seq % 11}",
        request_id=f"r-{seq}",
        security=seq % 3 == 0,
        before={"status": "draft", "revenue": 1000.0 + seq} if seq % 3 else None,
        after={"status": "review", "revenue": 1250.5 + seq} if seq % 3 else None,
        event={"id": f"ev-{seq}", "data": {"n": seq, "tags": ["a", "é"]}},
    )


def _chain(n: int = 100) -> list[dict]:
    return list(build_chain(_fields(i) for i in range(1, n + 1)))


def _checkpoints(chain: list[dict], seqs=CP_SEQS, key=KEY) -> list[Checkpoint]:
    return [
        sign_checkpoint(key, seq=s, head_hash=chain[s - 1]["hash"], created_at=T0 + timedelta(hours=s))
        for s in seqs
        if s <= len(chain)
    ]


CHAIN = _chain()
CPS = _checkpoints(CHAIN)


def _verify(entries, cps=CPS, keys=KEYS, **kw):
    return verify_chain(entries, cps, keys, **kw)


def _tampered() -> list[dict]:
    return copy.deepcopy(CHAIN)


# --------------------------------------------------------------------------- intact


def test_intact_chain_verifies():
    r = _verify(CHAIN)
    assert r.ok and r.problem is None and r.seq is None
    assert r.entries_checked == 100 and (r.first_seq, r.last_seq) == (1, 100)
    assert r.head_hash == CHAIN[-1]["hash"]
    assert r.last_good_checkpoint == CPS[-1] and r.checkpoints_verified == 4
    assert r.anchored_start and r.unsigned_entries == 0
    assert orjson.loads(orjson.dumps(r.to_dict()))["ok"] is True


def test_entries_are_streamed_from_any_iterable_in_one_pass():
    consumed = []

    def gen() -> Iterator[dict]:
        for e in CHAIN:
            consumed.append(e["seq"])
            yield e

    assert _verify(gen()).ok
    assert consumed == list(range(1, 101))


def test_verify_runs_in_constant_memory():
    n = 5_000
    template = orjson.dumps(entry_fields(CHAIN[1]))

    def gen() -> Iterator[dict]:
        prev = GENESIS_PREV_HASH
        for seq in range(1, n + 1):
            f = orjson.loads(template)  # a fresh object graph per entry, as a cursor gives
            f["seq"] = seq
            h = hashlib.sha256(bytes.fromhex(prev) + canonical_bytes_fast(f)).hexdigest()
            yield {**f, "prev_hash": prev, "hash": h}
            prev = h

    one = len(pickle.dumps(next(gen())))
    tracemalloc.start()
    try:
        r = verify_chain(gen())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.ok and r.entries_checked == n
    assert peak < n * one / 20  # holding all n entries would take about n * one


def test_entries_without_stored_hashes_still_verify():
    bare = [{k: e[k] for k in HASHED_FIELDS} for e in CHAIN]
    r = _verify(bare)
    assert r.ok and r.checkpoints_verified == 4


# --------------------------------------------------------------------------- tamper cases


@pytest.mark.parametrize("k", [1, 42, 50, 100])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor_id", "u-evil"),
        ("action", "case.deleted"),
        ("security", True),
        ("occurred_at", "2025-03-01T00:00:00.000001Z"),
        ("after", {"status": "approved"}),
        ("before", None),
        ("event", {"id": "forged"}),
        ("entity_id", "c-999"),
        ("v", 2),
    ],
)
def test_one_changed_field_is_modified_at_that_entry(k, field, value):
    chain = _tampered()
    if chain[k - 1][field] == value:
        value = "something else"
    chain[k - 1][field] = value
    r = _verify(chain)
    assert (r.ok, r.problem, r.seq) == (False, Problem.MODIFIED, k)
    assert r.entries_checked == k - 1


def test_a_nested_change_is_modified():
    chain = _tampered()
    chain[41]["event"]["data"]["tags"][1] = "e"
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.MODIFIED, 42)


@pytest.mark.parametrize("k", [1, 42])
def test_changed_seq_field_is_modified(k):
    chain = _tampered()
    chain[k - 1]["seq"] = k + 7
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.MODIFIED, k)
    assert "seq" in r.detail


def test_changed_prev_hash_field_is_modified():
    chain = _tampered()
    chain[41]["prev_hash"] = "f" * 64
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.MODIFIED, 42)
    assert "prev_hash" in r.detail


def test_changed_entry_with_its_hash_recomputed_is_named_not_its_successor():
    chain = _tampered()
    chain[41]["actor_id"] = "u-evil"
    chain[41]["hash"] = entry_hash(chain[41]["prev_hash"], entry_fields(chain[41]))
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.MODIFIED, 42)


def test_changed_entry_at_a_checkpoint_with_its_hash_recomputed_is_a_checkpoint_mismatch():
    chain = _tampered()
    chain[49]["actor_id"] = "u-evil"
    chain[49]["hash"] = entry_hash(chain[49]["prev_hash"], entry_fields(chain[49]))
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.CHECKPOINT_MISMATCH, 50)
    assert r.last_good_checkpoint.seq == 25


def test_rewritten_chain_is_caught_by_the_next_checkpoint():
    # the attacker changes entry 60 and recomputes every hash after it
    fields = [entry_fields(e) for e in CHAIN]
    fields[59]["actor_id"] = "u-evil"
    rewritten = list(build_chain(fields))
    r = _verify(rewritten)
    assert (r.problem, r.seq) == (Problem.CHECKPOINT_MISMATCH, 75)
    assert r.last_good_checkpoint.seq == 50 and r.entries_checked == 75


@pytest.mark.parametrize("k", [1, 42, 50, 99])
def test_deleted_entry_is_missing(k):
    chain = _tampered()
    del chain[k - 1]
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.MISSING, k)
    assert r.entries_checked == k - 1


def test_deleted_run_is_missing_at_its_first_seq():
    chain = _tampered()
    del chain[41:44]
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.MISSING, 42)
    assert "42..44" in r.detail


def test_deleted_entry_with_later_entries_renumbered_is_missing():
    chain = _tampered()
    del chain[41]
    for e in chain[41:]:
        e["seq"] -= 1
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.MISSING, 42)


@pytest.mark.parametrize("k", [1, 42, 99])
def test_swapped_entries_are_out_of_order(k):
    chain = _tampered()
    chain[k - 1], chain[k] = chain[k], chain[k - 1]
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.OUT_OF_ORDER, k)


def test_rows_that_traded_contents_are_out_of_order():
    # as read ORDER BY seq after the seq column of two rows was swapped
    chain = _tampered()
    a, b = chain[41], chain[42]
    chain[41], chain[42] = {**b, "seq": 42}, {**a, "seq": 43}
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.OUT_OF_ORDER, 42)


def test_entry_moved_further_back_is_out_of_order():
    chain = _tampered()
    moved = chain.pop(41)
    chain.insert(60, moved)
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.OUT_OF_ORDER, 42)


def test_repeated_entry_is_out_of_order():
    chain = _tampered()
    chain.insert(42, copy.deepcopy(chain[41]))
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.OUT_OF_ORDER, 43)


def test_tail_dropped_is_reported_after_the_last_good_checkpoint():
    r = _verify(CHAIN[:60])
    assert (r.problem, r.seq) == (Problem.AFTER_LAST_CHECKPOINT, 61)
    assert r.last_good_checkpoint.seq == 50 and r.entries_checked == 60
    assert "61..100" in r.detail


def test_tail_dropped_exactly_at_a_checkpoint():
    r = _verify(CHAIN[:50])
    assert (r.problem, r.seq) == (Problem.AFTER_LAST_CHECKPOINT, 51)
    assert r.last_good_checkpoint.seq == 50


def test_empty_chain_with_checkpoints_is_all_missing():
    r = _verify([])
    assert (r.problem, r.seq) == (Problem.AFTER_LAST_CHECKPOINT, 1)
    assert r.last_good_checkpoint is None


def test_unsigned_tail_verifies_but_is_reported_and_can_be_required():
    chain = _chain(110)
    cps = _checkpoints(chain)
    r = _verify(chain[:105], cps)
    assert r.ok and r.unsigned_entries == 5 and r.last_good_checkpoint.seq == 100
    r = _verify(chain[:105], cps, expected_last_seq=110)
    assert (r.problem, r.seq) == (Problem.AFTER_LAST_CHECKPOINT, 106)


def test_malformed_items_are_modified_where_they_stand():
    chain = _tampered()
    chain[41] = MalformedLine(42, "not JSON")
    r = _verify(chain)
    assert (r.problem, r.seq) == (Problem.MODIFIED, 42)
    assert "line 42" in r.detail
    chain = _tampered()
    del chain[41]["entity_type"]
    assert (_verify(chain).problem, _verify(chain).seq) == (Problem.MODIFIED, 42)
    chain = _tampered()
    chain[41]["after"] = {"n": 2**60}  # no canonical encoding
    assert (_verify(chain).problem, _verify(chain).seq) == (Problem.MODIFIED, 42)


def test_hashes_recorded_without_stored_hash_name_the_changed_entry():
    bare = [{k: e[k] for k in (*HASHED_FIELDS, "prev_hash")} for e in CHAIN]
    bare[41]["actor_id"] = "u-evil"
    r = _verify(bare)
    assert (r.problem, r.seq) == (Problem.MODIFIED, 42)


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_with_bad_signature():
    cps = list(CPS)
    sig = cps[1].signature
    cps[1] = Checkpoint(**{**cps[1].to_dict(), "signature": ("B" if sig[0] == "A" else "A") + sig[1:]})
    r = _verify(CHAIN, cps)
    assert (r.problem, r.seq) == (Problem.BAD_SIGNATURE, 50)
    assert r.last_good_checkpoint.seq == 25


def test_checkpoint_with_altered_head_no_longer_verifies():
    cps = list(CPS)
    cps[2] = Checkpoint(**{**cps[2].to_dict(), "head_hash": CHAIN[10]["hash"]})
    r = _verify(CHAIN, cps)
    assert (r.problem, r.seq) == (Problem.BAD_SIGNATURE, 75)


def test_checkpoint_from_an_unknown_key():
    other = generate_private_key()
    cps = [*CPS[:2], *_checkpoints(CHAIN, (75,), key=other)]
    r = _verify(CHAIN, cps)
    assert (r.problem, r.seq) == (Problem.BAD_SIGNATURE, 75)
    assert "unknown key" in r.detail


def test_validly_signed_checkpoint_of_another_head_is_a_mismatch():
    cps = [*CPS[:1], sign_checkpoint(KEY, seq=50, head_hash="ab" * 32, created_at=T0)]
    r = _verify(CHAIN, cps)
    assert (r.problem, r.seq) == (Problem.CHECKPOINT_MISMATCH, 50)


def test_forged_checkpoint_past_the_end_is_a_bad_signature_not_a_truncation():
    forged = Checkpoint(seq=500, head_hash="ab" * 32, created_at=CPS[0].created_at,
                        key_id=CPS[0].key_id, signature=CPS[0].signature)
    r = _verify(CHAIN, [*CPS, forged])
    assert (r.problem, r.seq) == (Problem.BAD_SIGNATURE, 500)


def test_sign_and_verify_checkpoint():
    cp = sign_checkpoint(KEY, seq=3, head_hash="cd" * 32, created_at="2025-03-01T10:00:00+01:00")
    assert cp.created_at == "2025-03-01T09:00:00.000000Z"
    assert cp.key_id == derive_key_id(KEY.public_key()) and len(cp.key_id) == 16
    assert verify_checkpoint(KEY.public_key(), cp)
    assert not verify_checkpoint(generate_private_key().public_key(), cp)
    assert not verify_checkpoint(KEY.public_key(), Checkpoint(**{**cp.to_dict(), "seq": 4}))
    assert Checkpoint.from_dict(orjson.loads(orjson.dumps(cp.to_dict()))) == cp
    with pytest.raises(CheckpointError):
        Checkpoint.from_dict({**cp.to_dict(), "extra": 1})
    with pytest.raises(CheckpointError):
        Checkpoint.from_dict({**cp.to_dict(), "head_hash": "CD" * 32})


def test_signature_encoding_is_strict():
    cp = sign_checkpoint(KEY, seq=3, head_hash="cd" * 32, created_at=T0)
    # the last base64url character of 64 bytes carries 2 unused bits: a different spelling
    # of the same bytes must not verify either
    last = cp.signature[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]
    for spelling in (cp.signature[:-1] + twin, cp.signature + "="):
        other = Checkpoint(**{**cp.to_dict(), "signature": spelling})
        assert not verify_checkpoint(KEY.public_key(), other)


def test_keys_load_and_publish():
    pub = KEY.public_key()
    assert public_key_to_raw(load_public_key(public_key_to_pem(pub))) == public_key_to_raw(pub)
    assert public_key_to_raw(load_public_key(public_key_to_raw(pub))) == public_key_to_raw(pub)
    assert private_key_to_raw(load_private_key(private_key_to_pem(KEY))) == private_key_to_raw(KEY)
    assert private_key_to_raw(load_private_key(private_key_to_raw(KEY))) == private_key_to_raw(KEY)
    enc = private_key_to_pem(KEY, password=b"pw")
    assert private_key_to_raw(load_private_key(enc, password=b"pw")) == private_key_to_raw(KEY)
    jwk = public_jwk(pub)
    assert set(jwk) == {"kty", "crv", "alg", "use", "kid", "x"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    kid, key = jwk_to_public_key(jwk)
    assert kid == derive_key_id(pub) and public_key_to_raw(key) == public_key_to_raw(pub)
    doc = orjson.loads(orjson.dumps(public_keys_document([pub])))
    assert list(load_public_keys(doc)) == [kid]
    with pytest.raises(CheckpointError):
        jwk_to_public_key({**jwk, "kid": "someone-else"})
    with pytest.raises(CheckpointError):
        jwk_to_public_key({**jwk, "d": "secret"})
    with pytest.raises(CheckpointError):
        jwk_to_public_key({**jwk, "crv": "P-256"})


def test_checkpoint_due_every_n_entries_or_t_seconds():
    due = dict(last_checkpoint_seq=100, every_entries=50, every_seconds=60)
    now = T0 + timedelta(seconds=30)
    assert not checkpoint_due(head_seq=100, last_checkpoint_at=T0, now=now + timedelta(hours=1), **due)
    assert not checkpoint_due(head_seq=120, last_checkpoint_at=T0, now=now, **due)
    assert checkpoint_due(head_seq=150, last_checkpoint_at=T0, now=now, **due)
    assert checkpoint_due(head_seq=101, last_checkpoint_at=T0, now=T0 + timedelta(seconds=60), **due)
    assert checkpoint_due(head_seq=1, last_checkpoint_at=None, now=now, **{**due, "last_checkpoint_seq": 0})


# --------------------------------------------------------------------------- retention


def test_retention_cuts_only_at_a_checkpoint():
    assert retention_checkpoint(CPS, last_removable_seq=24) is None
    assert retention_checkpoint(CPS, last_removable_seq=60).seq == 50
    assert retention_checkpoint(reversed(CPS), last_removable_seq=100).seq == 100


def test_what_remains_after_a_retention_cut_verifies():
    cut = retention_checkpoint(CPS, last_removable_seq=63)
    remaining = CHAIN[cut.seq:]
    kept = [c for c in CPS if c.seq >= cut.seq]
    r = _verify(remaining, kept, start_prev_hash=cut.head_hash, start_seq=cut.seq + 1)
    assert r.ok and r.anchored_start and (r.first_seq, r.last_seq) == (51, 100)
    assert r.checkpoints_verified == 3 and r.last_good_checkpoint.seq == 100
    # or starting from whatever the first remaining entry is
    r = _verify(remaining, kept, start_prev_hash=None, start_seq=None)
    assert r.ok and r.anchored_start and r.entries_checked == 50


def test_retention_cut_verification_still_names_tampering():
    remaining = _tampered()[50:]
    kept = [c for c in CPS if c.seq >= 50]
    remaining[10]["actor_id"] = "u-evil"
    r = _verify(remaining, kept, start_prev_hash=None, start_seq=None)
    assert (r.problem, r.seq) == (Problem.MODIFIED, 61)
    r = _verify(CHAIN[51:], kept, start_prev_hash=kept[0].head_hash, start_seq=51)
    assert (r.problem, r.seq) == (Problem.MISSING, 51)
    # started from whatever comes first, a gap behind the retained checkpoint shows as an
    # unanchored start (the export may be a range): the caller decides
    r = _verify(CHAIN[51:], kept, start_prev_hash=None, start_seq=None)
    assert r.ok and not r.anchored_start and r.first_seq == 52


def test_first_remaining_entry_must_link_to_the_retained_checkpoint():
    remaining = _tampered()[50:]
    remaining[0]["prev_hash"] = "ee" * 32
    kept = [c for c in CPS if c.seq >= 50]
    r = _verify(remaining, kept, start_prev_hash=None, start_seq=None)
    assert (r.problem, r.seq) == (Problem.MODIFIED, 51)
    r = _verify(remaining[1:], kept, start_prev_hash="ee" * 32, start_seq=52)
    assert r.ok is False


def test_cut_without_a_retained_checkpoint_is_not_anchored():
    r = _verify(CHAIN[60:], [c for c in CPS if c.seq > 60], start_prev_hash=None, start_seq=None)
    assert r.ok and not r.anchored_start and r.first_seq == 61


def _in_two(chain, at: int, cps=CPS):
    """Verified in two runs that meet at the checkpoint at `at`, joined."""
    cp = next(c for c in cps if c.seq == at)
    head = _verify([e for e in chain if e["seq"] <= at], [c for c in cps if c.seq <= at],
                   expected_last_seq=at)
    tail = _verify([e for e in chain if e["seq"] > at], [c for c in cps if c.seq >= at],
                   start_prev_hash=cp.head_hash, start_seq=at + 1, expected_last_seq=100)
    return head, tail


def test_two_runs_joined_at_a_checkpoint_are_one_pass():
    head, tail = _in_two(CHAIN, 50)
    assert join_results(head, tail) == _verify(CHAIN, expected_last_seq=100)
    chain = _tampered()
    chain[69]["after"] = {"status": "forged"}
    head, tail = _in_two(chain, 50)
    joined = join_results(head, tail)
    assert joined == _verify(chain, expected_last_seq=100)
    assert (joined.problem, joined.seq, joined.entries_checked) == (Problem.MODIFIED, 70, 69)
    head, tail = _in_two(CHAIN[:60], 50)  # nothing verifies after the checkpoint
    joined = join_results(head, tail)
    assert joined == _verify(CHAIN[:60], expected_last_seq=100)


def test_a_join_needs_a_good_head_ending_where_the_tail_starts():
    chain = _tampered()
    chain[29]["actor_id"] = "u-evil"
    head, tail = _in_two(chain, 50)
    with pytest.raises(ValueError):
        join_results(head, tail)
    head, _ = _in_two(CHAIN, 50)
    _, tail = _in_two(CHAIN, 75)
    with pytest.raises(ValueError):
        join_results(head, tail)


def test_rows_with_extra_columns_and_odd_strings_verify():
    # a database row may carry more columns; strings after "hash" may hold brackets
    fields = [entry_fields(e) for e in CHAIN[:30]]
    fields[4]["request_id"] = '{"x": [1, 2]}'
    fields[5]["source"] = '","prev_hash":"' + "0" * 64 + '","recorded_at":"'
    chain = list(build_chain(fields))
    rows = [{**e, "id": i, "inserted_by": "audit"} for i, e in enumerate(chain)]
    assert verify_chain(rows).ok
    assert verify_chain(chain).ok
    chain[5]["source"] = "cases"
    assert (verify_chain(chain).problem, verify_chain(chain).seq) == (Problem.MODIFIED, 6)


def test_unreadable_first_item_after_a_cut_is_placed_by_the_next():
    kept = [c for c in CPS if c.seq >= 50]
    items = [MalformedLine(1, "not JSON"), *CHAIN[51:]]
    r = _verify(items, kept, start_prev_hash=None, start_seq=None)
    assert (r.problem, r.seq) == (Problem.MODIFIED, 51)
