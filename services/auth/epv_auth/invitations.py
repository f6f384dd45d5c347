"""Accounts asked for by other services' events: an ADMIN's legacy import for a new email.

`migration.account_requested` (from cases) creates an ANALYST account for the email if none
exists and announces it with `auth.user.registered` (`via: "legacy_import"`); cases then runs
the waiting import as that user. The account's password hash is of a random secret that is
never stored or shown, so nobody can log in with it until a password is set; `invited_at`
marks it.

An email that already has an account gets nothing new, and no event: its auth.user.registered
went out when it was created, so cases' directory has it or will (events are never lost), and
cases checks the directory and records a waiting import under one lock, so the import runs
when that event arrives. A redelivered request is stopped by the inbox; two requests for one
email racing each other are settled by the unique email (the loser sees EmailTaken).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import structlog

from epv_auth import events
from epv_auth.errors import EmailTaken
from epv_auth.passwords import hash_password
from epv_auth.repository import UserRepository
from epv_common.db import UnitOfWork
from epv_common.events.consumer import EventHandler
from epv_common.events.envelope import CloudEvent
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


HANDLERS: dict[str, EventHandler] = {
    "migration.account_requested": on_account_requested,
}
