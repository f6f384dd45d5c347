"""Events the auth service emits. A password, a hash or a token never enters one.

Security-relevant events carry `"security": true` in data, so the audit trail flags them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from epv_common.events.envelope import CloudEvent, new_event

SOURCE = "auth"


def public_user(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(user["id"]), "email": user["email"], "name": user.get("name"),
            "organization": user.get("organization"), "role": user["role"],
            "active": user["active"]}


def user_registered(user: dict[str, Any], *, via: str, actor_id: str | None = None) -> CloudEvent:
    return new_event("auth.user.registered", source=SOURCE, subject=str(user["id"]),
                     actor_id=actor_id or str(user["id"]),
                     data={"user": public_user(user), "via": via})


def user_updated(user: dict[str, Any], *, before: dict[str, Any], after: dict[str, Any],
                 security: bool, actor_id: str) -> CloudEvent:
    return new_event("auth.user.updated", source=SOURCE, subject=str(user["id"]),
                     actor_id=actor_id, data={"user": public_user(user), "before": before,
                                              "after": after, "security": security})


def password_setup_issued(user: dict[str, Any], *, token_id: str, expires_at: datetime,
                          superseded: int, actor_id: str) -> CloudEvent:
    """An admin issued a one-time password-setup token (never in the event: only its id)."""
    return new_event("auth.user.password_setup_issued", source=SOURCE, subject=str(user["id"]),
                     actor_id=actor_id,
                     data={"user_id": str(user["id"]), "email": user["email"],
                           "token_id": token_id, "expires_at": _rfc3339(expires_at),
                           "invited": user.get("invited_at") is not None,
                           "superseded": superseded, "security": True})


def password_set(user: dict[str, Any], *, token_id: str, invited: bool) -> CloudEvent:
    """A user set their password by redeeming a password-setup token."""
    return new_event("auth.user.password_set", source=SOURCE, subject=str(user["id"]),
                     actor_id=str(user["id"]),
                     data={"user_id": str(user["id"]), "email": user["email"],
                           "token_id": token_id, "invited": invited, "security": True})


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def login_succeeded(user: dict[str, Any], *, session_id: str, address: str | None,
                    device: str | None) -> CloudEvent:
    return new_event("auth.login.succeeded", source=SOURCE, subject=str(user["id"]),
                     actor_id=str(user["id"]),
                     data={"user_id": str(user["id"]), "email": user["email"],
                           "session_id": session_id, "address": address, "device": device})


def login_failed(*, email: str, user_id: str | None, reason: str, address: str | None,
                 device: str | None) -> CloudEvent:
    return new_event("auth.login.failed", source=SOURCE, subject=user_id, actor_id=user_id,
                     data={"email": email, "user_id": user_id, "reason": reason,
                           "address": address, "device": device, "security": True})


def account_locked(*, email: str, user_id: str | None, scope: str, seconds: int,
                   address: str | None) -> CloudEvent:
    return new_event("auth.account.locked", source=SOURCE, subject=user_id, actor_id=user_id,
                     data={"email": email, "user_id": user_id, "scope": scope,
                           "lock_seconds": seconds, "address": address, "security": True})


def session_revoked(*, user_id: str, session_ids: list[str], reason: str, security: bool,
                    actor_id: str | None) -> CloudEvent:
    return new_event("auth.session.revoked", source=SOURCE, subject=user_id, actor_id=actor_id,
                     data={"user_id": user_id, "session_ids": session_ids, "reason": reason,
                           "security": security})


def key_rotated(*, kid: str, previous_kid: str | None, actor_id: str | None) -> CloudEvent:
    return new_event("auth.key.rotated", source=SOURCE, subject=kid, actor_id=actor_id,
                     data={"kid": kid, "previous_kid": previous_kid, "algorithm": "RS256",
                           "security": True})


def config_changed(*, key: str, before: Any, after: Any, actor_id: str) -> CloudEvent:
    return new_event("auth.config.changed", source=SOURCE, subject=key, actor_id=actor_id,
                     data={"key": key, "before": before, "after": after})
