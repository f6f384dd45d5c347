"""Handlers of the events the audit service consumes: every event becomes one chain entry."""

from __future__ import annotations

from epv_audit import chain
from epv_common.db import UnitOfWork
from epv_common.events.envelope import CloudEvent


async def record_entries(events: list[CloudEvent], uow: UnitOfWork) -> None:
    await chain.append(uow.session, events)
