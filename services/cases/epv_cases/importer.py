"""The legacy import use case: a browser localStorage export -> cases, analyses, preferences.

Parsing is `epv_cases.legacy.parse_export` (pure); this module only stores its plan, in one
transaction: a crash leaves either the whole import or nothing. Imports of one owner are
serialised by an advisory lock, so the idempotency keys read at the start stay true until
commit, and a second import of the same export creates nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from epv_cases import events
from epv_cases.errors import ImportOnBehalfDenied, LegacyExportInvalid
from epv_cases.legacy import ImportPlan, parse_export
from epv_cases.repository import CaseRepository, ImportRepository, UserDirectory, content_of
from epv_common.db import UnitOfWork
from epv_common.errors import InvalidInput
from epv_common.identity import Principal, Role

LEGACY_ORIGIN_KIND = "legacy"


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


async def _owner_for(uow: UnitOfWork, principal: Principal, email: str | None) -> uuid.UUID:
    """The caller, or (ADMIN+) an existing user named by email. Creating that user's account
    is auth's job and not wired yet, so an unknown email is a 422 for now."""
    if not email or (principal.email and email.strip().lower() == principal.email.lower()):
        return uuid.UUID(principal.user_id)
    if not principal.at_least(Role.ADMIN):
        raise ImportOnBehalfDenied()
    user = await UserDirectory(uow.session).by_email(email)
    if user is None:
        raise InvalidInput(errors=[{
            "field": "email", "in": "body", "rule": "unknown_user",
            "message": "No user with that email; creating accounts during an import is not "
                       "available yet."}])
    return user["id"]


async def import_legacy(uow: UnitOfWork, principal: Principal, *, local_storage_data: Any,
                        raw_body: bytes, email: str | None, dry_run: bool) -> dict[str, Any]:
    async with uow:
        owner_id = await _owner_for(uow, principal, email)
        imports = ImportRepository(uow.session)
        cases_repo = CaseRepository(uow.session)
        if not dry_run:
            await imports.lock_owner(owner_id)
        existing_cases = await cases_repo.legacy_keys(owner_id)
        done = set(existing_cases) | await imports.analysis_keys(owner_id)
        plan = parse_export(local_storage_data if local_storage_data is not None else None,
                            already_imported=done)
        if plan.shape_errors:
            raise LegacyExportInvalid(errors=[
                {"field": "localStorageData", "in": "body", "rule": "not_a_localstorage_dump",
                 "message": problem} for problem in plan.shape_errors])
        report = plan.report()
        if dry_run:
            return {"import_id": None, "dry_run": True, "owner_id": owner_id, **report,
                    "case_ids": {}}
        import_id = uuid.uuid4()
        created = await _store(uow, plan, owner_id=owner_id, import_id=import_id,
                               actor=principal, existing_cases=existing_cases)
        await imports.add_import({
            "id": import_id, "owner_id": owner_id, "imported_by": uuid.UUID(principal.user_id),
            "raw_body": raw_body, "report": report, "record": plan.to_dict()})
        uow.record(events.migration_completed(
            import_id=import_id, owner_id=owner_id, actor_id=principal.user_id,
            counts=report["counts"], case_ids=[str(i) for i in created.values()],
            preferences_imported=plan.preferences is not None))
        await uow.commit()
    return {"import_id": import_id, "dry_run": False, "owner_id": owner_id, **report,
            "case_ids": created}


async def _store(uow: UnitOfWork, plan: ImportPlan, *, owner_id: uuid.UUID,
                 import_id: uuid.UUID, actor: Principal,
                 existing_cases: dict[str, tuple[uuid.UUID, int]]) -> dict[str, uuid.UUID]:
    cases_repo = CaseRepository(uow.session)
    rows = []
    for item in plan.cases_to_store():
        case = item.case
        rows.append({
            "id": uuid.uuid4(), "owner_id": owner_id, "name": case.name,
            "status": case.status, "tags": list(case.tags),
            "financial_data": case.financial_data, "legacy_id": case.legacy_id,
            "legacy_key": case.idempotency_key,
            "legacy_updated_at": _timestamp(case.legacy_updated_at)})
    stored = await cases_repo.add_many(rows)
    await cases_repo.add_versions([
        {"case_id": c["id"], "version": c["version"], "content": content_of(c),
         "author_id": uuid.UUID(actor.user_id), "change": "imported", "restored_from": None}
        for c in stored])
    for case in stored:
        uow.record(events.case_created(case, actor_id=actor.user_id))
    by_key = {**existing_cases, **{c["legacy_key"]: (c["id"], c["version"]) for c in stored}}

    analysis_rows = []
    for item in plan.analyses_to_store():
        analysis = item.analysis
        target = by_key.get(analysis.case_idempotency_key)
        if target is None:  # the parser only plans analyses of cases it keeps
            continue
        case_id, version = target
        analysis_rows.append({
            "id": uuid.uuid4(), "case_id": case_id, "owner_id": owner_id,
            "case_version": version, "origin_kind": LEGACY_ORIGIN_KIND,
            "origin": analysis.origin, "status": "ok", "figures": analysis.figures,
            "output": analysis.output, "run_at": _timestamp(analysis.run_at),
            "legacy_key": analysis.idempotency_key, "import_id": import_id})
    await ImportRepository(uow.session).add_analyses(analysis_rows)

    if plan.preferences is not None:
        await ImportRepository(uow.session).upsert_preferences(
            user_id=owner_id, preferences=plan.preferences.user,
            case_defaults=plan.preferences.case_defaults, import_id=import_id)
    return {c["legacy_key"]: c["id"] for c in stored}
