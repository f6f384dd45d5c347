"""Events the auth service emits. A password or hash never enters one."""

from __future__ import annotations

from typing import Any

from epv_common.events.envelope import CloudEvent, new_event

SOURCE = "auth"


def public_user(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(user["id"]), "email": user["email"], "name": user.get("name"),
            "organization": user.get("organization"), "role": user["role"],
            "active": user["active"]}


def user_registered(user: dict[str, Any], *, via: str) -> CloudEvent:
    return new_event("auth.user.registered", source=SOURCE, subject=str(user["id"]),
                     actor_id=str(user["id"]), data={"user": public_user(user), "via": via})
