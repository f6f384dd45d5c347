"""``epv-pro-state``: its completed ``analysisQueue`` runs become analyses of their case; the
other fields (``activeTab``, ``selectedCaseId``, ``sidebarCollapsed``, …) are kept as received
for the import record, ``selectedCaseId`` not rewritten.

A queue run is checked in this order: not an object → rejected ``LEGACY_NOT_AN_OBJECT``;
``status`` other than ``complete``, or no ``result`` → skipped ``LEGACY_INCOMPLETE_RUN``; its
``caseId`` not among the imported cases → rejected ``LEGACY_ORPHAN_ANALYSIS`` (a duplicated id
resolves to the first imported case with it); then its ``result`` as an agent analysis.
Report entries carry the run's position as ``index`` and the run id as ``legacy_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from epv_cases.legacy import codes
from epv_cases.legacy.analyses import SOURCE_QUEUE, AnalysisItem, CaseRef, build_agent_item
from epv_cases.legacy.codes import Outcome
from epv_cases.legacy.jsonvalue import JsonValue, compact_text, copy_json, json_type
from epv_cases.legacy.report import LegacyRejection, Locator

QUEUE_FIELD: Final = "analysisQueue"
RUN_COMPLETE: Final = "complete"


@dataclass(frozen=True, slots=True)
class StateRecord:
    """The workspace state minus its queue, kept for the import record only."""

    fields: dict[str, JsonValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"fields": copy_json(self.fields)}


def split_state(state: dict[str, JsonValue]) -> tuple[StateRecord, JsonValue]:
    """The record of the state, and its ``analysisQueue`` as received (``None`` if absent)."""
    fields = {name: copy_json(value) for name, value in state.items() if name != QUEUE_FIELD}
    return StateRecord(fields), state.get(QUEUE_FIELD)


def parse_queue(
    runs: Sequence[JsonValue],
    *,
    cases: Mapping[str, CaseRef],
    already_imported: frozenset[str] = frozenset(),
) -> tuple[AnalysisItem, ...]:
    """Every run of ``analysisQueue``, in order."""
    seen_ids: set[str] = set()
    items: list[AnalysisItem] = []
    for index, run in enumerate(runs):
        run_id = run.get("id") if isinstance(run, dict) else None
        legacy_id = run_id if isinstance(run_id, str) and run_id else None
        where = Locator(codes.KEY_STATE, index, legacy_id)
        raw = copy_json(run)
        if not isinstance(run, dict):
            rejection = where.rejection(
                codes.LEGACY_NOT_AN_OBJECT, f"run is {json_type(run)}, not an object"
            )
            items.append(_rejected(where, rejection, raw))
            continue
        status, result = run.get("status"), run.get("result")
        if status != RUN_COMPLETE or result is None:
            why = (
                "it has no result"
                if status == RUN_COMPLETE
                else (
                    f"its status is {compact_text(status)}"
                    + (" and it has no result" if result is None else "")
                )
            )
            skipped = where.warning(
                codes.LEGACY_INCOMPLETE_RUN, None, f"run not completed: {why}; skipped"
            )
            items.append(AnalysisItem(SOURCE_QUEUE, where, Outcome.SKIPPED, (skipped,), raw=raw))
            continue
        case_id = run.get("caseId")
        case = cases.get(case_id) if isinstance(case_id, str) else None
        if case is None:
            rejection = where.rejection(
                codes.LEGACY_ORPHAN_ANALYSIS,
                f"its case {compact_text(case_id)} is not among the imported cases",
            )
            items.append(_rejected(where, rejection, raw))
            continue
        suffix = f"run:{legacy_id}" if legacy_id is not None else f"{QUEUE_FIELD}[{index}]"
        if legacy_id is not None:
            if legacy_id in seen_ids:
                suffix = f"{suffix}#{index}"
            seen_ids.add(legacy_id)
        items.append(
            build_agent_item(
                result,
                source=SOURCE_QUEUE,
                where=where,
                case=case,
                idempotency_key=f"{case.idempotency_key}/{suffix}",
                already_imported=already_imported,
                field_prefix="result",
                raw=raw,
            )
        )
    return tuple(items)


def _rejected(where: Locator, rejection: LegacyRejection, raw: JsonValue) -> AnalysisItem:
    return AnalysisItem(SOURCE_QUEUE, where, Outcome.REJECTED, rejection=rejection, raw=raw)
