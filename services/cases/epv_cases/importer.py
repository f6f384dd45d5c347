"""The legacy import use case: a browser localStorage export -> cases, analyses, preferences.

Parsing is `epv_cases.legacy.parse_export` (pure); `run_import` stores its plan, and both
paths call it inside one transaction, so a crash leaves either the whole import or nothing:

- synchronous: the caller's own import, or an ADMIN's for a user already in the directory;
- deferred: an ADMIN's import for an email with no account yet is stored as
  `awaiting_account` with `migration.account_requested`; auth creates the account and
  announces it (auth.user.registered), and the consumer that adds that user to the directory
  runs the waiting imports in the same transaction (`complete_awaiting_imports`). A crash
  before commit leaves the import waiting; the redelivered event completes it.

Imports of one owner are serialised by an advisory lock, so the idempotency keys read at the
start stay true until commit, and a second import of the same export creates nothing. An
on-behalf import checks the directory under a lock on the email that the consumer also takes,
so an import never waits for an account the directory has already taken in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import structlog
from email_validator import EmailNotValidError, validate_email

from epv_cases import events
from epv_cases.errors import ImportOnBehalfDenied, LegacyExportInvalid
from epv_cases.legacy import ImportPlan, parse_export
from epv_cases.repository import CaseRepository, ImportRepository, UserDirectory, content_of
from epv_common.db import UnitOfWork
from epv_common.errors import InvalidInput, NotFound
from epv_common.identity import Principal, Role

log = structlog.get_logger("epv.cases.importer")

LEGACY_ORIGIN_KIND = "legacy"
COMPLETED = "completed"
AWAITING_ACCOUNT = "awaiting_account"
REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    report: dict[str, Any]
    record: dict[str, Any] | None = None
    case_ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def stored_report(self) -> dict[str, Any]:
        """What the import row keeps: the report and the ids of the cases it created."""
        return {**self.report, "case_ids": {k: str(v) for k, v in self.case_ids.items()}}


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _normalised(email: str) -> str:
    return email.strip().lower()


async def _owner_for(uow: UnitOfWork, principal: Principal, email: str | None, *,
                     lock: bool) -> tuple[uuid.UUID | None, str | None]:
    """(owner id, target email): the caller; or (ADMIN+) the user named by email, whose id is
    None when the directory does not know that email yet (the account is to be created)."""
    if not email or (principal.email and _normalised(email) == principal.email.lower()):
        return uuid.UUID(principal.user_id), None
    if not principal.at_least(Role.ADMIN):
        raise ImportOnBehalfDenied()
    email = _normalised(email)
    if lock:
        await ImportRepository(uow.session).lock_email(email)
    user = await UserDirectory(uow.session).by_email(email)
    return (user["id"] if user is not None else None), email


def _plan(local_storage_data: Any, *, already_imported: set[str]) -> ImportPlan:
    plan = parse_export(local_storage_data, already_imported=already_imported)
    if plan.shape_errors:
        raise LegacyExportInvalid(errors=[
            {"field": "localStorageData", "in": "body", "rule": "not_a_localstorage_dump",
             "message": problem} for problem in plan.shape_errors])
    return plan


async def import_legacy(uow: UnitOfWork, principal: Principal, *, local_storage_data: Any,
                        raw_body: bytes, email: str | None, dry_run: bool,
                        name: str | None = None, organization: str | None = None
                        ) -> dict[str, Any]:
    async with uow:
        owner_id, target_email = await _owner_for(uow, principal, email, lock=not dry_run)
        if owner_id is None:
            assert target_email is not None
            return await _await_account(
                uow, principal, local_storage_data=local_storage_data, raw_body=raw_body,
                email=target_email, name=name, organization=organization, dry_run=dry_run)
        import_id = None if dry_run else uuid.uuid4()
        outcome = await run_import(uow, import_id=import_id, owner_id=owner_id,
                                   actor_id=principal.user_id,
                                   local_storage_data=local_storage_data, dry_run=dry_run)
        if import_id is not None:
            await ImportRepository(uow.session).add_import({
                "id": import_id, "owner_id": owner_id,
                "imported_by": uuid.UUID(principal.user_id), "status": COMPLETED,
                "email": target_email, "raw_body": raw_body,
                "report": outcome.stored_report(), "record": outcome.record})
            await uow.commit()
    return {"import_id": import_id, "dry_run": dry_run, "status": COMPLETED,
            "owner_id": owner_id, **outcome.report, "case_ids": outcome.case_ids}


async def _await_account(uow: UnitOfWork, principal: Principal, *, local_storage_data: Any,
                         raw_body: bytes, email: str, name: str | None,
                         organization: str | None, dry_run: bool) -> dict[str, Any]:
    """An ADMIN's import for an email with no account: validated now, stored as received,
    run once auth has created the account. The report is a preview (nothing of a new user
    can be imported already)."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(errors=[{"field": "email", "in": "body", "rule": "invalid_email",
                                    "message": str(exc)}]) from exc
    preview = _plan(local_storage_data, already_imported=set()).report()
    import_id = None
    if not dry_run:
        import_id = uuid.uuid4()
        await ImportRepository(uow.session).add_import({
            "id": import_id, "owner_id": None, "imported_by": uuid.UUID(principal.user_id),
            "status": AWAITING_ACCOUNT, "email": email, "raw_body": raw_body,
            "report": preview, "record": None})
        uow.record(events.migration_account_requested(
            import_id=import_id, email=email, name=name, organization=organization,
            requested_by=principal.user_id))
        await uow.commit()
    return {"import_id": import_id, "dry_run": dry_run, "status": AWAITING_ACCOUNT,
            "owner_id": None, **preview, "case_ids": {}}


async def run_import(uow: UnitOfWork, *, import_id: uuid.UUID | None, owner_id: uuid.UUID,
                     actor_id: str, local_storage_data: Any, dry_run: bool = False
                     ) -> ImportOutcome:
    """Plans the export against what `owner_id` already has and (unless dry_run) stores it,
    recording case.created per new case and migration.completed; the caller writes the
    import row and commits."""
    imports = ImportRepository(uow.session)
    if not dry_run:
        await imports.lock_owner(owner_id)
    existing_cases = await CaseRepository(uow.session).legacy_keys(owner_id)
    plan = _plan(local_storage_data,
                 already_imported=set(existing_cases) | await imports.analysis_keys(owner_id))
    report = plan.report()
    if dry_run or import_id is None:
        return ImportOutcome(report)
    created = await _store(uow, plan, owner_id=owner_id, import_id=import_id,
                           actor_id=actor_id, existing_cases=existing_cases)
    uow.record(events.migration_completed(
        import_id=import_id, owner_id=owner_id, actor_id=actor_id,
        counts=report["counts"], case_ids=[str(i) for i in created.values()],
        preferences_imported=plan.preferences is not None))
    return ImportOutcome(report, plan.to_dict(), created)


async def complete_awaiting_imports(uow: UnitOfWork, *, user_id: uuid.UUID, email: str
                                    ) -> list[uuid.UUID]:
    """Runs every import waiting for this email's account, as `user_id`, inside the caller's
    transaction (the consumer's, with the directory upsert). Returns the completed ids."""
    imports = ImportRepository(uow.session)
    await imports.lock_email(email)
    done = []
    for row in await imports.awaiting_account(email):
        body = orjson.loads(row["raw_body"])
        try:
            outcome = await run_import(
                uow, import_id=row["id"], owner_id=user_id, actor_id=str(row["imported_by"]),
                local_storage_data=body.get("localStorageData") if isinstance(body, dict)
                else None)
        except LegacyExportInvalid as exc:
            # Validated when it was received; only a changed parser gets here. Keep the row
            # (the export is not lost) and say why, rather than block the user's directory entry.
            log.error("legacy_import_rejected_on_completion", import_id=str(row["id"]))
            await imports.finish_import(row["id"], status=REJECTED, owner_id=user_id,
                                        report={**row["report"], "errors": exc.errors},
                                        record=None)
            continue
        await imports.finish_import(row["id"], status=COMPLETED, owner_id=user_id,
                                    report=outcome.stored_report(), record=outcome.record)
        done.append(row["id"])
    return done


async def get_import(uow: UnitOfWork, principal: Principal, import_id: uuid.UUID
                     ) -> dict[str, Any]:
    """The importing ADMIN or, once the account exists, the owner; anyone else gets 404."""
    async with uow.reading() as session:
        row = await ImportRepository(session).get_import(import_id)
    caller = uuid.UUID(principal.user_id)
    if row is None or caller not in (row["imported_by"], row["owner_id"]):
        raise NotFound(f"No legacy import {import_id} that you can see.", entity="legacy import")
    report = None
    if row["status"] == COMPLETED:
        report = {"import_id": row["id"], "dry_run": False, "status": COMPLETED,
                  "owner_id": row["owner_id"], **row["report"]}
    return {"import_id": row["id"], "status": row["status"], "email": row["email"],
            "owner_id": row["owner_id"], "imported_by": row["imported_by"],
            "created_at": row["created_at"], "completed_at": row["completed_at"],
            "report": report}


async def _store(uow: UnitOfWork, plan: ImportPlan, *, owner_id: uuid.UUID,
                 import_id: uuid.UUID, actor_id: str,
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
         "author_id": uuid.UUID(actor_id), "change": "imported", "restored_from": None}
        for c in stored])
    for case in stored:
        uow.record(events.case_created(case, actor_id=actor_id))
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
