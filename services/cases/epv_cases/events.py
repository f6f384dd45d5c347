"""Events the cases service emits, and handlers of the events it consumes."""

from __future__ import annotations

import uuid
from typing import Any

from epv_cases.repository import UserDirectory
from epv_common.db import UnitOfWork
from epv_common.events.envelope import CloudEvent, new_event

SOURCE = "cases"


def case_created(case: dict[str, Any], *, actor_id: str) -> CloudEvent:
    return new_event("case.created", source=SOURCE, subject=str(case["id"]), actor_id=actor_id,
                     data={"case_id": str(case["id"]), "owner_id": str(case["owner_id"]),
                           "name": case["name"], "status": case["status"],
                           "version": case["version"]})


async def on_user_changed(event: CloudEvent, uow: UnitOfWork) -> None:
    """auth.user.registered / auth.user.updated: keep the directory in step."""
    user = event.data.get("user") or {}
    await UserDirectory(uow.session).upsert(
        user_id=uuid.UUID(user["id"]), email=user["email"], name=user.get("name"),
        role=user["role"], active=bool(user.get("active", True)))


HANDLERS = {
    "auth.user.registered": on_user_changed,
    "auth.user.updated": on_user_changed,
}
