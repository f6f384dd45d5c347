"""Use cases of the auth service: each opens the unit of work, records events, commits once."""

from __future__ import annotations

import uuid
from typing import Any

from epv_auth import events
from epv_auth.passwords import hash_password
from epv_auth.repository import UserRepository
from epv_common.db import UnitOfWork


async def register(uow: UnitOfWork, *, email: str, password: str, name: str | None
                   ) -> dict[str, Any]:
    password_hash = await hash_password(password)
    async with uow:
        user = await UserRepository(uow.session).add(
            {"id": uuid.uuid4(), "email": email.lower(), "name": name,
             "password_hash": password_hash, "role": "ANALYST"})
        uow.record(events.user_registered(user, via="self"))
        await uow.commit()
    return user
