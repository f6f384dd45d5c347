"""API models of the audit service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


class CheckpointRead(BaseModel):
    """Exactly the published checkpoint form (what the offline verifier reads)."""

    seq: int
    head_hash: str
    created_at: str
    key_id: str
    signature: str


class PublicKey(BaseModel):
    kty: str
    crv: str
    alg: str
    use: str
    kid: str
    x: str


class PublicKeys(BaseModel):
    keys: list[PublicKey]


class VerifyRead(BaseModel):
    ok: bool
    problem: str | None
    seq: int | None
    detail: str
    entries_checked: int
    first_seq: int | None
    last_seq: int | None
    head_hash: str
    last_good_checkpoint: CheckpointRead | None
    checkpoints_verified: int
    anchored_start: bool
    unsigned_entries: int
    from_: int = Field(alias="from")
    to: int
    chain_head_seq: int
    retained_from: int | None

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class RetentionRequest(BaseModel):
    before: datetime


class RetentionRead(BaseModel):
    cut_seq: int | None
    deleted: int
    retained_from: int | None
