"""Per-request checks in Redis, in one round trip: is the token's session revoked, and does
the caller's address (and user) still have tokens in its rate-limit bucket.

Token buckets live in Redis so that every gateway replica counts the same; the script reads
Redis's own clock, so replicas with skewed clocks agree too.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from epv_common.revocation import revoked_session_key
from epv_common.settings import RedisSettings

# KEYS: 1 revoked-session key ('' when anonymous), 2 address bucket, 3 user bucket ('' if none)
# ARGV: 1 address rate/s, 2 address burst, 3 user rate/s, 4 user burst
# Returns: {revoked, allowed, remaining, retry_after_ms, limit}
GUARD_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if KEYS[1] ~= '' and redis.call('EXISTS', KEYS[1]) == 1 then
  return {1, 0, 0, 0, 0}
end
local function take(key, rate, burst)
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst
  local ts = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
  return tokens
end
local function store(key, tokens, rate, burst)
  redis.call('HSET', key, 'tokens', tokens, 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
local ip_rate, ip_burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local ip_tokens = take(KEYS[2], ip_rate, ip_burst)
local user_tokens, user_rate, user_burst = nil, tonumber(ARGV[3]), tonumber(ARGV[4])
if KEYS[3] ~= '' then user_tokens = take(KEYS[3], user_rate, user_burst) end
local limit, remaining, rate = ip_burst, ip_tokens, ip_rate
if user_tokens ~= nil and user_tokens < ip_tokens then
  limit, remaining, rate = user_burst, user_tokens, user_rate
end
if ip_tokens < 1 or (user_tokens ~= nil and user_tokens < 1) then
  store(KEYS[2], ip_tokens, ip_rate, ip_burst)
  if user_tokens ~= nil then store(KEYS[3], user_tokens, user_rate, user_burst) end
  return {0, 0, 0, math.ceil((1 - remaining) / rate * 1000), limit}
end
store(KEYS[2], ip_tokens - 1, ip_rate, ip_burst)
if user_tokens ~= nil then store(KEYS[3], user_tokens - 1, user_rate, user_burst) end
return {0, 1, math.floor(remaining - 1), 0, limit}
"""


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    revoked: bool
    allowed: bool
    remaining: int
    retry_after_ms: int
    limit: int


@dataclass(frozen=True)
class RateLimits:
    address_per_s: float
    address_burst: int
    user_per_s: float
    user_burst: int


class RequestGuard:
    def __init__(self, redis: Redis, settings: RedisSettings, limits: RateLimits) -> None:
        self.redis = redis
        self.settings = settings
        self.limits = limits
        self._script = redis.register_script(GUARD_LUA)

    async def check(self, *, address: str, user_id: str | None, session_id: str | None
                    ) -> GuardVerdict:
        prefix = self.settings.redis_prefix
        keys = [
            revoked_session_key(self.settings, session_id) if session_id else "",
            f"{prefix}ratelimit:addr:{address}",
            f"{prefix}ratelimit:user:{user_id}" if user_id else "",
        ]
        result = await self._script(keys=keys, args=[
            self.limits.address_per_s, self.limits.address_burst,
            self.limits.user_per_s, self.limits.user_burst])
        revoked, allowed, remaining, retry_after_ms, limit = (int(x) for x in result)
        return GuardVerdict(revoked=bool(revoked), allowed=bool(allowed), remaining=remaining,
                            retry_after_ms=retry_after_ms, limit=limit)
