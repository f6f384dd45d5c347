"""Handlers of the events the audit service consumes: every event becomes one chain entry."""

from __future__ import annotations

from epv_audit import chain
from epv_audit.checkpoints import Checkpointer
from epv_common.db import UnitOfWork
from epv_common.events.consumer import BatchHandler
from epv_common.events.envelope import CloudEvent


def entry_recorder(checkpointer: Checkpointer) -> BatchHandler:
    """The batch handler: append the batch, then sign a checkpoint if one is due, all in the
    consumer's one transaction (under the chain head's lock)."""

    async def record_entries(events: list[CloudEvent], uow: UnitOfWork) -> None:
        head = await chain.append(uow.session, events)
        await checkpointer.sign_if_due(uow, head)

    return record_entries
