"""Events the cases service emits, and handlers of the events it consumes.

Each emitted type has a JSON Schema in epv_common/events/contracts/<type>.schema.json; the
unit of work validates every event against it at commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from epv_cases import importer
from epv_cases.figures import HEADLINE
from epv_cases.repository import UserDirectory
from epv_common.db import UnitOfWork
from epv_common.events.envelope import CloudEvent, new_event
from epv_common.requestctx import request_id_var

SOURCE = "cases"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _case_event(type_: str, case: dict[str, Any], *, actor_id: str, **data: Any) -> CloudEvent:
    return new_event(type_, source=SOURCE, subject=str(case["id"]), actor_id=actor_id,
                     data={"case_id": str(case["id"]), "owner_id": str(case["owner_id"]), **data})


def case_created(case: dict[str, Any], *, actor_id: str) -> CloudEvent:
    data: dict[str, Any] = {"name": case["name"], "status": case["status"],
                            "version": case["version"]}
    if case.get("legacy_id"):
        data["legacy_id"] = case["legacy_id"]
    return _case_event("case.created", case, actor_id=actor_id, **data)


def case_updated(case: dict[str, Any], *, actor_id: str, patch: list[dict[str, Any]],
                 restored_from: int | None = None) -> CloudEvent:
    """What changed travels as a JSON Patch from the previous version to this one."""
    changed = sorted({op["path"].split("/")[1] for op in patch if op.get("path", "/") != ""})
    data: dict[str, Any] = {"version": case["version"], "previous_version": case["version"] - 1,
                            "changed_fields": changed, "patch": patch}
    if restored_from is not None:
        data["restored_from"] = restored_from
    return _case_event("case.updated", case, actor_id=actor_id, **data)


def case_deleted(case: dict[str, Any], *, actor_id: str, restorable_until: str) -> CloudEvent:
    return _case_event("case.deleted", case, actor_id=actor_id, version=case["version"],
                       soft=True, restorable_until=restorable_until)


def case_restored(case: dict[str, Any], *, actor_id: str) -> CloudEvent:
    return _case_event("case.restored", case, actor_id=actor_id, version=case["version"])


def case_shared(case: dict[str, Any], share: dict[str, Any], *, actor_id: str,
                previous_level: str | None) -> CloudEvent:
    return _case_event("case.shared", case, actor_id=actor_id,
                       user_id=str(share["user_id"]), level=share["level"],
                       previous_level=previous_level, expires_at=_iso(share["expires_at"]))


def case_share_revoked(case: dict[str, Any], share: dict[str, Any], *, actor_id: str
                       ) -> CloudEvent:
    return _case_event("case.share_revoked", case, actor_id=actor_id,
                       user_id=str(share["user_id"]), level=share["level"])


def case_commented(case: dict[str, Any], comment: dict[str, Any], *, actor_id: str
                   ) -> CloudEvent:
    return _case_event("case.commented", case, actor_id=actor_id,
                       comment_id=str(comment["id"]), length=len(comment["body"]))


def case_comment_deleted(case: dict[str, Any], comment: dict[str, Any], *, actor_id: str
                         ) -> CloudEvent:
    return _case_event("case.comment_deleted", case, actor_id=actor_id,
                       comment_id=str(comment["id"]), author_id=str(comment["author_id"]))


def case_privileged_read(case: dict[str, Any], *, actor_id: str, role: str, what: str
                         ) -> CloudEvent:
    """An ADMIN+ read of a case they neither own nor share: a security event for the audit."""
    return _case_event("case.privileged_read", case, actor_id=actor_id, role=role, read=what,
                       security=True)


def analysis_completed(analysis: dict[str, Any], *, actor_id: str) -> CloudEvent:
    """The headline figures only: a subscriber that wants the rest reads the analysis."""
    figures = analysis["figures"] or {}
    headline = {name: figures[name] for name in HEADLINE if name in figures}
    return new_event("analysis.completed", source=SOURCE, subject=str(analysis["id"]),
                     actor_id=actor_id,
                     data={"analysis_id": str(analysis["id"]),
                           "case_id": str(analysis["case_id"]),
                           "owner_id": str(analysis["owner_id"]),
                           "case_version": analysis["case_version"],
                           "origin": {"kind": analysis["origin_kind"],
                                      "name": analysis["origin"],
                                      "version": analysis["origin_version"]},
                           "method_version": analysis["method_version"],
                           "engine_version": analysis["engine_version"],
                           "status": analysis["status"], **headline})


def migration_completed(*, import_id: uuid.UUID, owner_id: uuid.UUID, actor_id: str,
                        counts: dict[str, Any], case_ids: list[str],
                        preferences_imported: bool) -> CloudEvent:
    return new_event("migration.completed", source=SOURCE, subject=str(import_id),
                     actor_id=actor_id,
                     data={"import_id": str(import_id), "owner_id": str(owner_id),
                           "counts": counts, "case_ids": case_ids,
                           "preferences_imported": preferences_imported})


def migration_account_requested(*, import_id: uuid.UUID, email: str, name: str | None,
                                organization: str | None, requested_by: str) -> CloudEvent:
    """An ADMIN's legacy import waits for an account for `email`; auth creates it."""
    return new_event("migration.account_requested", source=SOURCE, subject=str(import_id),
                     actor_id=requested_by,
                     data={"import_id": str(import_id), "email": email, "name": name,
                           "organization": organization, "requested_by": requested_by})


async def on_user_changed(event: CloudEvent, uow: UnitOfWork) -> None:
    """auth.user.registered / auth.user.updated: keep the directory in step (the `active`
    flag is what makes a deactivated user's shares stop granting), and run the legacy imports
    waiting for this user's account in the same transaction."""
    user = event.data.get("user") or {}
    user_id = uuid.UUID(user["id"])
    await UserDirectory(uow.session).upsert(
        user_id=user_id, email=user["email"], name=user.get("name"),
        role=user["role"], active=bool(user.get("active", True)))
    # What the imports emit carries the request id of the import that asked for the account.
    token = request_id_var.set(event.requestid)
    try:
        await importer.complete_awaiting_imports(uow, user_id=user_id, email=user["email"])
    finally:
        request_id_var.reset(token)


HANDLERS = {
    "auth.user.registered": on_user_changed,
    "auth.user.updated": on_user_changed,
}
