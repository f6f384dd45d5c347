"""Accounts for end-to-end tests: registered, given a role by the bootstrap SUPER_ADMIN, and
logged in through the gateway, as a client would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from epv_common.testing.system import BOOTSTRAP_ADMIN_EMAIL, BOOTSTRAP_ADMIN_PASSWORD

PASSWORD = "Gateway-Test-Passphrase-7"
ROLES = ("ANALYST", "SENIOR_ANALYST", "MANAGER", "ADMIN", "SUPER_ADMIN")


@dataclass
class Account:
    email: str
    password: str
    id: str
    role: str
    access_token: str = ""
    refresh_token: str = ""
    user: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def login(gateway: httpx.AsyncClient, email: str, password: str, *,
                address: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    return await gateway.post("/api/auth/login", json={"email": email, "password": password},
                              headers=headers)


async def admin(gateway: httpx.AsyncClient) -> Account:
    """The bootstrap SUPER_ADMIN, freshly logged in (role-change tests end its sessions)."""
    response = await login(gateway, BOOTSTRAP_ADMIN_EMAIL, BOOTSTRAP_ADMIN_PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(email=BOOTSTRAP_ADMIN_EMAIL, password=BOOTSTRAP_ADMIN_PASSWORD,
                   id=body["user"]["id"], role="SUPER_ADMIN", access_token=body["access_token"],
                   refresh_token=body["refresh_token"], user=body["user"])


async def account(gateway: httpx.AsyncClient, role: str = "ANALYST", *,
                  password: str = PASSWORD, tag: str = "e2e") -> Account:
    email = f"{tag}-{role.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    registered = await gateway.post("/api/auth/register", json={
        "email": email, "password": password, "name": f"{role.title()} Tester"})
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["id"]
    if role != "ANALYST":
        boss = await admin(gateway)
        changed = await gateway.patch(f"/api/users/{user_id}", json={"role": role},
                                      headers=boss.headers)
        assert changed.status_code == 200, changed.text
    return await relogin(gateway, Account(email=email, password=password, id=user_id, role=role))


async def relogin(gateway: httpx.AsyncClient, who: Account) -> Account:
    response = await login(gateway, who.email, who.password)
    assert response.status_code == 200, response.text
    body = response.json()
    who.access_token, who.refresh_token = body["access_token"], body["refresh_token"]
    who.user = body["user"]
    return who
