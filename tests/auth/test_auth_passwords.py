"""The password policy, bcrypt's 72-byte limit, password change; no secret ever leaks."""

from __future__ import annotations

import pytest

from tests.auth.conftest import (
    PASSWORD,
    Account,
    identity,
    login,
    register,
    registered_and_logged_in,
    unique_email,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_passwords_equal_in_their_first_72_bytes_are_different(auth):
    prefix = "x7Q!" * 18  # 72 bytes
    account = await register(auth, password=prefix + "-one")
    response = await auth.post("/api/auth/login",
                               json={"email": account.email, "password": prefix + "-two"})
    assert response.status_code == 401
    assert (await auth.post("/api/auth/login", json={"email": account.email,
                                                     "password": prefix + "-one"})
            ).status_code == 200


@pytest.mark.parametrize(("password", "rule"), [
    ("short-9", "too_short"),
    ("a" * 129, "too_long"),
    ("QAZWSXEDCRFV", "common"),
    ("1q2w3e4r5t6y", "common"),
])
async def test_weak_passwords_are_refused_with_the_rule(auth, password, rule):
    response = await auth.post("/api/auth/register", json={
        "email": unique_email(), "password": password, "name": "x"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert {"field": "password", "rule": rule} in [
        {"field": e["field"], "rule": e["rule"]} for e in body["errors"]]
    assert password not in response.text


async def test_a_password_containing_the_email_local_part_is_refused(auth):
    email = unique_email("jdoe")
    local = email.split("@")[0]
    response = await auth.post("/api/auth/register", json={
        "email": email, "password": f"My-{local.upper()}-secret", "name": "x"})
    assert response.status_code == 422
    assert "contains_email" in [e["rule"] for e in response.json()["errors"]]


async def test_password_change_ends_the_other_sessions(auth, system, redis):
    account = await registered_and_logged_in(auth)
    other_session = account.session_id
    await login(auth, account)
    headers = identity(system, account)
    wrong = await auth.put("/api/auth/password", headers=headers, json={
        "current_password": "wrong-password-123", "new_password": "Brand-New-Secret-42"})
    assert wrong.status_code == 422
    weak = await auth.put("/api/auth/password", headers=headers, json={
        "current_password": PASSWORD, "new_password": "password1234"})
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "new_password"
    changed = await auth.put("/api/auth/password", headers=headers, json={
        "current_password": PASSWORD, "new_password": "Brand-New-Secret-42"})
    assert changed.status_code == 204
    from epv_common.revocation import revoked_session_key
    from epv_common.settings import RedisSettings
    settings = RedisSettings(redis_prefix=system.redis_prefix)
    assert await redis.exists(revoked_session_key(settings, other_session))
    assert not await redis.exists(revoked_session_key(settings, account.session_id))
    assert (await auth.post("/api/auth/login", json={"email": account.email, "password": PASSWORD})
            ).status_code == 401
    await login(auth, Account(email=account.email, password="Brand-New-Secret-42", user={}))


async def test_no_password_or_hash_in_responses_or_events(auth, system, db):
    password = "Unique-Leak-Probe-77"
    account = await registered_and_logged_in(auth, password=password)
    await auth.post("/api/auth/login", json={"email": account.email, "password": password + "x"})
    me = await auth.get("/api/auth/me", headers=identity(system, account))
    for text in (me.text, str(account.pair), str(account.user)):
        assert password not in text and "bcrypt" not in text and "password_hash" not in text
    payloads = await db.fetch("SELECT payload::text AS p FROM auth.outbox")
    assert payloads
    for row in payloads:
        assert password not in row["p"]
        assert "$bcrypt" not in row["p"] and "password_hash" not in row["p"]
    stored = await db.fetchval("SELECT password_hash FROM auth.users WHERE email = $1",
                               account.email)
    assert stored.startswith("$bcrypt-sha256$") and ",r=12$" in stored
