"""API models of the cases service (not ORM models)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CaseStatus(StrEnum):
    DRAFT = "DRAFT"
    ANALYZING = "ANALYZING"
    REVIEW = "REVIEW"
    COMPLETE = "COMPLETE"
    ARCHIVED = "ARCHIVED"


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    financial_data: dict[str, Any] = Field(default_factory=dict)
    ticker: str | None = Field(None, max_length=16, pattern=r"^[A-Za-z0-9.\-]{1,16}$")
    industry: str | None = Field(None, max_length=200)
    status: CaseStatus = CaseStatus.DRAFT
    tags: list[str] = Field(default_factory=list, max_length=50)
    notes: str | None = Field(None, max_length=20_000)


class CaseRead(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    status: CaseStatus
    industry: str | None
    ticker: str | None
    tags: list[str]
    notes: str | None
    financial_data: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
