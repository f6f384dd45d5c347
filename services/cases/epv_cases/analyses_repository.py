"""Named queries over stored analyses; takes the session (or, for the write of POST
.../analyses, the unit of work), flushes, never commits.

Every statement is built once, with bind parameters: building a statement this size (sixteen
values, three of them large JSON) and its cache key on every request cost more than running it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from epv_cases.models import analyses, outbox
from epv_common.db import PreparedQuery, UnitOfWork
from epv_common.events.envelope import CloudEvent
from epv_common.events.outbox import insert_outbox_arrays, outbox_array_params

STORED_COLUMNS = (
    "id", "case_id", "owner_id", "case_version", "origin_kind", "origin", "origin_version",
    "method_version", "engine_version", "status", "figures", "inputs", "resolved_assumptions",
    "warnings", "run_at", "created_by")
"""What a new analysis is given; its legacy columns stay null and the database stamps
`created_at`."""
_JSON_COLUMNS = tuple(c for c in STORED_COLUMNS if isinstance(analyses.c[c].type, JSONB))

# A list entry leaves out the large members (inputs, the full figure set with its grid).
_SUMMARY = [c for c in analyses.c if c.name not in ("inputs", "output", "resolved_assumptions")]


def _add_with_events():
    """The analysis and its events in one statement: one round trip, and atomic on its own,
    so the analysis and its events are stored together or not at all, with no BEGIN and
    COMMIT around them. The event rows are the transactional outbox's
    (epv_common.events.outbox): the relay publishes them as it publishes a commit's."""
    stored = (insert(analyses)
              .values({c: bindparam(c, type_=analyses.c[c].type) for c in STORED_COLUMNS})
              .returning(analyses.c.created_at).cte("stored"))
    recorded = insert_outbox_arrays(outbox).cte("recorded")
    return select(stored.c.created_at).add_cte(recorded)


# PreparedQuery runs one statement on a driver connection outside any transaction: here, a
# write that needs none.
_ADD_WITH_EVENTS = PreparedQuery(_add_with_events())
_CASE_ID, _ID = (bindparam(n, type_=analyses.c[n].type) for n in ("case_id", "id"))
_GET = select(analyses).where(analyses.c.case_id == _CASE_ID, analyses.c.id == _ID)
_GET_PAIR = select(analyses).where(
    analyses.c.case_id == _CASE_ID,
    analyses.c.id.in_(bindparam("ids", type_=analyses.c.id.type, expanding=True)))


def _list_statement(*, after: bool):
    stmt = select(*_SUMMARY).where(analyses.c.case_id == _CASE_ID)
    if after:
        stmt = stmt.where(tuple_(analyses.c.created_at, analyses.c.id) < tuple_(
            bindparam("after_created_at", type_=analyses.c.created_at.type),
            bindparam("after_id", type_=analyses.c.id.type)))
    return (stmt.order_by(analyses.c.created_at.desc(), analyses.c.id.desc())
            .limit(bindparam("page_rows")))


_LIST = {after: _list_statement(after=after) for after in (False, True)}


def _json(value: Any) -> str | None:
    """JSONB goes to the driver as text (no Session to serialise it): orjson, once."""
    return None if value is None else orjson.dumps(value).decode()


class AnalysisWrites:
    """The write of POST .../analyses, run by the unit of work outside any transaction: one
    statement (see _add_with_events), no Session."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def add(self, values: dict[str, Any], *, events: Sequence[CloudEvent]
                  ) -> dict[str, Any]:
        """Stores the analysis (`values` names every STORED_COLUMNS) with its events, each
        checked against its JSON Schema first, as a commit checks them. Returns the stored
        row; only the server's timestamp comes back, so the large JSON is never decoded."""
        params = {name: values[name] for name in STORED_COLUMNS}
        params.update({name: _json(values[name]) for name in _JSON_COLUMNS})
        params.update(outbox_array_params(events))
        stored = await self.uow.fetch_one(_ADD_WITH_EVENTS, params)
        assert stored is not None  # an INSERT ... RETURNING without ON CONFLICT returns its row
        return {**{c.name: None for c in analyses.c}, **values, **stored}


class AnalysisRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, case_id: uuid.UUID, analysis_id: uuid.UUID) -> dict[str, Any] | None:
        row = (await self.session.execute(_GET, {"case_id": case_id, "id": analysis_id})).first()
        return dict(row._mapping) if row is not None else None

    async def get_pair(self, case_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID
                       ) -> dict[uuid.UUID, dict[str, Any]]:
        rows = await self.session.execute(_GET_PAIR, {"case_id": case_id, "ids": [a, b]})
        return {r.id: dict(r._mapping) for r in rows}

    async def list_for_case(self, case_id: uuid.UUID, *, limit: int,
                            after: tuple[datetime, uuid.UUID] | None) -> list[dict[str, Any]]:
        """Newest first; `limit + 1` rows so the caller knows whether there is more."""
        params: dict[str, Any] = {"case_id": case_id, "page_rows": limit + 1}
        if after:
            params["after_created_at"], params["after_id"] = after
        rows = await self.session.execute(_LIST[after is not None], params)
        return [dict(r._mapping) for r in rows]
