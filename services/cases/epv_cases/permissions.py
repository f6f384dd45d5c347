"""Who may do what to a case: owner, share levels, and privileged (ADMIN+) reads.

Share levels are ordered READ < COMMENT < EDIT < ADMIN; the owner is above them all. A caller
with no access at all gets CaseNotFound (a 404), never a 403: a case you may not see does not
exist for you. A 403 only answers a caller who sees the case but lacks the level.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from epv_cases.errors import CaseAccessDenied, CaseNotFound, ShareLevelNotAllowed
from epv_common.identity import Principal, Role


class Level(IntEnum):
    READ = 1
    COMMENT = 2
    EDIT = 3
    ADMIN = 4
    OWNER = 5

    @classmethod
    def share_level(cls, name: str) -> Level:
        level = cls.__members__[name]
        if level is cls.OWNER:
            raise KeyError(name)
        return level


SHARE_LEVELS = (Level.READ, Level.COMMENT, Level.EDIT, Level.ADMIN)


@dataclass(frozen=True, slots=True)
class Access:
    level: Level
    privileged: bool = False
    """Seen only through the ADMIN role (no ownership, no share): every read is audited."""

    @property
    def is_owner(self) -> bool:
        return self.level is Level.OWNER


def access_to(case: dict[str, Any], principal: Principal, share_level: str | None
              ) -> Access | None:
    """The caller's access, from the case row and the caller's *live* share level (an expired,
    revoked or deactivated share arrives here as None)."""
    if case["owner_id"] == uuid.UUID(principal.user_id):
        return Access(Level.OWNER)
    if share_level is not None:
        return Access(Level.share_level(share_level))
    if principal.at_least(Role.ADMIN):
        return Access(Level.READ, privileged=True)
    return None


def require(access: Access | None, needed: Level, *, case_id: uuid.UUID) -> Access:
    if access is None:
        raise CaseNotFound(case_id=str(case_id))
    if access.level < needed:
        raise CaseAccessDenied(needed=needed.name, have=access.level.name)
    return access


def max_grantable(principal: Principal) -> Level:
    """ANALYST shares READ/COMMENT; SENIOR_ANALYST and above also EDIT/ADMIN."""
    return Level.ADMIN if principal.at_least(Role.SENIOR_ANALYST) else Level.COMMENT


def check_grant(principal: Principal, level: Level) -> None:
    cap = max_grantable(principal)
    if level > cap:
        allowed = "/".join(lvl.name for lvl in SHARE_LEVELS if lvl <= cap)
        raise ShareLevelNotAllowed(role=principal.role.name, allowed=allowed, level=level.name)
