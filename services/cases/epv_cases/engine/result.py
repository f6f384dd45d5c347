"""The result envelope of an analysis (epv-method.md 10.1) and the storage field error."""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Literal, TypedDict


class FieldError(TypedDict):
    """One structural problem found when a case is stored (see structure.validate_structure)."""

    field: str
    rule: str
    message: str


def json_safe(value: Any) -> Any:
    """Figures are unrounded doubles; JSON has no NaN or Infinity, so those become null.

    They only arise from degenerate but admissible inputs (a WACC or share count near the
    smallest double), where the reference leaves the figure undefined.
    """
    if type(value) is float:
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


@dataclass(slots=True)
class EngineResult:
    status: Literal["ok", "error"]
    method_version: str
    engine_version: str
    warnings: list[dict[str, str | None]]
    figures: dict[str, Any] | None = None
    resolved_assumptions: dict[str, Any] | None = None
    error: dict[str, str | None] | None = None
    # The document that was analysed: the input itself, or the mapped document of a
    # FinancialDatasetV1 case (section 15), which is what an analysis stores as its input.
    inputs: Any = dataclass_field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def code(self) -> str | None:
        return self.error["code"] if self.error else None

    @property
    def field(self) -> str | None:
        return self.error["field"] if self.error else None

    @property
    def message(self) -> str | None:
        return self.error["message"] if self.error else None

    @property
    def sensitivity(self) -> dict[str, Any] | None:
        return self.figures["sensitivity"] if self.figures else None

    @property
    def margin_of_safety(self) -> float | None:
        return self.figures["margin_of_safety"] if self.figures else None

    def to_dict(self, *, include_inputs: bool = False) -> dict[str, Any]:
        """JSON-safe envelope of 10.1, plus the versions and the resolved assumptions."""
        out: dict[str, Any] = {
            "status": self.status,
            "method_version": self.method_version,
            "engine_version": self.engine_version,
            "warnings": [dict(w) for w in self.warnings],
        }
        if self.status == "ok":
            out["figures"] = json_safe(self.figures)
        else:
            out["error"] = dict(self.error or {})
        out["resolved_assumptions"] = json_safe(self.resolved_assumptions)
        if include_inputs:
            out["inputs"] = json_safe(self.inputs)
        return out
