"""Per-request checks in Redis, in one round trip: is the token's session revoked, and does
the caller's address (and user) still have tokens in its rate-limit bucket. Requests that
arrive together share the round trip (epv_common.turnbatch).

Token buckets live in Redis so that every gateway replica counts the same; the script reads
Redis's own clock, so replicas with skewed clocks agree too.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from epv_common.revocation import revoked_session_key
from epv_common.settings import RedisSettings
from epv_common.turnbatch import TurnBatcher

# One call checks a batch of requests, in order (see RequestGuard): for request i, KEYS
# 3i-2 (revoked-session key, '' when anonymous), 3i-1 (address bucket), 3i (user bucket, ''
# if none). ARGV: 1 address rate/s, 2 address burst, 3 user rate/s, 4 user burst.
# Returns, per request, five numbers: revoked, allowed, remaining, retry_after_ms, limit.
GUARD_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ip_rate, ip_burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local user_rate, user_burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local function take(key, rate, burst)
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst
  local ts = tonumber(state[2]) or now
  return math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
end
local function store(key, tokens, rate, burst)
  redis.call('HSET', key, 'tokens', tokens, 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
local function check(session_key, ip_key, user_key)
  if session_key ~= '' and redis.call('EXISTS', session_key) == 1 then
    return 1, 0, 0, 0, 0
  end
  local ip_tokens = take(ip_key, ip_rate, ip_burst)
  local user_tokens = nil
  if user_key ~= '' then user_tokens = take(user_key, user_rate, user_burst) end
  local limit, remaining, rate = ip_burst, ip_tokens, ip_rate
  if user_tokens ~= nil and user_tokens < ip_tokens then
    limit, remaining, rate = user_burst, user_tokens, user_rate
  end
  if ip_tokens < 1 or (user_tokens ~= nil and user_tokens < 1) then
    store(ip_key, ip_tokens, ip_rate, ip_burst)
    if user_tokens ~= nil then store(user_key, user_tokens, user_rate, user_burst) end
    return 0, 0, 0, math.ceil((1 - remaining) / rate * 1000), limit
  end
  store(ip_key, ip_tokens - 1, ip_rate, ip_burst)
  if user_tokens ~= nil then store(user_key, user_tokens - 1, user_rate, user_burst) end
  return 0, 1, math.floor(remaining - 1), 0, limit
end
local out = {}
for i = 1, #KEYS, 3 do
  local revoked, allowed, remaining, retry_after, limit = check(KEYS[i], KEYS[i + 1], KEYS[i + 2])
  out[#out + 1] = revoked; out[#out + 1] = allowed; out[#out + 1] = remaining
  out[#out + 1] = retry_after; out[#out + 1] = limit
end
return out
"""
# Requests per script call at most: a long script holds Redis for everyone else.
GUARD_BATCH_MAX = 128


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
    """Checks arriving in one turn of the event loop go to Redis as one script call."""

    def __init__(self, redis: Redis, settings: RedisSettings, limits: RateLimits) -> None:
        self.redis = redis
        self.settings = settings
        self.limits = limits
        self._script = redis.register_script(GUARD_LUA)
        self._limit_args = (limits.address_per_s, limits.address_burst,
                            limits.user_per_s, limits.user_burst)
        self._batcher: TurnBatcher[tuple[str, str, str], GuardVerdict] = TurnBatcher(
            self._check_batch, max_batch=GUARD_BATCH_MAX)

    async def check(self, *, address: str, user_id: str | None, session_id: str | None
                    ) -> GuardVerdict:
        prefix = self.settings.redis_prefix
        return await self._batcher.submit((
            revoked_session_key(self.settings, session_id) if session_id else "",
            f"{prefix}ratelimit:addr:{address}",
            f"{prefix}ratelimit:user:{user_id}" if user_id else ""))

    async def _check_batch(self, batch: list[tuple[str, str, str]]) -> list[GuardVerdict]:
        keys = [key for request_keys in batch for key in request_keys]
        try:
            # EVALSHA itself: the Script object's call costs a Protocol isinstance per call.
            flat = await self.redis.evalsha(self._script.sha, len(keys), *keys, *self._limit_args)
        except NoScriptError:
            await self.redis.script_load(GUARD_LUA)
            flat = await self.redis.evalsha(self._script.sha, len(keys), *keys, *self._limit_args)
        numbers = [int(x) for x in flat]
        return [GuardVerdict(revoked=bool(numbers[i]), allowed=bool(numbers[i + 1]),
                             remaining=numbers[i + 2], retry_after_ms=numbers[i + 3],
                             limit=numbers[i + 4])
                for i in range(0, len(numbers), 5)]

    async def aclose(self) -> None:
        await self._batcher.aclose()
