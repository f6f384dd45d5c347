"""Password-setup tokens: an ADMIN+ issues one for an invited account (or any it may manage),
the user redeems it once with a password that passes the policy, then logs in."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from passlib.hash import bcrypt_sha256

from epv_auth.settings import Settings
from epv_common.revocation import revoked_session_key
from epv_common.settings import RedisSettings
from tests.auth.conftest import (
    PASSWORD,
    Account,
    identity,
    login,
    outbox_events,
    registered_and_logged_in,
    unique_email,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

NEW_PASSWORD = "Fresh-Start-Passphrase-42"
INVALID_TYPE = "https://epv-valuation.pro/problems/invalid-setup-token"


def address() -> str:
    """An address of its own per call: invalid tokens count per address."""
    return "10." + ".".join(str(secrets.randbelow(250) + 1) for _ in range(3))


async def invited(db, *, role: str = "ANALYST") -> Account:
    """An account as the migration.account_requested consumer makes it (that path runs in
    tests/e2e/test_invited_account.py): a hash of a secret nobody knows, `invited_at` set."""
    email = unique_email("invited")
    user_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO auth.users (id, email, name, password_hash, role, invited_at) "
        "VALUES ($1, $2, 'Invited', $3, $4, now())",
        user_id, email, bcrypt_sha256.using(rounds=4).hash(secrets.token_urlsafe(32)), role)
    return Account(email=email, password="", user={"id": str(user_id), "role": role})


async def admin_of(auth, system, root) -> Account:
    account = await registered_and_logged_in(auth)
    granted = await auth.patch(f"/api/users/{account.id}", json={"role": "ADMIN"},
                               headers=identity(system, root))
    assert granted.status_code == 200, granted.text
    return await login(auth, account)


async def issue(auth, system, actor: Account, target_id: str, *, role: str | None = None):
    return await auth.post(f"/api/users/{target_id}/password-setup",
                           headers=identity(system, actor, role=role))


async def redeem(auth, token: str, password: str = NEW_PASSWORD, *, where: str | None = None):
    return await auth.post("/api/auth/password-setup", json={"token": token, "password": password},
                           headers={"X-Forwarded-For": where or address()})


async def test_an_invited_account_sets_its_password_once_then_logs_in(auth, system, db, root):
    admin = await admin_of(auth, system, root)
    user = await invited(db)
    listed = await auth.get("/api/users", params={"email": user.email},
                            headers=identity(system, admin))
    assert listed.json()["items"][0]["invited_at"] is not None

    before = datetime.now(UTC)
    issued = await issue(auth, system, admin, user.id)
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    token = body["token"]
    assert len(token) >= 43 and body["user_id"] == user.id and body["email"] == user.email
    assert body["invited"] is True and body["superseded"] == 0
    # The default lifetime (EPV_PASSWORD_SETUP_TTL_S unset in tests) is 72 h.
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(hours=72) - timedelta(minutes=1) < expires_at \
        < datetime.now(UTC) + timedelta(hours=72) + timedelta(minutes=1)

    # Stored as its SHA-256 only.
    [row] = await db.fetch("SELECT * FROM auth.password_setup_tokens WHERE user_id = $1",
                           uuid.UUID(user.id))
    assert bytes(row["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert str(row["issued_by"]) == admin.id and str(row["id"]) == body["token_id"]

    # Nothing logs in before the password is set.
    assert (await auth.post("/api/auth/login", json={"email": user.email,
                                                     "password": NEW_PASSWORD})).status_code == 401

    # The policy is registration's, email included; a weak password leaves the token usable.
    local = user.email.split("@")[0]
    for weak, rule in (("short-pass", "too_short"), (f"{local}-Suffix-123", "contains_email")):
        refused = await redeem(auth, token, weak)
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"].endswith("/weak-password")
        assert rule in {e["rule"] for e in refused.json()["errors"]}

    done = await redeem(auth, token)
    assert done.status_code == 204, done.text
    user.password = NEW_PASSWORD
    await login(auth, user)
    assert user.user["invited_at"] is None
    assert await db.fetchval("SELECT invited_at FROM auth.users WHERE id = $1",
                             uuid.UUID(user.id)) is None

    # A second use is refused with the same problem as any other invalid token.
    again = await redeem(auth, token, "Another-Passphrase-77")
    assert again.status_code == 422 and again.json()["type"] == INVALID_TYPE
    assert again.json()["errors"][0]["field"] == "token"
    await login(auth, user)  # the password is still the first one

    # Both events are security events; neither carries the token or the password.
    [issued_event] = await outbox_events(db, "auth.user.password_setup_issued", subject=user.id)
    assert issued_event["actorid"] == admin.id
    assert issued_event["data"] == {
        "user_id": user.id, "email": user.email, "token_id": body["token_id"],
        "expires_at": issued_event["data"]["expires_at"], "invited": True, "superseded": 0,
        "security": True}
    [set_event] = await outbox_events(db, "auth.user.password_set", subject=user.id)
    assert set_event["actorid"] == user.id
    assert set_event["data"] == {"user_id": user.id, "email": user.email,
                                 "token_id": body["token_id"], "invited": True, "security": True}
    every_payload = json.dumps([r["payload"] for r in await db.fetch(
        "SELECT payload::text AS payload FROM auth.outbox")])
    for secret in (token, NEW_PASSWORD, hashlib.sha256(token.encode()).hexdigest()):
        assert secret not in every_payload


async def test_a_new_token_supersedes_the_older_one(auth, system, db, root):
    admin = await admin_of(auth, system, root)
    user = await invited(db)
    first = (await issue(auth, system, admin, user.id)).json()
    second = (await issue(auth, system, root, user.id)).json()
    assert second["superseded"] == 1 and second["token"] != first["token"]
    refused = await redeem(auth, first["token"])
    assert refused.status_code == 422 and refused.json()["type"] == INVALID_TYPE
    assert (await redeem(auth, second["token"])).status_code == 204


async def test_concurrent_redemptions_of_one_token_set_one_password(auth, system, db, root):
    user = await invited(db)
    token = (await issue(auth, system, root, user.id)).json()["token"]
    passwords = [f"Racing-Passphrase-{i}-{secrets.token_hex(4)}" for i in range(4)]
    answers = await asyncio.gather(*(redeem(auth, token, p) for p in passwords))
    assert sorted(a.status_code for a in answers) == [204, 422, 422, 422]
    winner = passwords[[a.status_code for a in answers].index(204)]
    assert len(await outbox_events(db, "auth.user.password_set", subject=user.id)) == 1
    user.password = winner
    await login(auth, user)


async def test_an_expired_token_is_refused(auth, system, db, root):
    user = await invited(db)
    body = (await issue(auth, system, root, user.id)).json()
    await db.execute("UPDATE auth.password_setup_tokens SET expires_at = now() - interval '1 s' "
                     "WHERE id = $1", uuid.UUID(body["token_id"]))
    refused = await redeem(auth, body["token"])
    assert refused.status_code == 422 and refused.json()["type"] == INVALID_TYPE
    assert await db.fetchval("SELECT used_at FROM auth.password_setup_tokens WHERE id = $1",
                             uuid.UUID(body["token_id"])) is None


async def test_invalid_tokens_all_look_alike(auth, system, db, root):
    """Unknown, used, expired, or for a deactivated account: one answer, nothing about who."""
    user = await invited(db)
    body = (await issue(auth, system, root, user.id)).json()
    off = await auth.patch(f"/api/users/{user.id}", json={"active": False},
                           headers=identity(system, root))
    assert off.status_code == 200, off.text
    answers = [await redeem(auth, body["token"]), await redeem(auth, secrets.token_urlsafe(32))]
    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].json() == answers[1].json()
    assert user.email not in answers[0].text and user.id not in answers[0].text
    # And a deactivated account gets no new token either.
    inactive = await issue(auth, system, root, user.id)
    assert inactive.status_code == 409 and inactive.json()["type"].endswith("/user-inactive")


async def test_redeeming_ends_the_users_open_sessions(auth, system, db, redis, root):
    """As an admin-assisted reset of an account that has a password and sessions."""
    user = await registered_and_logged_in(auth)
    body = (await issue(auth, system, root, user.id)).json()
    assert body["invited"] is False
    assert (await redeem(auth, body["token"])).status_code == 204
    settings = RedisSettings(redis_prefix=system.redis_prefix)
    assert await redis.get(revoked_session_key(settings, user.session_id)) == b"password_changed"
    assert (await auth.post("/api/auth/refresh", json={
        "refresh_token": user.pair["refresh_token"]})).status_code == 401
    revoked = await outbox_events(db, "auth.session.revoked", subject=user.id)
    assert revoked[-1]["data"]["session_ids"] == [user.session_id]
    assert revoked[-1]["data"]["reason"] == "password_changed"
    assert (await auth.post("/api/auth/login", json={"email": user.email,
                                                     "password": PASSWORD})).status_code == 401
    user.password = NEW_PASSWORD
    await login(auth, user)


async def test_who_may_issue_a_token_for_whom(auth, system, db, root):
    admin = await admin_of(auth, system, root)
    other_admin = await admin_of(auth, system, root)
    target = await invited(db)
    for role in ("ANALYST", "SENIOR_ANALYST", "MANAGER"):
        denied = await issue(auth, system, admin, target.id, role=role)
        assert denied.status_code == 403, (role, denied.text)
        assert denied.json()["type"].endswith("/permission-denied")
    anonymous = await auth.post(f"/api/users/{target.id}/password-setup")
    assert anonymous.status_code == 401
    # An ADMIN acts on nobody at or above ADMIN, nor on itself; a SUPER_ADMIN may.
    for victim in (other_admin, root, admin):
        denied = await issue(auth, system, admin, victim.id)
        assert denied.status_code == 403, denied.text
        assert denied.json()["type"].endswith("/password-setup-denied")
    assert (await issue(auth, system, root, other_admin.id)).status_code == 201
    assert (await issue(auth, system, root, root.id)).status_code == 403
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        assert (await issue(auth, system, admin, missing)).status_code == 404
    assert await db.fetchval("SELECT count(*) FROM auth.password_setup_tokens WHERE user_id = "
                             "ANY($1::uuid[])", [uuid.UUID(target.id), uuid.UUID(admin.id),
                                                 uuid.UUID(root.id)]) == 0


async def test_invalid_tokens_lock_the_address_and_only_it(auth, system, db, root):
    user = await invited(db)
    token = (await issue(auth, system, root, user.id)).json()["token"]
    guesser = address()
    for _ in range(20):  # EPV_PASSWORD_SETUP_ADDRESS_MAX_FAILURES defaults to 20
        assert (await redeem(auth, secrets.token_urlsafe(32), where=guesser)).status_code == 422
    locked = await redeem(auth, token, where=guesser)
    assert locked.status_code == 429, locked.text
    assert locked.json()["type"].endswith("/password-setup-locked")
    assert 1 <= int(locked.headers["retry-after"]) <= 4  # the test env's short locks
    # Logins from that address are not affected, and the token still works from elsewhere.
    other = await registered_and_logged_in(auth)
    assert (await auth.post("/api/auth/login", headers={"X-Forwarded-For": guesser},
                            json={"email": other.email, "password": other.password})
            ).status_code == 200
    assert (await redeem(auth, token)).status_code == 204


async def test_the_token_lifetime_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("EPV_PASSWORD_SETUP_TTL_S", raising=False)
    assert Settings().password_setup_ttl_s == 72 * 3600
    monkeypatch.setenv("EPV_PASSWORD_SETUP_TTL_S", "3600")
    assert Settings().password_setup_ttl_s == 3600
    monkeypatch.setenv("EPV_PASSWORD_SETUP_TTL_S", "10")
    with pytest.raises(ValueError):
        Settings()
