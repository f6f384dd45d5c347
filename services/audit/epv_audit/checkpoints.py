"""Signed checkpoints: every N entries or T seconds, inside the transaction that holds the chain
head's row lock, so several replicas never sign two checkpoints for one head.

A checkpoint is due only while there are entries other than checkpoint notices after the last
one: each checkpoint emits `audit.checkpoint.created`, which comes back as an entry itself, and
that entry alone must not call for the next checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from epv_audit import chain
from epv_audit.models import chain_head, checkpoints, signing_keys
from epv_common.auditchain import Checkpoint, checkpoint_due, public_jwk, sign_checkpoint
from epv_common.db import UnitOfWork, UnitOfWorkFactory
from epv_common.events.envelope import new_event

log = structlog.get_logger("epv.audit.checkpoints")


class Checkpointer:
    def __init__(self, key: Ed25519PrivateKey, *, every: int, interval_s: float) -> None:
        self.key = key
        self.every = every
        self.interval_s = interval_s
        self.jwk = public_jwk(key.public_key())

    @property
    def key_id(self) -> str:
        return self.jwk["kid"]

    async def register_key(self, session: AsyncSession) -> None:
        """Lists this key among the published ones (for good: retired keys stay listed)."""
        await session.execute(pg_insert(signing_keys).values(
            key_id=self.key_id, public_key=self.jwk["x"]).on_conflict_do_nothing())

    def due(self, head: chain.Head, now: datetime) -> bool:
        return head.content_seq > head.checkpoint_seq and checkpoint_due(
            head_seq=head.seq, last_checkpoint_seq=head.checkpoint_seq,
            last_checkpoint_at=head.checkpoint_at, now=now,
            every_entries=self.every, every_seconds=self.interval_s)

    async def sign_if_due(self, uow: UnitOfWork, head: chain.Head) -> Checkpoint | None:
        """Signs the (locked) head when a checkpoint is due; the notice leaves via the outbox."""
        now = datetime.now(UTC)
        if not self.due(head, now):
            return None
        cp = sign_checkpoint(self.key, seq=head.seq, head_hash=head.hash, created_at=now)
        await self.register_key(uow.session)
        await uow.session.execute(insert(checkpoints).values(**cp.to_dict()))
        await uow.session.execute(update(chain_head).where(chain_head.c.id == 1)
                                  .values(checkpoint_seq=cp.seq, checkpoint_at=now))
        head.checkpoint_seq, head.checkpoint_at = cp.seq, now
        uow.record(new_event(chain.CHECKPOINT_NOTICE, source="audit", subject=str(cp.seq),
                             data=cp.to_dict()))
        return cp

    async def tick(self, uow_factory: UnitOfWorkFactory) -> Checkpoint | None:
        """The time rule when no events arrive: a replica that is appending holds the head and
        checkpoints itself, so a locked head is skipped."""
        async with uow_factory() as uow:
            head = await chain.lock_head(uow.session, skip_locked=True)
            if head is None:
                return None
            cp = await self.sign_if_due(uow, head)
            await uow.commit()
            return cp

    async def run(self, uow_factory: UnitOfWorkFactory) -> None:
        period = min(max(self.interval_s / 4, 0.2), 5.0)
        while True:
            await asyncio.sleep(period)
            try:
                await self.tick(uow_factory)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away; try again next period
                log.warning("checkpoint_tick_failed", error=type(exc).__name__,
                            detail=str(exc)[:200])


async def start_checkpointing(checkpointer: Checkpointer,
                              uow_factory: UnitOfWorkFactory) -> asyncio.Task:
    with contextlib.suppress(Exception):  # registered with every checkpoint anyway
        async with uow_factory() as uow:
            await checkpointer.register_key(uow.session)
            await uow.commit()
    return asyncio.create_task(checkpointer.run(uow_factory), name="audit-checkpoints")
