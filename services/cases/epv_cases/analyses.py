"""EPV analyses of a case: run the engine, store an agent's result, read, recheck, compare.

An engine analysis stores everything needed to reproduce it without the case: the document
the engine ran on (for a FinancialDatasetV1 case, the mapped document of epv-method.md 15),
the resolved assumptions, the method and engine versions, the warnings and every figure of
section 11 (the sensitivity grid and margin of safety among them). Only engine analyses are
rechecked; agents' and legacy results are kept as given, since their method is not ours.

Storing one takes two round trips and holds no transaction open while the engine runs: the
case is read with the caller's access (as GET /api/cases/{id} reads it), then one statement
writes the analysis and its `analysis.completed` event to the outbox. One statement is atomic:
it stores both or, failing, neither.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from epv_cases import events
from epv_cases.analyses_repository import AnalysisRepository, AnalysisWrites
from epv_cases.engine import ENGINE_VERSION, METHOD_VERSION, analyse, analyse_financial_data
from epv_cases.errors import (
    AgentAnalysisInvalid,
    AnalysisNotFound,
    AnalysisNotRecomputable,
    AnalysisRejected,
)
from epv_cases.figures import (
    FIGURES,
    HEADLINE,
    agent_figure_errors,
    differences,
    figure_matches,
    finite_everywhere,
)
from epv_cases.permissions import Level, access_to, require
from epv_cases.repository import CaseReads, content_of
from epv_cases.service import _commit_if_audited, _load, _uid, _version
from epv_common.db import UnitOfWork
from epv_common.errors import InvalidInput
from epv_common.events.envelope import CloudEvent
from epv_common.identity import Principal
from epv_common.pagination import PageParams, page_of

ENGINE_ORIGIN = "epv-engine"
ENGINE_KIND, AGENT_KIND = "engine", "agent"
# The section-15 mapping's warnings come from the case's raw data, not from the stored
# (mapped) inputs, so a rerun of the inputs cannot raise them again.
MAPPING_WARNING_PREFIX = "LEGACY_"


# A legacy result has no EPV of operations; its own headline names are kept as they are.
_LEGACY_HEADLINE = ("enterprise_value", "equity_value")


def presented(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row in the API's shape: the origin as one object, the headline figures."""
    figures = row.get("figures") or {}
    names = HEADLINE + (_LEGACY_HEADLINE if row["origin_kind"] == "legacy" else ())
    return {**row,
            "origin": {"kind": row["origin_kind"], "name": row["origin"],
                       "version": row.get("origin_version")},
            "headline": {n: figures[n] for n in names if n in figures}}


async def _editable_case(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID, *,
                         what: str) -> tuple[dict[str, Any], list[CloudEvent]]:
    """The case if the caller may analyse it (EDIT), read in one round trip outside any
    transaction, and the privileged-read event that reading it calls for, if any (see
    service._load), to be stored with the analysis."""
    case, share_level = await CaseReads(uow).get_with_share(case_id, user_id=_uid(principal))
    access = require(access_to(case, principal, share_level) if case else None, Level.EDIT,
                     case_id=case_id)
    if not access.privileged:
        return case, []
    return case, [events.case_privileged_read(case, actor_id=principal.user_id,
                                              role=principal.role.name, what=what)]


async def _content_at(uow: UnitOfWork, case: dict[str, Any], case_version: int | None
                      ) -> tuple[int, dict[str, Any]]:
    if case_version is None or case_version == case["version"]:
        return case["version"], content_of(case)
    async with uow:
        row = await _version(uow, case["id"], case_version)
    return case_version, row["content"]


def _with_price(inputs: Any, share_price: float | None) -> Any:
    """The stored inputs carry the price the analysis used, so a recheck from the inputs alone
    reproduces the margin of safety."""
    if share_price is None or not isinstance(inputs, dict):
        return inputs
    out = copy.deepcopy(inputs)
    out.setdefault("assumptions", {})["current_share_price"] = share_price
    return out


async def _store(uow: UnitOfWork, principal: Principal, values: dict[str, Any], *,
                 recorded: list[CloudEvent]) -> dict[str, Any]:
    """Stores a new analysis with its `analysis.completed` event (and any event `recorded`
    while reading the case) in one atomic statement."""
    values = {"id": uuid.uuid4(), **values, "status": "ok", "created_by": _uid(principal)}
    completed = events.analysis_completed(values, actor_id=principal.user_id)
    return await AnalysisWrites(uow).add(values, events=[*recorded, completed])


async def run_analysis(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID, *,
                       case_version: int | None = None, share_price: float | None = None
                       ) -> dict[str, Any]:
    """Two round trips: the case (with the caller's access), then the analysis and its event
    in one statement. Nothing is held open while the engine runs."""
    case, recorded = await _editable_case(uow, principal, case_id, what="analyse")
    version, content = await _content_at(uow, case, case_version)
    result = analyse_financial_data(content["financial_data"], case_name=content["name"],
                                    share_price=share_price)
    if not result.ok:
        raise AnalysisRejected(code=result.code or "", field=result.field,
                               message=result.message or "", warnings=result.warnings)
    out = result.to_dict(include_inputs=True)
    row = await _store(uow, principal, {
        "case_id": case_id, "owner_id": case["owner_id"], "case_version": version,
        "origin_kind": ENGINE_KIND, "origin": ENGINE_ORIGIN, "origin_version": ENGINE_VERSION,
        "method_version": result.method_version, "engine_version": result.engine_version,
        "figures": out["figures"], "inputs": _with_price(out["inputs"], share_price),
        "resolved_assumptions": out["resolved_assumptions"], "warnings": out["warnings"],
        "run_at": datetime.now(UTC)}, recorded=recorded)
    return presented(row)


async def add_agent_analysis(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID, *,
                             origin: dict[str, Any], figures: dict[str, Any],
                             inputs: dict[str, Any] | None, warnings: list[dict[str, Any]],
                             method_version: str | None, case_version: int | None,
                             run_at: datetime | None) -> dict[str, Any]:
    problems = agent_figure_errors(figures)
    if inputs is not None and not finite_everywhere(inputs):
        problems.append({"field": "inputs", "rule": "number_not_finite",
                         "message": "NaN and Infinity are not valid inputs."})
    if problems:
        raise AgentAnalysisInvalid(errors=[{**p, "in": "body"} for p in problems])
    case, recorded = await _editable_case(uow, principal, case_id, what="agent analysis")
    version, _ = await _content_at(uow, case, case_version)
    row = await _store(uow, principal, {
        "case_id": case_id, "owner_id": case["owner_id"], "case_version": version,
        "origin_kind": AGENT_KIND, "origin": origin["name"], "origin_version": origin["version"],
        "method_version": method_version, "engine_version": None, "figures": figures,
        "inputs": inputs, "resolved_assumptions": None, "warnings": warnings,
        "run_at": run_at or datetime.now(UTC)}, recorded=recorded)
    return presented(row)


# -- reads ----------------------------------------------------------------------------------------

def _position(row: dict[str, Any]) -> dict[str, Any]:
    return {"c": row["created_at"].isoformat(), "i": str(row["id"])}


def _after(page: PageParams) -> tuple[datetime, uuid.UUID] | None:
    position = page.position()
    if position is None:
        return None
    try:
        return datetime.fromisoformat(position["c"]), uuid.UUID(position["i"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(errors=[{"field": "cursor", "in": "query", "rule": "cursor_invalid",
                                    "message": "The cursor is not one this API issued."}]) from exc


async def list_analyses(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID,
                        page: PageParams) -> dict:
    after = _after(page)
    async with uow:
        seen = await _load(uow, principal, case_id, Level.READ, what="analyses")
        rows = await AnalysisRepository(uow.session).list_for_case(
            case_id, limit=page.limit, after=after)
        await _commit_if_audited(uow, seen)
    return page_of([presented(r) for r in rows], limit=page.limit, position_of=_position)


async def _analysis(uow: UnitOfWork, case_id: uuid.UUID, analysis_id: uuid.UUID
                    ) -> dict[str, Any]:
    row = await AnalysisRepository(uow.session).get(case_id, analysis_id)
    if row is None:
        raise AnalysisNotFound(case_id=str(case_id), analysis_id=str(analysis_id))
    return row


async def get_analysis(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID,
                       analysis_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        seen = await _load(uow, principal, case_id, Level.READ, what=f"analysis {analysis_id}")
        row = await _analysis(uow, case_id, analysis_id)
        await _commit_if_audited(uow, seen)
    return presented(row)


def _warning_set(warnings: list[dict[str, Any]] | None) -> set[tuple[str, str | None]]:
    return {(w.get("code"), w.get("field")) for w in warnings or []
            if not str(w.get("code", "")).startswith(MAPPING_WARNING_PREFIX)}


def recheck_report(row: dict[str, Any]) -> dict[str, Any]:
    """Runs the stored inputs through the current engine and lists every figure that is not
    exactly as stored, saying whether it is still within the reference's tolerance."""
    result = analyse(row["inputs"])
    now = result.to_dict()
    stored_figures = row["figures"] or {}
    now_figures = now.get("figures") or {}
    diffs = []
    for name in list(FIGURES) + [n for n in stored_figures if n not in FIGURES]:
        if name not in stored_figures and name not in now_figures:
            continue
        stored, current = stored_figures.get(name), now_figures.get(name)
        if stored == current and type(stored) is type(current):
            continue
        diffs.append({"figure": name, "stored": stored, "now": current,
                      "within_tolerance": (name in stored_figures and name in now_figures
                                           and figure_matches(name, stored, current))})
    stored_w, now_w = _warning_set(row["warnings"]), _warning_set(now["warnings"])
    warnings = {"only_stored": [{"code": c, "field": f} for c, f in sorted(stored_w - now_w, key=str)],
                "only_now": [{"code": c, "field": f} for c, f in sorted(now_w - stored_w, key=str)]}
    reproduced = (result.ok and all(d["within_tolerance"] for d in diffs)
                  and not warnings["only_stored"] and not warnings["only_now"])
    return {
        "analysis_id": row["id"], "case_id": row["case_id"],
        "stored": {"method_version": row["method_version"],
                   "engine_version": row["engine_version"], "status": row["status"]},
        "now": {"method_version": METHOD_VERSION, "engine_version": ENGINE_VERSION,
                "status": result.status, "error": now.get("error")},
        "reproduced": reproduced, "differences": diffs, "warnings": warnings,
    }


async def recheck_analysis(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID,
                           analysis_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        seen = await _load(uow, principal, case_id, Level.READ, what=f"recheck {analysis_id}")
        row = await _analysis(uow, case_id, analysis_id)
        await _commit_if_audited(uow, seen)
    if row["origin_kind"] != ENGINE_KIND or row["inputs"] is None:
        raise AnalysisNotRecomputable(analysis_id=str(analysis_id), origin=row["origin"],
                                      kind=row["origin_kind"])
    return recheck_report(row)


def _warning_diff(a: list | None, b: list | None) -> dict[str, list[dict[str, Any]]]:
    wa = {(w.get("code"), w.get("field")) for w in a or []}
    wb = {(w.get("code"), w.get("field")) for w in b or []}
    return {"only_a": [{"code": c, "field": f} for c, f in sorted(wa - wb, key=str)],
            "only_b": [{"code": c, "field": f} for c, f in sorted(wb - wa, key=str)]}


async def compare_analyses(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID,
                           a: uuid.UUID, b: uuid.UUID) -> dict[str, Any]:
    async with uow:
        seen = await _load(uow, principal, case_id, Level.READ, what=f"compare {a} {b}")
        rows = await AnalysisRepository(uow.session).get_pair(case_id, a, b)
        await _commit_if_audited(uow, seen)
    for wanted in (a, b):
        if wanted not in rows:
            raise AnalysisNotFound(case_id=str(case_id), analysis_id=str(wanted))
    left, right = rows[a], rows[b]
    return {
        "case_id": case_id, "a": presented(left), "b": presented(right),
        "inputs": differences(left["inputs"], right["inputs"]),
        "figures": differences(left["figures"], right["figures"]),
        "warnings": _warning_diff(left["warnings"], right["warnings"]),
    }
