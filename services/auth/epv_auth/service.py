"""Use cases of the auth service: each opens the unit of work, records events, commits once.

Every use case that ends a session writes its revocation record to Redis (the gateway's
contract) after the database change and before the commit: if Redis refuses, the request
fails with 503 and the session stays open, so the database never says "ended" while the
gateway still accepts the session's tokens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from epv_auth import config, events
from epv_auth.errors import (
    InvalidCredentials,
    InvalidRefreshToken,
    LoginLocked,
    RefreshTokenReused,
    RegistrationClosed,
    WrongCurrentPassword,
)
from epv_auth.keys import KeyRing
from epv_auth.passwords import check_policy, dummy_hash, hash_password, verify_password
from epv_auth.repository import RefreshTokenRepository, SessionRepository, UserRepository
from epv_auth.settings import Settings
from epv_auth.throttle import FailureThrottle
from epv_auth.tokens import issue_access_token, new_refresh_token, refresh_token_hash
from epv_common.db import UnitOfWork, UnitOfWorkFactory
from epv_common.errors import DependencyUnavailable, NotAuthenticated, NotFound
from epv_common.identity import Principal
from epv_common.revocation import revoke_sessions


@dataclass
class Auth:
    """What the use cases need from the running service (built once in the lifespan)."""

    settings: Settings
    uow: UnitOfWorkFactory
    redis: Redis
    keyring: KeyRing
    throttle: FailureThrottle  # failed logins, per account and per address
    setup_throttle: FailureThrottle  # invalid password-setup tokens, per address


@dataclass(frozen=True)
class Client:
    address: str | None
    device: str | None


def as_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


async def revoke(auth: Auth, session_ids: list[uuid.UUID], *, reason: str) -> None:
    try:
        await revoke_sessions(auth.redis, auth.settings, auth.settings,
                              [str(s) for s in session_ids], reason=reason)
    except (RedisError, OSError) as exc:
        raise DependencyUnavailable(dependency="Redis") from exc


async def end_sessions(auth: Auth, uow: UnitOfWork, *, user_id: uuid.UUID,
                       session_ids: list[uuid.UUID], reason: str, security: bool,
                       actor_id: str | None) -> list[uuid.UUID]:
    """Ends them in the database and in Redis (inside the caller's unit of work, before its
    commit) and records one auth.session.revoked for those that were still open."""
    ended = await SessionRepository(uow.session).end(session_ids, reason=reason)
    # Revoke even those already ended in the database: a record lost to a Redis flush
    # is restored, and a revocation is idempotent.
    await revoke(auth, session_ids, reason=reason)
    if ended:
        uow.record(events.session_revoked(
            user_id=str(user_id), session_ids=[str(s) for s in ended], reason=reason,
            security=security, actor_id=actor_id))
    return ended


# -- registration and login ---------------------------------------------------------------

async def register(auth: Auth, *, email: str, password: str, name: str | None) -> dict[str, Any]:
    email = email.strip().lower()
    check_policy(password, email=email)
    async with auth.uow() as uow:
        if not (await config.effective(uow, auth.settings))["registration_open"]:
            raise RegistrationClosed()
    password_hash = await hash_password(password)
    async with auth.uow() as uow:
        user = await UserRepository(uow.session).add(
            {"id": uuid.uuid4(), "email": email, "name": name,
             "password_hash": password_hash, "role": "ANALYST"})
        uow.record(events.user_registered(user, via="self"))
        await uow.commit()
    return user


async def login(auth: Auth, *, email: str, password: str, client: Client) -> dict[str, Any]:
    email = email.strip().lower()
    address = client.address or "unknown"
    wait = await auth.throttle.locked_for(email=email, address=address)
    if wait:
        await _record(auth, events.login_failed(email=email, user_id=None, reason="locked",
                                                address=client.address, device=client.device))
        raise LoginLocked(retry_after=wait)
    async with auth.uow() as uow:
        user = await UserRepository(uow.session).by_email_with_hash(email)
        settings = await config.effective(uow, auth.settings)
    # An unknown email costs the same bcrypt verify, so response time does not reveal accounts.
    matches = await verify_password(password, user["password_hash"] if user else dummy_hash())
    if not matches or not user or not user["active"]:
        reason = ("unknown_email" if user is None else
                  "wrong_password" if not matches else "inactive")
        await _login_failed(auth, email=email, user=user, reason=reason, client=client,
                            threshold=settings["login_lockout_threshold"])
        raise InvalidCredentials()
    await auth.throttle.record_success(email=email)
    return await _start_session(auth, user=user, client=client,
                                max_sessions=settings["max_sessions_per_user"])


async def _record(auth: Auth, *recorded) -> None:
    async with auth.uow() as uow:
        for event in recorded:
            uow.record(event)
        await uow.commit()


async def _login_failed(auth: Auth, *, email: str, user: dict[str, Any] | None, reason: str,
                        client: Client, threshold: int) -> None:
    locks = await auth.throttle.record_failure(email=email, address=client.address or "unknown",
                                               threshold=threshold)
    user_id = str(user["id"]) if user else None
    await _record(auth, events.login_failed(email=email, user_id=user_id, reason=reason,
                                            address=client.address, device=client.device),
                  *(events.account_locked(email=email, user_id=user_id, scope=lock.scope,
                                          seconds=lock.seconds, address=client.address)
                    for lock in locks))


async def _start_session(auth: Auth, *, user: dict[str, Any], client: Client,
                         max_sessions: int) -> dict[str, Any]:
    session_id = uuid.uuid4()
    refresh_token = new_refresh_token()
    async with auth.uow() as uow:
        sessions = SessionRepository(uow.session)
        await sessions.add({"id": session_id, "user_id": user["id"],
                            "device": (client.device or "")[:500] or None,
                            "address": client.address})
        await RefreshTokenRepository(uow.session).add(
            token_hash=refresh_token_hash(refresh_token), session_id=session_id,
            expires_at=_refresh_expiry(auth))
        open_sessions = await sessions.open_for_user(user["id"])
        evicted = [s["id"] for s in open_sessions if s["id"] != session_id][max_sessions - 1:]
        if evicted:
            await end_sessions(auth, uow, user_id=user["id"], session_ids=evicted,
                               reason="session_limit", security=False, actor_id=str(user["id"]))
        uow.record(events.login_succeeded(user, session_id=str(session_id),
                                          address=client.address, device=client.device))
        await uow.commit()
    return await _token_pair(auth, user=user, session_id=session_id, refresh_token=refresh_token)


def _refresh_expiry(auth: Auth) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=auth.settings.refresh_token_ttl_s)


async def _token_pair(auth: Auth, *, user: dict[str, Any], session_id: uuid.UUID,
                      refresh_token: str) -> dict[str, Any]:
    access = await issue_access_token(auth.keyring, auth.settings, user=user,
                                      session_id=str(session_id))
    public = {k: v for k, v in user.items() if k != "password_hash"}
    return {"access_token": access, "refresh_token": refresh_token, "token_type": "Bearer",
            "expires_in": auth.settings.access_token_ttl_s, "user": public}


# -- refresh and logout -------------------------------------------------------------------

async def refresh(auth: Auth, *, refresh_token: str) -> dict[str, Any]:
    token_hash = refresh_token_hash(refresh_token)
    async with auth.uow() as uow:
        tokens = RefreshTokenRepository(uow.session)
        # Row lock: of N concurrent presentations of one token, the first rotates it and
        # every later one sees it used, which is reuse.
        row = await tokens.lock(token_hash)
        if row is None:
            raise InvalidRefreshToken()
        if row["used_at"] is not None:
            await end_sessions(auth, uow, user_id=row["user_id"], session_ids=[row["session_id"]],
                               reason="refresh_reuse", security=True, actor_id=None)
            await uow.commit()
            raise RefreshTokenReused()
        if row["ended_at"] is not None or row["expires_at"] <= datetime.now(UTC):
            raise InvalidRefreshToken()
        user = await UserRepository(uow.session).by_id(row["user_id"])
        if user is None or not user["active"]:
            raise InvalidRefreshToken()
        await tokens.mark_used(token_hash)
        new_token = new_refresh_token()
        await tokens.add(token_hash=refresh_token_hash(new_token), session_id=row["session_id"],
                         expires_at=_refresh_expiry(auth))
        await SessionRepository(uow.session).touch(row["session_id"])
        await uow.commit()
    return await _token_pair(auth, user=user, session_id=row["session_id"],
                             refresh_token=new_token)


async def logout(auth: Auth, *, principal: Principal | None, refresh_token: str | None) -> None:
    async with auth.uow() as uow:
        if principal is not None:
            session_id, user_id = as_uuid(principal.session_id), as_uuid(principal.user_id)
            if session_id is None or user_id is None:
                raise NotAuthenticated()
            session = await SessionRepository(uow.session).by_id(session_id)
            if session is not None and session["user_id"] != user_id:
                raise NotAuthenticated()
        elif refresh_token:
            row = await RefreshTokenRepository(uow.session).lock(refresh_token_hash(refresh_token))
            if row is None:
                raise InvalidRefreshToken()
            session_id, user_id = row["session_id"], row["user_id"]
        else:
            raise NotAuthenticated()
        await end_sessions(auth, uow, user_id=user_id, session_ids=[session_id], reason="logout",
                           security=False, actor_id=str(user_id))
        await uow.commit()


# -- own account --------------------------------------------------------------------------

async def me(auth: Auth, principal: Principal) -> dict[str, Any]:
    async with auth.uow() as uow:
        user = await UserRepository(uow.session).by_id(_user_id(principal))
    if user is None:
        raise NotFound(entity="user")
    return user


def _user_id(principal: Principal) -> uuid.UUID:
    user_id = as_uuid(principal.user_id)
    if user_id is None:
        raise NotAuthenticated()
    return user_id


async def update_me(auth: Auth, principal: Principal, changes: dict[str, Any]) -> dict[str, Any]:
    async with auth.uow() as uow:
        repo = UserRepository(uow.session)
        user = await repo.by_id(_user_id(principal), for_update=True)
        if user is None:
            raise NotFound(entity="user")
        changed = {k: v for k, v in changes.items() if user[k] != v}
        if not changed:
            return user
        updated = await repo.update(user["id"], changed)
        uow.record(events.user_updated(updated, before={k: user[k] for k in changed},
                                       after=changed, security=False,
                                       actor_id=principal.user_id))
        await uow.commit()
    return updated


async def change_password(auth: Auth, principal: Principal, *, current_password: str,
                          new_password: str) -> None:
    user_id = _user_id(principal)
    async with auth.uow() as uow:
        user = await UserRepository(uow.session).by_id(user_id, with_hash=True)
    if user is None:
        raise NotFound(entity="user")
    check_policy(new_password, email=user["email"], field="new_password")
    if not await verify_password(current_password, user["password_hash"]):
        raise WrongCurrentPassword(errors=[{"field": "current_password", "rule": "incorrect",
                                            "message": "The current password is wrong."}])
    new_hash = await hash_password(new_password)
    async with auth.uow() as uow:
        await UserRepository(uow.session).update(user_id, {"password_hash": new_hash})
        others = [s["id"] for s in await SessionRepository(uow.session).open_for_user(user_id)
                  if str(s["id"]) != principal.session_id]
        await end_sessions(auth, uow, user_id=user_id, session_ids=others,
                           reason="password_changed", security=True, actor_id=str(user_id))
        await uow.commit()


async def list_sessions(auth: Auth, principal: Principal) -> list[dict[str, Any]]:
    async with auth.uow() as uow:
        rows = await SessionRepository(uow.session).open_for_user(_user_id(principal))
    return [{**r, "current": str(r["id"]) == principal.session_id} for r in rows]


async def end_own_session(auth: Auth, principal: Principal, session_id: str) -> None:
    user_id, sid = _user_id(principal), as_uuid(session_id)
    async with auth.uow() as uow:
        session = await SessionRepository(uow.session).by_id(sid) if sid else None
        # Another user's session is indistinguishable from none at all.
        if session is None or session["user_id"] != user_id or session["ended_at"] is not None:
            raise NotFound(entity="session")
        await end_sessions(auth, uow, user_id=user_id, session_ids=[sid],
                           reason="revoked_by_user", security=False, actor_id=str(user_id))
        await uow.commit()
