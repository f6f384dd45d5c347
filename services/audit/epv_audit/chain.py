"""Appends events to the hash chain: one chain head, locked FOR UPDATE, so any number of audit
replicas append to one gapless chain."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from epv_audit.models import chain_head, entries
from epv_common.auditchain.encoding import (
    ENCODING_VERSION,
    GENESIS_PREV_HASH,
    EncodingError,
    canonical_bytes_fast,
    format_timestamp,
    make_fields,
)
from epv_common.events.envelope import CloudEvent

SECURITY_TYPES = frozenset({
    "auth.login.failed", "auth.account.locked", "auth.session.revoked", "auth.key.rotated",
    "auth.refresh.reused", "case.privileged_read", "audit.retention.applied",
})
CHECKPOINT_NOTICE = "audit.checkpoint.created"
# The first word of these event types names the service, the second the entity.
_SERVICE_PREFIXED = frozenset({"auth", "audit"})


def entity_type_of(event_type: str) -> str:
    """`case.updated` -> `case`; `auth.user.updated` -> `user` (auth's first word is the service)."""
    parts = event_type.split(".")
    return parts[1] if parts[0] in _SERVICE_PREFIXED and len(parts) > 2 else parts[0]


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


def changes_of(event_type: str, data: dict[str, Any]) -> tuple[Any, Any]:
    """(before, after) of the change an event reports, or (None, None) when it reports none."""
    if "before" in data or "after" in data:  # auth.user.updated and any event that says so
        return data.get("before"), data.get("after")
    if event_type in ("case.updated", "case.restored") and "patch" in data:
        # case.updated carries a JSON Patch from the previous version, not the old values.
        before = {"version": data.get("previous_version")}
        after = {k: data[k] for k in ("version", "changed_fields", "patch", "restored_from")
                 if k in data}
        return before, after
    action = event_type.rsplit(".", 1)[-1]
    if action in ("created", "registered", "shared", "commented"):
        return None, _without(data, "security")
    if action in ("deleted", "share_revoked", "comment_deleted"):
        return _without(data, "security"), None
    return None, None


def entry_for(event: CloudEvent, *, seq: int, recorded_at: datetime) -> dict[str, Any]:
    """The hashed fields of the entry an event becomes."""
    data = event.data or {}
    before, after = changes_of(event.type, data)
    # A value with no canonical encoding (an integer past I-JSON range) raises EncodingError:
    # the consumer then dead-letters the event, kept verbatim for a replay, rather than
    # storing an altered copy of it.
    return make_fields(
        seq=seq, event_id=event.id, occurred_at=event.time, recorded_at=recorded_at,
        source=event.source, action=event.type, actor_id=event.actorid,
        entity_type=entity_type_of(event.type), entity_id=event.subject,
        request_id=event.requestid,
        security=data.get("security") is True or event.type in SECURITY_TYPES,
        before=before, after=after, event=event.model_dump(exclude_none=True),
    )


def fast_fields(event: CloudEvent, *, seq: int, recorded_at: str) -> dict[str, Any]:
    """`entry_for` on the hot path: the same fields, without make_fields' reference-encoder
    check (the hash below encodes them anyway, and refuses what has no canonical form)."""
    data = event.data or {}
    before, after = changes_of(event.type, data)
    return {
        "v": ENCODING_VERSION, "seq": seq, "event_id": event.id,
        "occurred_at": format_timestamp(event.time), "recorded_at": recorded_at,
        "source": event.source, "action": event.type, "actor_id": event.actorid,
        "entity_type": entity_type_of(event.type), "entity_id": event.subject,
        "request_id": event.requestid,
        "security": data.get("security") is True or event.type in SECURITY_TYPES,
        "before": before, "after": after, "event": event.model_dump(exclude_none=True),
    }


def _chain_fast(prev_hash: str, fields: dict[str, Any]) -> dict[str, Any]:
    """`chain_entry` with the fast canonical encoder: the events were decoded from JSON text,
    for which it writes exactly the RFC 8785 bytes (see auditchain.encoding)."""
    if not all(isinstance(fields[k], str) and fields[k] for k in ("event_id", "source", "action")):
        raise EncodingError("event_id, source and action must be non-empty strings")
    digest = hashlib.sha256(bytes.fromhex(prev_hash) + canonical_bytes_fast(fields)).hexdigest()
    return {**fields, "prev_hash": prev_hash, "hash": digest}


@dataclass(slots=True)
class Head:
    seq: int
    hash: str
    checkpoint_seq: int
    checkpoint_at: datetime | None
    content_seq: int


_HEAD_COLUMNS = (chain_head.c.seq, chain_head.c.hash, chain_head.c.checkpoint_seq,
                 chain_head.c.checkpoint_at, chain_head.c.content_seq)


async def lock_head(session: AsyncSession, *, skip_locked: bool = False) -> Head | None:
    """The chain head, locked until commit: every replica appends behind this one row lock.
    With `skip_locked`, None when another transaction holds it."""
    query = (select(*_HEAD_COLUMNS).where(chain_head.c.id == 1)
             .with_for_update(skip_locked=skip_locked))
    row = (await session.execute(query)).first()
    if row is None:
        await session.execute(pg_insert(chain_head).values(id=1, seq=0, hash=GENESIS_PREV_HASH)
                              .on_conflict_do_nothing())
        row = (await session.execute(query)).first()
        if row is None:
            return None
    return Head(*row)


async def append(session: AsyncSession, events: list[CloudEvent]) -> Head:
    """Appends the events in order, as one gapless run of the chain; returns the new head,
    still locked, so a checkpoint can be signed in the same transaction."""
    head = await lock_head(session)
    assert head is not None
    seq, prev_hash = head.seq, head.hash
    recorded_at = format_timestamp(datetime.now(UTC))
    rows = []
    for event in events:
        seq += 1
        entry = _chain_fast(prev_hash, fast_fields(event, seq=seq, recorded_at=recorded_at))
        prev_hash = entry["hash"]
        if event.type != CHECKPOINT_NOTICE:
            head.content_seq = seq
        rows.append({**entry, "event_id": uuid.UUID(entry["event_id"])})
    if rows:
        await session.execute(insert(entries), rows)
        await session.execute(update(chain_head).where(chain_head.c.id == 1)
                              .values(seq=seq, hash=prev_hash, content_seq=head.content_seq))
        head.seq, head.hash = seq, prev_hash
    return head
