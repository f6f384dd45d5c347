"""API models of the audit service."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel


class EntryRead(BaseModel):
    seq: int
    v: int
    event_id: uuid.UUID
    occurred_at: str
    recorded_at: str
    actor_id: str | None
    action: str
    entity_type: str | None
    entity_id: str | None
    request_id: str | None
    source: str
    security: bool
    before: Any = None
    after: Any = None
    event: dict[str, Any]
    prev_hash: str
    hash: str
