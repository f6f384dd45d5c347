"""API models of the cases service (not ORM models)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CaseStatus(StrEnum):
    DRAFT = "DRAFT"
    ANALYZING = "ANALYZING"
    REVIEW = "REVIEW"
    COMPLETE = "COMPLETE"
    ARCHIVED = "ARCHIVED"


class ShareLevelName(StrEnum):
    READ = "READ"
    COMMENT = "COMMENT"
    EDIT = "EDIT"
    ADMIN = "ADMIN"


class CaseContent(BaseModel):
    """The editable, versioned fields. POST and PUT take all of them (PUT replaces: an omitted
    optional field is reset); PATCH merges into the current ones and validates the result."""

    model_config = ConfigDict(extra="forbid")

    # 500: the legacy importer keeps names whole up to 500 characters.
    name: str = Field(min_length=1, max_length=500)
    financial_data: dict[str, Any] = Field(default_factory=dict)
    ticker: str | None = Field(None, max_length=16, pattern=r"^[A-Za-z0-9.\-]{1,16}$")
    industry: str | None = Field(None, max_length=200)
    status: CaseStatus = CaseStatus.DRAFT
    tags: list[str] = Field(default_factory=list, max_length=50)
    notes: str | None = Field(None, max_length=20_000)


class CaseCreate(CaseContent):
    pass


class CaseReplace(CaseContent):
    pass


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
    legacy_id: str | None = None
    legacy_updated_at: datetime | None = None
    deleted_at: datetime | None = None
    access: Literal["OWNER", "ADMIN", "EDIT", "COMMENT", "READ"] | None = None
    """The caller's level on this case."""


class CaseSummary(BaseModel):
    """A list entry: the case without its (possibly large) financial data."""

    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    status: CaseStatus
    industry: str | None
    ticker: str | None
    tags: list[str]
    version: int
    created_at: datetime
    updated_at: datetime
    legacy_id: str | None = None
    deleted_at: datetime | None = None
    access: str | None = None


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = None


class VersionSummary(BaseModel):
    version: int
    author_id: uuid.UUID
    change: str
    restored_from: int | None
    created_at: datetime


class VersionPage(BaseModel):
    items: list[VersionSummary]
    next_cursor: str | None = None


class VersionRead(VersionSummary):
    case_id: uuid.UUID
    content: dict[str, Any]


class VersionDiff(BaseModel):
    case_id: uuid.UUID
    from_version: int = Field(serialization_alias="from")
    to_version: int = Field(serialization_alias="to")
    patch: list[dict[str, Any]]
    """RFC 6902 JSON Patch turning version `from` into version `to`."""


class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    level: ShareLevelName
    expires_at: datetime | None = None


class ShareRead(BaseModel):
    case_id: uuid.UUID
    user_id: uuid.UUID
    email: str | None
    name: str | None = None
    level: ShareLevelName
    granted_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None


class ShareList(BaseModel):
    items: list[ShareRead]


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=10_000)


class CommentRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    author_id: uuid.UUID
    body: str
    created_at: datetime


class CommentPage(BaseModel):
    items: list[CommentRead]
    next_cursor: str | None = None


class LegacyImportRequest(BaseModel):
    """`localStorageData` is checked by the importer itself (its 422 lists every defect)."""

    model_config = ConfigDict(populate_by_name=True)

    local_storage_data: Any = Field(alias="localStorageData")
    email: str | None = Field(None, max_length=320)
    name: str | None = Field(None, max_length=500)
    organization: str | None = Field(None, max_length=500)


class LegacyImportReport(BaseModel):
    import_id: uuid.UUID | None
    dry_run: bool
    owner_id: uuid.UUID
    counts: dict[str, dict[str, int]]
    rejected: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    ignored_keys: list[str]
    case_ids: dict[str, uuid.UUID] = Field(default_factory=dict)
    """Idempotency key of each case created by this import -> its new id."""
