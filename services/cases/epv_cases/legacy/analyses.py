"""Legacy analyses: an agent's result (embedded in a case or from the analysis queue) and a
case's ``epvOutputs``. They are stored as the old app computed them, never recomputed.

- agent result → origin ``legacy-agent:<agentType>``, ``run_at`` = ``completedAt``, figures
  ``enterprise_value`` (= ``enterpriseValue``) and, as the agent gave them, ``recommendation``,
  ``confidence``, ``methodology``, ``key_risks``, ``strengths``, ``detailed_analysis``;
- ``epvOutputs`` → origin ``legacy-epv-pro``, ``run_at`` = the case's ``lastModified``, figures
  ``enterprise_value``, ``equity_value``, ``normalized_ebitda``, ``sensitivity_matrix``,
  ``scenarios`` as given.

Figures absent from the source are absent from ``figures``. ``output`` keeps the whole source
object as given, unknown members included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from epv_cases.legacy import codes
from epv_cases.legacy.codes import Outcome
from epv_cases.legacy.jsonvalue import (
    JsonValue,
    compact_text,
    copy_json,
    is_json_number,
    json_type,
)
from epv_cases.legacy.report import LegacyRejection, LegacyWarning, Locator
from epv_cases.legacy.timestamps import normalize_timestamp

AGENT_FIGURES: Final = (
    ("enterpriseValue", "enterprise_value"),
    ("recommendation", "recommendation"),
    ("confidence", "confidence"),
    ("methodology", "methodology"),
    ("keyRisks", "key_risks"),
    ("strengths", "strengths"),
    ("detailedAnalysis", "detailed_analysis"),
)
EPV_OUTPUT_FIGURES: Final = (
    ("enterpriseValue", "enterprise_value"),
    ("equityValue", "equity_value"),
    ("normalizedEBITDA", "normalized_ebitda"),
    ("sensitivityMatrix", "sensitivity_matrix"),
    ("scenarios", "scenarios"),
)

SOURCE_EMBEDDED: Final = "analyses"
SOURCE_EPV_OUTPUTS: Final = "epvOutputs"
SOURCE_QUEUE: Final = "analysisQueue"


@dataclass(frozen=True, slots=True)
class CaseRef:
    """The imported case an analysis belongs to."""

    legacy_id: str
    index: int
    """The case's position in ``epv-cases``."""
    idempotency_key: str
    legacy_updated_at: str | None


@dataclass(frozen=True, slots=True)
class LegacyAnalysis:
    """One analysis, ready to store against its case."""

    origin: str
    run_at: str | None
    figures: dict[str, JsonValue]
    output: dict[str, JsonValue]
    idempotency_key: str
    """Owner-independent; unique within the export (see ``ImportPlan``)."""
    case_legacy_id: str
    case_index: int
    case_idempotency_key: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "run_at": self.run_at,
            "figures": copy_json(self.figures),
            "output": copy_json(self.output),
            "idempotency_key": self.idempotency_key,
            "case_legacy_id": self.case_legacy_id,
            "case_index": self.case_index,
            "case_idempotency_key": self.case_idempotency_key,
        }


@dataclass(frozen=True, slots=True)
class AnalysisItem:
    """The outcome for one legacy analysis (stored only when imported)."""

    source: str
    """``analyses`` (embedded), ``epvOutputs`` or ``analysisQueue``."""
    where: Locator
    outcome: Outcome
    warnings: tuple[LegacyWarning, ...] = ()
    rejection: LegacyRejection | None = None
    analysis: LegacyAnalysis | None = None
    raw: JsonValue = None
    """The source value as received."""

    @property
    def stored(self) -> bool:
        return self.outcome in (Outcome.IMPORTED, Outcome.IMPORTED_WITH_WARNINGS)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, **self.where._head()}
        out["outcome"] = self.outcome.value
        out["warnings"] = [w.to_dict() for w in self.warnings]
        out["rejection"] = self.rejection.to_dict() if self.rejection else None
        out["analysis"] = self.analysis.to_dict() if self.analysis else None
        out["raw"] = copy_json(self.raw)
        out["raw_text"] = compact_text(self.raw) if self.outcome is Outcome.REJECTED else None
        return out


def _figures(source: dict[str, JsonValue], names: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {new: copy_json(source[old]) for old, new in names if old in source}


def agent_problem(result: dict[str, JsonValue]) -> str | None:
    """Why an agent result cannot be stored (``LEGACY_ANALYSIS_INVALID``), or ``None``."""
    agent = result.get("agentType")
    if not isinstance(agent, str) or not agent.strip():
        return "agentType is missing or not a non-empty string"
    if not is_json_number(result.get("enterpriseValue")):
        return f"enterpriseValue is {json_type(result.get('enterpriseValue'))}, not a number"
    return None


def build_agent_item(
    result: JsonValue,
    *,
    source: str,
    where: Locator,
    case: CaseRef,
    idempotency_key: str,
    already_imported: frozenset[str],
    field_prefix: str,
    raw: JsonValue,
) -> AnalysisItem:
    """An agent's result (embedded, or a queue run's ``result``) as an :class:`AnalysisItem`.

    ``field_prefix`` is the path of ``result`` inside the reported item (``analyses[0]`` for an
    embedded one, ``result`` for a queue run); ``raw`` is what the item keeps as received.
    """
    if not isinstance(result, dict):
        rejection = where.rejection(
            codes.LEGACY_NOT_AN_OBJECT,
            f"{field_prefix} is {json_type(result)}, not an object",
            field=field_prefix if source == SOURCE_QUEUE else None,
        )
        return AnalysisItem(source, where, Outcome.REJECTED, rejection=rejection, raw=raw)
    problem = agent_problem(result)
    if problem is not None:
        rejection = where.rejection(codes.LEGACY_ANALYSIS_INVALID, problem)
        return AnalysisItem(source, where, Outcome.REJECTED, rejection=rejection, raw=raw)
    warnings: list[LegacyWarning] = []
    run_at = normalize_timestamp(result.get("completedAt"))
    if run_at is None:
        warnings.append(
            where.warning(
                codes.LEGACY_TIMESTAMP_INVALID,
                f"{field_prefix}.completedAt",
                "completedAt is missing or not an ISO 8601 date-time; run_at left empty",
            )
        )
    analysis = LegacyAnalysis(
        origin=codes.ORIGIN_AGENT_PREFIX + str(result["agentType"]),
        run_at=run_at,
        figures=_figures(result, AGENT_FIGURES),
        output=copy_json(result),
        idempotency_key=idempotency_key,
        case_legacy_id=case.legacy_id,
        case_index=case.index,
        case_idempotency_key=case.idempotency_key,
    )
    return _finish(source, where, analysis, warnings, already_imported, raw)


def build_epv_outputs_item(
    outputs: JsonValue,
    *,
    where: Locator,
    case: CaseRef,
    already_imported: frozenset[str],
) -> AnalysisItem:
    """A case's ``epvOutputs`` as an :class:`AnalysisItem`."""
    if not isinstance(outputs, dict):
        rejection = where.rejection(
            codes.LEGACY_NOT_AN_OBJECT,
            f"epvOutputs is {json_type(outputs)}, not an object",
            field=SOURCE_EPV_OUTPUTS,
        )
        return AnalysisItem(
            SOURCE_EPV_OUTPUTS, where, Outcome.REJECTED, rejection=rejection, raw=outputs
        )
    analysis = LegacyAnalysis(
        origin=codes.ORIGIN_EPV_PRO,
        run_at=case.legacy_updated_at,
        figures=_figures(outputs, EPV_OUTPUT_FIGURES),
        output=copy_json(outputs),
        idempotency_key=f"{case.idempotency_key}/{SOURCE_EPV_OUTPUTS}",
        case_legacy_id=case.legacy_id,
        case_index=case.index,
        case_idempotency_key=case.idempotency_key,
    )
    return _finish(SOURCE_EPV_OUTPUTS, where, analysis, [], already_imported, outputs)


def _finish(
    source: str,
    where: Locator,
    analysis: LegacyAnalysis,
    warnings: list[LegacyWarning],
    already_imported: frozenset[str],
    raw: JsonValue,
) -> AnalysisItem:
    if analysis.idempotency_key in already_imported:
        skipped = where.warning(
            codes.LEGACY_ALREADY_IMPORTED, None, "imported by an earlier import; skipped"
        )
        return AnalysisItem(source, where, Outcome.SKIPPED, (skipped,), analysis=analysis, raw=raw)
    outcome = Outcome.IMPORTED_WITH_WARNINGS if warnings else Outcome.IMPORTED
    return AnalysisItem(source, where, outcome, tuple(warnings), analysis=analysis, raw=raw)
