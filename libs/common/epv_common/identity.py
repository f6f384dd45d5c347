"""The identity the gateway passes to services, and how a service knows it came from there.

The gateway verifies the access token, strips any identity headers the client sent, and sets
these on the request it forwards, together with the internal token shared only by the gateway
and the services (EPV_INTERNAL_TOKEN). A service trusts identity headers only when that token
matches, so a request that reaches a service directly cannot claim an identity.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import IntEnum

HEADER_USER_ID = "x-epv-user-id"
HEADER_ROLE = "x-epv-role"
HEADER_SESSION_ID = "x-epv-session-id"
HEADER_EMAIL = "x-epv-email"
HEADER_INTERNAL_TOKEN = "x-epv-internal-token"
IDENTITY_HEADERS = (HEADER_USER_ID, HEADER_ROLE, HEADER_SESSION_ID, HEADER_EMAIL,
                    HEADER_INTERNAL_TOKEN)


class Role(IntEnum):
    """Ordered: each level has everything below it."""

    ANALYST = 1
    SENIOR_ANALYST = 2
    MANAGER = 3
    ADMIN = 4
    SUPER_ADMIN = 5

    @classmethod
    def parse(cls, value: str) -> Role | None:
        return cls.__members__.get(value)


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    role: Role
    session_id: str
    email: str | None = None

    def at_least(self, role: Role) -> bool:
        return self.role >= role


def internal_token_matches(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def principal_from_headers(headers, *, internal_token: str) -> Principal | None:
    """The gateway-verified caller, or None when the request carries no trusted identity."""
    if not internal_token_matches(headers.get(HEADER_INTERNAL_TOKEN), internal_token):
        return None
    user_id = headers.get(HEADER_USER_ID)
    role = Role.parse(headers.get(HEADER_ROLE) or "")
    session_id = headers.get(HEADER_SESSION_ID)
    if not user_id or role is None or not session_id:
        return None
    return Principal(user_id=user_id, role=role, session_id=session_id,
                     email=headers.get(HEADER_EMAIL))
