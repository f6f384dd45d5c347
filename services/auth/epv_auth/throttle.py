"""Failure throttling in Redis (failed logins, invalid password-setup tokens), so every
replica sees the same counts and locks.

Per account (keyed by a hash of the email, so Redis holds no addresses of people) and per
client address: failures are counted in a window; reaching the threshold sets a lock whose
length doubles with each lock in the escalation window (base, 2×base, … up to max). A
successful login clears the account's counters, never the address's (one valid account must
not let an address keep guessing others).

Each action has its own keys (`action`): a password-setup token names no account, so its
failures count per address only (`email=None`), and they never lock anybody's logins.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from epv_auth.settings import Settings
from epv_common.errors import DependencyUnavailable
from epv_common.redis import key

# KEYS: failures, level, lock. ARGV: threshold, window, base, max, escalation window.
# Returns the lock seconds set by this failure (0 when none).
_RECORD_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n < tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
local level = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
local seconds = math.min(tonumber(ARGV[3]) * 2 ^ (level - 1), tonumber(ARGV[4]))
seconds = math.floor(seconds)
redis.call('SET', KEYS[3], level, 'EX', seconds)
return seconds
"""


@dataclass(frozen=True)
class Lock:
    scope: str  # "account" | "address"
    seconds: int


class FailureThrottle:
    def __init__(self, redis: Redis, settings: Settings, *, action: str = "login",
                 address_threshold: int | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.action = action
        self.address_threshold = address_threshold or settings.login_address_max_failures
        self._script = redis.register_script(_RECORD_FAILURE)

    def _keys(self, scope: str, ident: str) -> list[str]:
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        return [key(self.settings, "auth", self.action, part, scope, digest)
                for part in ("failures", "level", "lock")]

    def _scopes(self, email: str | None, address: str) -> list[tuple[str, str]]:
        return ([("account", email)] if email is not None else []) + [("address", address)]

    async def locked_for(self, *, email: str | None, address: str) -> int:
        """Seconds until this account (if any) may be tried from this address (0: now)."""
        try:
            ttls = [await self.redis.ttl(self._keys(scope, ident)[2])
                    for scope, ident in self._scopes(email, address)]
        except RedisError as exc:
            raise DependencyUnavailable(dependency="Redis") from exc
        return max(0, *ttls)

    async def record_failure(self, *, email: str | None, address: str,
                             threshold: int | None = None) -> list[Lock]:
        """`threshold` is the account's (needed when `email` is given)."""
        s = self.settings
        locks = []
        limits = {"account": threshold, "address": self.address_threshold}
        try:
            for scope, ident in self._scopes(email, address):
                seconds = int(await self._script(
                    keys=self._keys(scope, ident),
                    args=[limits[scope], s.login_failure_window_s, s.login_lock_base_s,
                          s.login_lock_max_s, s.login_lock_escalation_window_s]))
                if seconds:
                    locks.append(Lock(scope=scope, seconds=seconds))
        except RedisError as exc:
            raise DependencyUnavailable(dependency="Redis") from exc
        return locks

    async def record_success(self, *, email: str) -> None:
        try:
            await self.redis.delete(*self._keys("account", email))
        except RedisError as exc:
            raise DependencyUnavailable(dependency="Redis") from exc
