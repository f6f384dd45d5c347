"""Appends events to the hash chain: one chain head, locked FOR UPDATE, so any number of audit
replicas append to one gapless chain."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from epv_audit.models import chain_head, entries
from epv_common.auditchain.encoding import GENESIS_PREV_HASH, chain_entry, make_fields
from epv_common.events.envelope import CloudEvent

SECURITY_TYPES = frozenset({
    "auth.login.failed", "auth.account.locked", "auth.session.revoked", "case.privileged_read",
})


def entity_type_of(event_type: str) -> str:
    """`case.updated` -> `case`; `auth.user.updated` -> `user` (auth's first word is the service)."""
    parts = event_type.split(".")
    return parts[1] if parts[0] == "auth" and len(parts) > 2 else parts[0]


def entry_for(event: CloudEvent, *, seq: int, recorded_at: datetime) -> dict[str, Any]:
    """The hashed fields of the entry an event becomes."""
    data = event.data or {}
    return make_fields(
        seq=seq, event_id=event.id, occurred_at=event.time, recorded_at=recorded_at,
        source=event.source, action=event.type, actor_id=event.actorid,
        entity_type=entity_type_of(event.type), entity_id=event.subject,
        request_id=event.requestid,
        security=bool(data.get("security")) or event.type in SECURITY_TYPES,
        before=data.get("before"), after=data.get("after"),
        event=event.model_dump(exclude_none=True),
    )


async def _lock_head(session: AsyncSession) -> tuple[int, str]:
    """The chain head, locked until commit: every replica appends behind this one row lock."""
    query = select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1).with_for_update()
    head = (await session.execute(query)).first()
    if head is None:
        await session.execute(pg_insert(chain_head).values(id=1, seq=0, hash=GENESIS_PREV_HASH)
                              .on_conflict_do_nothing())
        head = (await session.execute(query)).one()
    return head.seq, head.hash


async def append(session: AsyncSession, events: list[CloudEvent]) -> int:
    """Appends the events in order, as one gapless run of the chain; returns the new head seq."""
    seq, prev_hash = await _lock_head(session)
    recorded_at = datetime.now(UTC)
    rows = []
    for event in events:
        seq += 1
        entry = chain_entry(prev_hash, entry_for(event, seq=seq, recorded_at=recorded_at))
        prev_hash = entry["hash"]
        rows.append({**entry, "event_id": uuid.UUID(entry["event_id"])})
    if rows:
        await session.execute(insert(entries), rows)
        await session.execute(update(chain_head).where(chain_head.c.id == 1)
                              .values(seq=seq, hash=prev_hash))
    return seq
