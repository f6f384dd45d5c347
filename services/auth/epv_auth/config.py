"""System configuration: a registry of typed, validated keys, stored in auth.system_config.

A key that is not stored has its default (some defaults come from the environment, so an
operator's EPV_ settings hold until an admin overrides them at run time).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from epv_auth import events
from epv_auth.errors import InvalidConfig
from epv_auth.repository import ConfigRepository
from epv_auth.settings import Settings
from epv_common.db import UnitOfWork
from epv_common.identity import Principal


@dataclass(frozen=True)
class ConfigKey:
    name: str
    kind: type
    description: str
    nullable: bool = False
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None

    def validate(self, value: Any) -> list[dict[str, Any]]:
        def fail(rule: str, message: str) -> list[dict[str, Any]]:
            return [{"field": "value", "rule": rule, "message": message}]

        if value is None:
            return [] if self.nullable else fail("required", f"{self.name} cannot be null.")
        # bool is an int in Python; a JSON true must not pass as 1, nor 1 as true.
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return fail("type", f"{self.name} must be an integer.")
        if self.kind is not int and not isinstance(value, self.kind):
            return fail("type", f"{self.name} must be a {self.kind.__name__}.")
        if self.minimum is not None and value < self.minimum:
            return fail("minimum", f"{self.name} must be at least {self.minimum}.")
        if self.maximum is not None and value > self.maximum:
            return fail("maximum", f"{self.name} must be at most {self.maximum}.")
        if self.max_length is not None and len(value) > self.max_length:
            return fail("max_length", f"{self.name} must be at most {self.max_length} characters.")
        return []


REGISTRY: dict[str, ConfigKey] = {k.name: k for k in (
    ConfigKey("registration_open", bool, "Whether anyone may create an account."),
    ConfigKey("max_sessions_per_user", int, "Open sessions per user; a login past it ends the "
              "oldest.", minimum=1, maximum=100),
    ConfigKey("login_lockout_threshold", int, "Failed logins before an account is locked.",
              minimum=3, maximum=50),
    ConfigKey("maintenance_message", str, "A notice for clients, or null.", nullable=True,
              max_length=500),
)}


def defaults(settings: Settings) -> dict[str, Any]:
    return {"registration_open": True, "max_sessions_per_user": 10,
            "login_lockout_threshold": settings.login_max_failures, "maintenance_message": None}


async def effective(uow: UnitOfWork, settings: Settings) -> dict[str, Any]:
    """Reads inside the caller's open unit of work."""
    stored = await ConfigRepository(uow.session).all()
    values = defaults(settings)
    values.update({k: v for k, v in stored.items() if k in REGISTRY})
    return values


async def list_config(uow: UnitOfWork, settings: Settings) -> list[dict[str, Any]]:
    async with uow:
        values = await effective(uow, settings)
    return [{"key": k.name, "value": values[k.name], "type": k.kind.__name__,
             "nullable": k.nullable, "minimum": k.minimum, "maximum": k.maximum,
             "description": k.description} for k in REGISTRY.values()]


async def set_value(uow: UnitOfWork, settings: Settings, principal: Principal, *, key: str,
                    value: Any) -> dict[str, Any]:
    spec = REGISTRY.get(key)
    if spec is None:
        raise InvalidConfig(f"There is no configuration key {key!r}.", errors=[
            {"field": "key", "rule": "unknown_key", "message": f"Known keys: {', '.join(REGISTRY)}."}])
    errors = spec.validate(value)
    if errors:
        raise InvalidConfig(errors=errors)
    async with uow:
        repo = ConfigRepository(uow.session)
        stored, before = await repo.get_for_update(key)
        if not stored:
            before = defaults(settings)[key]
        await repo.put(key, value, updated_by=uuid.UUID(principal.user_id))
        uow.record(events.config_changed(key=key, before=before, after=value,
                                         actor_id=principal.user_id))
        await uow.commit()
    return {"key": key, "value": value}
