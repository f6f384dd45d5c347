"""Invited accounts: created for an ADMIN's legacy import, then given a password through a
one-time password-setup token.

1. Account. `migration.account_requested` (from cases) creates an ANALYST account for the
   email if none exists and announces it with `auth.user.registered` (`via: "legacy_import"`);
   cases then runs the waiting import as that user. The account's password hash is of a random
   secret that is never stored or shown, so nobody can log in with it until a password is
   set; `invited_at` marks it.

   An email that already has an account gets nothing new, and no event: its
   auth.user.registered went out when it was created, so cases' directory has it or will
   (events are never lost), and cases checks the directory and records a waiting import under
   one lock, so the import runs when that event arrives. A redelivered request is stopped by
   the inbox; two requests for one email racing each other are settled by the unique email
   (the loser sees EmailTaken).

2. Token. An ADMIN+ calls `POST /api/users/{id}/password-setup` and gets `{token, expires_at,
   ...}` once (201, `Cache-Control: no-store`) to hand to the user (an invitation link). Only
   the token's SHA-256 is stored; it expires after EPV_PASSWORD_SETUP_TTL_S (72 h by default);
   issuing another supersedes the user's earlier ones. The rules are PATCH /api/users/{id}'s:
   nobody for themselves, only a SUPER_ADMIN for an ADMIN or SUPER_ADMIN, never for a
   deactivated account. It records `auth.user.password_setup_issued` (security; the token's
   id, never the token). Any account may get one, so it doubles as an admin-assisted reset.

3. Redemption. `POST /api/auth/password-setup {token, password}` needs no access token (the
   gateway lets it through like login). The password policy is registration's (it names the
   account's email); the token is used up, the hash set, `invited_at` cleared, every open
   session of the user ended (`auth.session.revoked`, reason password_changed), and
   `auth.user.password_set` recorded, all in one transaction. An unknown, expired, used or
   superseded token, or a deactivated account, is one and the same 422 `invalid-setup-token`,
   so the answer says nothing about the account. Invalid tokens count per client address like
   failed logins (429 `password-setup-locked` past EPV_PASSWORD_SETUP_ADDRESS_MAX_FAILURES).
   The user then logs in as anyone does.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from epv_auth import events
from epv_auth.errors import (
    EmailTaken,
    InvalidSetupToken,
    PasswordSetupDenied,
    PasswordSetupLocked,
    UserInactive,
)
from epv_auth.passwords import check_policy, hash_password
from epv_auth.repository import PasswordSetupTokenRepository, SessionRepository, UserRepository
from epv_auth.service import Auth, Client, as_uuid, end_sessions
from epv_auth.tokens import new_password_setup_token, password_setup_token_hash
from epv_common.db import UnitOfWork
from epv_common.errors import NotFound
from epv_common.events.consumer import EventHandler
from epv_common.events.envelope import CloudEvent
from epv_common.identity import Principal, Role
from epv_common.requestctx import request_id_var

log = structlog.get_logger("epv.auth.invitations")

INVITED_ROLE = "ANALYST"


async def on_account_requested(event: CloudEvent, uow: UnitOfWork) -> None:
    data = event.data
    email = str(data["email"]).strip().lower()
    repo = UserRepository(uow.session)
    if await repo.by_email_with_hash(email) is not None:
        log.info("account_request_for_existing_user", import_id=data.get("import_id"))
        return
    # Never revealed, never stored in clear: the account cannot log in until a password is set.
    unusable_hash = await hash_password(secrets.token_urlsafe(48))
    try:
        user = await repo.add({
            "id": uuid.uuid4(), "email": email, "name": data.get("name"),
            "organization": data.get("organization"), "password_hash": unusable_hash,
            "role": INVITED_ROLE, "invited_at": datetime.now(UTC)})
    except EmailTaken:  # created meanwhile by a registration or another replica
        log.info("account_request_for_existing_user", import_id=data.get("import_id"))
        return
    token = request_id_var.set(event.requestid)
    try:
        uow.record(events.user_registered(user, via="legacy_import",
                                          actor_id=data.get("requested_by")))
    finally:
        request_id_var.reset(token)


# -- password-setup tokens ----------------------------------------------------------------

async def issue_password_setup(auth: Auth, principal: Principal, user_id: str) -> dict[str, Any]:
    target_id = as_uuid(user_id)
    if target_id is None:
        raise NotFound(entity="user")
    if str(target_id) == principal.user_id:
        raise PasswordSetupDenied(
            reason="Nobody issues a password-setup token for themselves; change your own "
                   "password with PUT /api/auth/password.")
    token = new_password_setup_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=auth.settings.password_setup_ttl_s)
    async with auth.uow() as uow:
        # The user's row lock serialises two admins issuing at once: one token survives.
        user = await UserRepository(uow.session).by_id(target_id, for_update=True)
        if user is None:
            raise NotFound(entity="user")
        if not principal.at_least(Role.SUPER_ADMIN) and Role[user["role"]] >= Role.ADMIN:
            raise PasswordSetupDenied(
                reason="Only a SUPER_ADMIN issues password-setup tokens for ADMIN and "
                       "SUPER_ADMIN accounts.")
        if not user["active"]:
            raise UserInactive()
        tokens = PasswordSetupTokenRepository(uow.session)
        superseded = await tokens.supersede_open(target_id)
        row = await tokens.add(token_id=uuid.uuid4(), token_hash=password_setup_token_hash(token),
                               user_id=target_id, issued_by=as_uuid(principal.user_id),
                               expires_at=expires_at)
        uow.record(events.password_setup_issued(
            user, token_id=str(row["id"]), expires_at=row["expires_at"], superseded=superseded,
            actor_id=principal.user_id))
        await uow.commit()
    return {"token": token, "token_id": row["id"], "user_id": target_id, "email": user["email"],
            "expires_at": row["expires_at"], "invited": user["invited_at"] is not None,
            "superseded": superseded}


def _invalid_token() -> InvalidSetupToken:
    # One answer for every reason, so it tells nothing about the account behind the token.
    return InvalidSetupToken(errors=[{"field": "token", "rule": "invalid",
                                      "message": "Unknown, expired or already used."}])


def _usable(row: dict[str, Any] | None) -> bool:
    return (row is not None and row["used_at"] is None and row["superseded_at"] is None
            and row["expires_at"] > datetime.now(UTC) and row["active"])


async def redeem_password_setup(auth: Auth, *, token: str, password: str, client: Client) -> None:
    address = client.address or "unknown"
    wait = await auth.setup_throttle.locked_for(email=None, address=address)
    if wait:
        raise PasswordSetupLocked(retry_after=wait)
    token_hash = password_setup_token_hash(token)
    async with auth.uow() as uow:
        row = await PasswordSetupTokenRepository(uow.session).by_hash(token_hash)
    if not _usable(row):
        locks = await auth.setup_throttle.record_failure(email=None, address=address)
        log.warning("password_setup_refused", address=client.address,
                    locked_for=locks[0].seconds if locks else 0)
        raise _invalid_token()
    assert row is not None
    # The policy names the account's email (as registration does); a weak password leaves the
    # token unused, so the user can try another.
    check_policy(password, email=row["email"])
    new_hash = await hash_password(password)  # outside any transaction: it takes ~0.25 s
    async with auth.uow() as uow:
        # Locks in issuing's order (the user, then the tokens), so the two never deadlock; of
        # concurrent redemptions the first uses the token and the others find it used.
        users = UserRepository(uow.session)
        user = await users.by_id(row["user_id"], for_update=True)
        tokens = PasswordSetupTokenRepository(uow.session)
        row = await tokens.by_hash(token_hash, for_update=True)
        if user is None or not _usable(row):  # used, superseded, expired or deactivated since
            raise _invalid_token()
        assert row is not None
        await tokens.mark_used(row["id"])
        updated = await users.update(user["id"], {"password_hash": new_hash, "invited_at": None})
        open_ids = [s["id"] for s in await SessionRepository(uow.session).open_for_user(user["id"])]
        await end_sessions(auth, uow, user_id=user["id"], session_ids=open_ids,
                           reason="password_changed", security=True, actor_id=str(user["id"]))
        uow.record(events.password_set(updated, token_id=str(row["id"]),
                                       invited=user["invited_at"] is not None))
        await uow.commit()


HANDLERS: dict[str, EventHandler] = {
    "migration.account_requested": on_account_requested,
}
