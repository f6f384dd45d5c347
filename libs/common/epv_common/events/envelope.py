"""The CloudEvents 1.0 envelope (JSON structured mode) that every event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from epv_common.requestctx import current_request_id, current_traceparent

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"


def _now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: str = SPECVERSION
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    time: str = Field(default_factory=_now_rfc3339)
    subject: str | None = None
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)
    actorid: str | None = None
    requestid: str | None = None
    traceparent: str | None = None

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(exclude_none=True))

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        return cls.model_validate(orjson.loads(raw))


def new_event(
    type: str, *, source: str, subject: str | None, data: dict[str, Any],
    actor_id: str | None = None,
) -> CloudEvent:
    """An event stamped with the current request id and trace context."""
    return CloudEvent(
        source=source, type=type, subject=subject, data=data, actorid=actor_id,
        requestid=current_request_id(), traceparent=current_traceparent(),
    )
