"""EPV analyses of a case: thin handlers over epv_cases.analyses."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from epv_cases import analyses
from epv_cases.api.schemas import (
    AgentOrigin,
    AnalysisComparison,
    AnalysisCreate,
    AnalysisPage,
    AnalysisRead,
    AnalysisRecheck,
)
from epv_common.deps import PageDep, PrincipalDep, UowDep
from epv_common.jsonresponse import row_json

router = APIRouter(prefix="/api/cases/{case_id}/analyses", tags=["analyses"])

_READ_FIELDS = tuple(AnalysisRead.model_fields)


def _analysis_read(row: dict[str, Any], *, status_code: int = 200,
                   headers: dict[str, str] | None = None) -> Response:
    """An AnalysisRead written by orjson straight from the stored row: the figures, the grid
    and the inputs are plain JSON already, and validating them into the model to dump them
    again cost four times what orjson alone does. The same JSON as the model's (UTC as `Z`,
    the model's members in its order); tests/cases/test_analyses_api.py holds bodies to it."""
    return row_json({name: row.get(name) for name in _READ_FIELDS},
                    status_code=status_code, headers=headers)


@router.post("", status_code=201, response_model=AnalysisRead)
async def create_analysis(case_id: uuid.UUID, body: AnalysisCreate, uow: UowDep,
                          principal: PrincipalDep) -> Response:
    """Runs the EPV engine on the case (its current version, or `case_version`), or, with
    `origin.kind = "agent"`, stores an agent's result. Needs EDIT. An engine refusal is a 422
    problem whose `code`, `field` and `warnings` are the engine's."""
    if isinstance(body.origin, AgentOrigin):
        row = await analyses.add_agent_analysis(
            uow, principal, case_id, origin=body.origin.model_dump(), figures=body.figures or {},
            inputs=body.inputs,
            warnings=[w.model_dump() for w in body.warnings or []],
            method_version=body.method_version, case_version=body.case_version,
            run_at=body.run_at)
    else:
        row = await analyses.run_analysis(uow, principal, case_id, case_version=body.case_version,
                                          share_price=body.share_price)
    return _analysis_read(row, status_code=201,
                          headers={"Location": f"/api/cases/{case_id}/analyses/{row['id']}"})


@router.get("", response_model=AnalysisPage)
async def list_analyses(case_id: uuid.UUID, uow: UowDep, principal: PrincipalDep,
                        page: PageDep) -> Any:
    """Newest first, engine, agent and legacy alike (without inputs and full figures)."""
    return await analyses.list_analyses(uow, principal, case_id, page)


# Declared before /{analysis_id} so "compare" is never read as an analysis id.
@router.get("/compare", response_model=AnalysisComparison)
async def compare_analyses(case_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID, uow: UowDep,
                           principal: PrincipalDep) -> dict:
    """The inputs and figures that differ between two analyses of the case, as
    `[{path, a, b, change}]`, and the warnings only one of them has."""
    return await analyses.compare_analyses(uow, principal, case_id, a, b)


@router.get("/{analysis_id}", response_model=AnalysisRead)
async def get_analysis(case_id: uuid.UUID, analysis_id: uuid.UUID, uow: UowDep,
                       principal: PrincipalDep) -> Response:
    return _analysis_read(await analyses.get_analysis(uow, principal, case_id, analysis_id))


@router.get("/{analysis_id}/recheck", response_model=AnalysisRecheck)
async def recheck_analysis(case_id: uuid.UUID, analysis_id: uuid.UUID, uow: UowDep,
                           principal: PrincipalDep) -> dict:
    """Runs the stored inputs through the current engine and reports each figure that
    differs. An agent's or a legacy analysis cannot be recomputed: 409."""
    return await analyses.recheck_analysis(uow, principal, case_id, analysis_id)
