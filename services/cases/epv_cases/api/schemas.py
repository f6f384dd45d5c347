"""API models of the cases service (not ORM models)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    status: Literal["completed", "awaiting_account"]
    """`awaiting_account`: an ADMIN's import for an email with no account yet; the report is a
    preview and the import runs once auth has created the account (see its import_id).
    With dry_run, the status a real run would have."""
    owner_id: uuid.UUID | None
    counts: dict[str, dict[str, int]]
    rejected: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    ignored_keys: list[str]
    case_ids: dict[str, uuid.UUID] = Field(default_factory=dict)
    """Idempotency key of each case created by this import -> its new id."""


class LegacyImportStatus(BaseModel):
    import_id: uuid.UUID
    status: Literal["awaiting_account", "completed", "rejected"]
    email: str | None
    owner_id: uuid.UUID | None
    imported_by: uuid.UUID
    created_at: datetime
    completed_at: datetime | None
    report: LegacyImportReport | None
    """The full report, once completed."""


# -- analyses -------------------------------------------------------------------------------------

class EngineOrigin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["engine"]


class AgentOrigin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["agent"]
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/\-]*$")
    version: str = Field(min_length=1, max_length=50)


class AnalysisWarning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=100)
    field: str | None = Field(None, max_length=500)


_AGENT_ONLY = ("figures", "inputs", "warnings", "method_version", "run_at")


class AnalysisCreate(BaseModel):
    """One endpoint, two kinds of analysis, told apart by `origin.kind`: without an origin (or
    with kind `engine`) the engine runs on the case; with kind `agent` the body carries an
    agent's own result, stored as given."""

    model_config = ConfigDict(extra="forbid")

    case_version: int | None = Field(None, ge=1, description="default: the current version")
    share_price: float | None = Field(
        None, allow_inf_nan=False,
        description="engine only: replaces assumptions.current_share_price for the margin of "
                    "safety, and is stored in the analysis' inputs")
    origin: Annotated[EngineOrigin | AgentOrigin, Field(discriminator="kind")] | None = None
    figures: dict[str, Any] | None = Field(
        None, description="agent only: figures of epv-method.md section 11 by name, and the "
                          "agent's own under the `x_` prefix")
    inputs: dict[str, Any] | None = Field(None, description="agent only: what it analysed")
    warnings: list[AnalysisWarning] | None = Field(None, max_length=200)
    method_version: str | None = Field(None, max_length=50)
    run_at: datetime | None = None

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> AnalysisCreate:
        if isinstance(self.origin, AgentOrigin):
            if self.figures is None:
                raise ValueError("an agent's analysis needs `figures`")
            if self.share_price is not None:
                raise ValueError("`share_price` applies to engine runs only")
        else:
            given = [f for f in _AGENT_ONLY if getattr(self, f) is not None]
            if given:
                raise ValueError(f"{', '.join(given)}: only for origin.kind = agent; the engine "
                                 "computes its own")
        return self


class AnalysisOrigin(BaseModel):
    kind: Literal["engine", "agent", "legacy"]
    name: str
    version: str | None = None


class AnalysisBase(BaseModel):
    """What a list entry and a full analysis both carry."""

    id: uuid.UUID
    case_id: uuid.UUID
    case_version: int | None
    origin: AnalysisOrigin
    method_version: str | None
    engine_version: str | None
    status: str
    warnings: list[dict[str, Any]]
    run_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime


class AnalysisSummary(AnalysisBase):
    headline: dict[str, Any]
    """epv_operations, epv_equity, epv_per_share, margin_of_safety where the analysis has them
    (a legacy one: enterprise_value, equity_value)."""


class AnalysisPage(BaseModel):
    items: list[AnalysisSummary]
    next_cursor: str | None = None


class AnalysisRead(AnalysisBase):
    figures: dict[str, Any]
    inputs: Any
    resolved_assumptions: dict[str, Any] | None
    output: Any = None
    """A legacy or agent result's own output, kept as given."""


class FigureDifference(BaseModel):
    figure: str
    stored: Any
    now: Any
    within_tolerance: bool


class RecheckVersions(BaseModel):
    method_version: str | None
    engine_version: str | None
    status: str
    error: dict[str, Any] | None = None


class AnalysisRecheck(BaseModel):
    analysis_id: uuid.UUID
    case_id: uuid.UUID
    stored: RecheckVersions
    now: RecheckVersions
    reproduced: bool
    """Same status, every figure within the reference's tolerance, the same engine warnings."""
    differences: list[FigureDifference]
    """Every figure not exactly as stored (tolerance per epv-method.md section 12)."""
    warnings: dict[str, list[dict[str, Any]]]
    """`only_stored` / `only_now` (the section-15 mapping's LEGACY_* warnings left out)."""


class PathDifference(BaseModel):
    path: str
    a: Any
    b: Any
    change: Literal["changed", "added", "removed"]


class AnalysisComparison(BaseModel):
    case_id: uuid.UUID
    a: AnalysisSummary
    b: AnalysisSummary
    inputs: list[PathDifference]
    figures: list[PathDifference]
    warnings: dict[str, list[dict[str, Any]]]
