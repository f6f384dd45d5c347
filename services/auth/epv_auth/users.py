"""User lifecycle for administrators, and creating the first SUPER_ADMIN."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text

from epv_auth import events
from epv_auth.errors import LastSuperAdmin, RoleChangeDenied
from epv_auth.passwords import check_policy, hash_password
from epv_auth.repository import SessionRepository, UserRepository
from epv_auth.service import Auth, as_uuid, end_sessions
from epv_common.db import UnitOfWork
from epv_common.errors import NotFound
from epv_common.identity import Principal, Role
from epv_common.pagination import PageParams, page_of

BOOTSTRAP_LOCK = "epv-auth-bootstrap-admin"


async def list_users(auth: Auth, page: PageParams, *, role: str | None, active: bool | None,
                     email: str | None) -> dict:
    after = None
    position = page.position()
    if position is not None:
        from epv_common.pagination import _bad_cursor

        try:
            after = (datetime.fromisoformat(position["c"]), uuid.UUID(position["i"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_cursor() from exc
    async with auth.uow() as uow:
        rows = await UserRepository(uow.session).page(limit=page.limit, after=after, role=role,
                                                      active=active, email=email)
    return page_of(rows, limit=page.limit,
                   position_of=lambda u: {"c": u["created_at"].isoformat(), "i": str(u["id"])})


async def update_user(auth: Auth, principal: Principal, user_id: str, *, active: bool | None,
                      role: Role | None) -> dict[str, Any]:
    target_id = as_uuid(user_id)
    if target_id is None:
        raise NotFound(entity="user")
    if str(target_id) == principal.user_id:
        raise RoleChangeDenied(reason="Nobody changes their own role or deactivates themselves.")
    async with auth.uow() as uow:
        repo = UserRepository(uow.session)
        # Lock the active SUPER_ADMINs first (always in id order), then the target: two
        # concurrent demotions serialise here and the second sees the true count.
        super_admins = await repo.lock_active_super_admins()
        user = await repo.by_id(target_id, for_update=True)
        if user is None:
            raise NotFound(entity="user")
        current = Role[user["role"]]
        changes: dict[str, Any] = {}
        if role is not None and role != current:
            changes["role"] = role.name
        if active is not None and active != user["active"]:
            changes["active"] = active
        if not changes:
            return user
        if not principal.at_least(Role.SUPER_ADMIN) and (
                current >= Role.ADMIN or (role is not None and role >= Role.ADMIN)):
            raise RoleChangeDenied(
                reason="Only a SUPER_ADMIN grants, changes or deactivates ADMIN and SUPER_ADMIN.")
        loses_super = user["active"] and current == Role.SUPER_ADMIN and (
            changes.get("role", "SUPER_ADMIN") != "SUPER_ADMIN" or changes.get("active") is False)
        if loses_super and len(super_admins) <= 1:
            raise LastSuperAdmin()
        updated = await repo.update(target_id, changes)
        if "role" in changes or changes.get("active") is False:
            reason = "deactivated" if changes.get("active") is False else "role_changed"
            open_ids = [s["id"] for s in await SessionRepository(uow.session).open_for_user(target_id)]
            await end_sessions(auth, uow, user_id=target_id, session_ids=open_ids, reason=reason,
                               security=True, actor_id=principal.user_id)
        uow.record(events.user_updated(updated, before={k: user[k] for k in changes},
                                       after=changes, security=True,
                                       actor_id=principal.user_id))
        await uow.commit()
    return updated


async def create_super_admin(uow: UnitOfWork, *, email: str, password: str,
                             only_if_none: bool) -> dict[str, Any] | None:
    """The first admin of an install (start-up) or an operator's extra one (CLI).

    With only_if_none, does nothing when a SUPER_ADMIN exists; replicas starting together
    create one between them (advisory lock)."""
    email = email.strip().lower()
    check_policy(password, email=email)
    if only_if_none:
        async with uow:
            if await UserRepository(uow.session).any_super_admin():
                return None  # the common case at start-up: skip the bcrypt cost
    password_hash = await hash_password(password)
    async with uow:
        await uow.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                                  {"k": BOOTSTRAP_LOCK})
        repo = UserRepository(uow.session)
        if only_if_none and await repo.any_super_admin():
            return None
        user = await repo.add({"id": uuid.uuid4(), "email": email, "name": "Administrator",
                               "password_hash": password_hash, "role": "SUPER_ADMIN"})
        uow.record(events.user_registered(user, via="bootstrap", actor_id=str(user["id"])))
        await uow.commit()
    return user
