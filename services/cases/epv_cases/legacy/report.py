"""Report entries (one per warning, one per rejection) and the collector that builds them.

The entry shapes are the README's ("The report"): a rejection has ``key``, ``index``,
``legacy_id``, ``reason``, ``detail``; a warning has ``key``, ``index``, ``legacy_id``, ``code``,
``field``. Entries about an embedded analysis also carry ``analysis_index``. Warnings add a
human-readable ``message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from epv_cases.legacy.jsonvalue import JsonValue, copy_json


@dataclass(frozen=True, slots=True)
class Locator:
    """Where an item sits in the export."""

    key: str
    index: int | None = None
    legacy_id: str | None = None
    analysis_index: int | None = None

    def warning(self, code: str, field: str | None, message: str) -> LegacyWarning:
        return LegacyWarning(where=self, code=code, field=field, message=message)

    def rejection(self, reason: str, detail: str, *, field: str | None = None) -> LegacyRejection:
        return LegacyRejection(where=self, reason=reason, detail=detail, field=field)

    def _head(self) -> dict[str, Any]:
        head: dict[str, Any] = {"key": self.key, "index": self.index}
        if self.analysis_index is not None:
            head["analysis_index"] = self.analysis_index
        head["legacy_id"] = self.legacy_id
        return head


@dataclass(frozen=True, slots=True)
class LegacyWarning:
    where: Locator
    code: str
    field: str | None
    """The path inside the item (``financialData.revenue.total[3]``), or ``None``."""
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.where._head(),
            "code": self.code,
            "field": self.field,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class LegacyRejection:
    where: Locator
    reason: str
    """A stable code from :mod:`epv_cases.legacy.codes`."""
    detail: str
    field: str | None = None
    """Set only where the rejected item is a field of its parent (``epvOutputs``, ``result``)."""

    def to_dict(self) -> dict[str, Any]:
        out = {**self.where._head(), "reason": self.reason, "detail": self.detail}
        if self.field is not None:
            out["field"] = self.field
        return out


@dataclass(slots=True)
class Findings:
    """Collects what parsing one item found: warnings and the values it could not keep."""

    where: Locator
    warnings: list[LegacyWarning] = field(default_factory=list)
    coerced: dict[str, JsonValue] = field(default_factory=dict)
    """path → the original string of each coerced number."""
    unparseable: dict[str, JsonValue] = field(default_factory=dict)
    """path → the original value of each number left out."""
    unknown: dict[str, JsonValue] = field(default_factory=dict)
    """path → each unknown field, and each known field left out for its wrong shape."""

    def warn(self, code: str, field: str | None, message: str) -> None:
        self.warnings.append(self.where.warning(code, field, message))

    def keep_unknown(self, path: str, value: JsonValue) -> None:
        self.unknown[path] = copy_json(value)
