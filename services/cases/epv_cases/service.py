"""Use cases of the cases service: each opens the unit of work, records events, commits once."""

from __future__ import annotations

import uuid
from typing import Any

from epv_cases import events
from epv_cases.errors import CaseNotFound
from epv_cases.repository import CaseRepository
from epv_common.db import UnitOfWork
from epv_common.identity import Principal


async def create_case(uow: UnitOfWork, principal: Principal, fields: dict[str, Any]
                      ) -> dict[str, Any]:
    async with uow:
        case = await CaseRepository(uow.session).add(
            {"id": uuid.uuid4(), "owner_id": uuid.UUID(principal.user_id), **fields})
        uow.record(events.case_created(case, actor_id=principal.user_id))
        await uow.commit()
    return case


async def get_case(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        case = await CaseRepository(uow.session).get_visible(
            case_id, owner_id=uuid.UUID(principal.user_id))
    if case is None:
        raise CaseNotFound(case_id=str(case_id))
    return case
