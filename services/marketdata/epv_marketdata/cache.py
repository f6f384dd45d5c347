"""The Redis side of market data: cached values, single flight, provider budgets, statistics.

Everything here is shared by every replica through Redis, and everything here is optional:
when Redis fails, each call answers "nothing cached / not throttled / go ahead" and the
service keeps serving from PostgreSQL and the providers. After a failure Redis is left alone
for `redis_retry_after_s`, so a dead Redis costs one timeout per window, not one per request.

Lookups (the hot path of every request) are batched: the lookups made while the event loop
runs its ready callbacks share one script call, so under load one round trip and one client
command serve many requests, and alone a lookup waits for nothing.

Single flight, for one (type, symbol):
1. In one process, concurrent misses share one asyncio future (no Redis traffic for them).
2. Across replicas, the process that wins `SET lock NX PX` fetches (the same script call
   returns the value instead when it was stored meanwhile, and a second script stores the
   fetched value and releases the lock in one round trip); the others poll the value
   key until it is filled, the leader leaves a short failure marker, the lock disappears
   (leader died: try to take it), or `singleflight_wait_s` passes (fetch without the lock).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from epv_common.redis import key as redis_key
from epv_common.turnbatch import TurnBatcher
from epv_marketdata import metrics
from epv_marketdata.settings import DATA_TYPES, Settings

log = structlog.get_logger("epv.marketdata.cache")

Entry = dict[str, Any]
_Lookup = tuple[str, str]  # data type, symbol

# The values of a batch of lookups, each counted as its type's hit or miss, in one round trip
# (KEYS: the stats hash, then the value keys; ARGV: the data type of each value key).
_LOOKUP = """
local values = redis.call('MGET', unpack(KEYS, 2))
local counts = {}
for i = 1, #KEYS - 1 do
  local field = ARGV[i] .. (values[i] and ':hits' or ':misses')
  counts[field] = (counts[field] or 0) + 1
end
for field, n in pairs(counts) do redis.call('HINCRBY', KEYS[1], field, n) end
return values
"""
# Delete the lock only if it is still ours (it may have expired and been taken by another).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Take the lock (KEYS[1]) for ARGV[1] with a TTL of ARGV[2] ms; if the value (KEYS[2]) was
# filled between our miss and our lock, give the lock back and return the value. Returns 0
# (another holds the lock), 1 (ours, nothing stored) or the stored value.
_ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local value = redis.call('GET', KEYS[2])
if value then
  redis.call('DEL', KEYS[1])
  return value
end
return 1
"""
# Store the value (KEYS[1] = ARGV[1], TTL ARGV[2] ms), then release the lock (KEYS[2]) if it
# is still ours (ARGV[3]).
_STORE_AND_RELEASE = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""
# Take `cost` from every window's budget, or from none if one would go over its limit.
_TAKE_BUDGET = """
for i, k in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', k) or '0')
  if used + tonumber(ARGV[1]) > tonumber(ARGV[1 + i * 2 - 1]) then return i end
end
for i, k in ipairs(KEYS) do
  redis.call('INCRBY', k, ARGV[1])
  redis.call('EXPIRE', k, ARGV[1 + i * 2])
end
return 0
"""

# Lookups per script call at most (Lua's unpack has a limit; a long script blocks Redis).
LOOKUP_BATCH_MAX = 256
WINDOW_SECONDS = {"second": 1, "minute": 60, "day": 86400}
TIMEOUTS_BEFORE_BYPASS = 20


class LeaderFailed(Exception):
    """The replica that fetched for this key failed; `marker` is what it left for waiters."""

    def __init__(self, marker: Entry) -> None:
        self.marker = marker
        super().__init__(marker.get("detail", "the fetch failed"))


class Cache:
    def __init__(self, redis: Redis | None, settings: Settings) -> None:
        self._redis = redis
        self._s = settings
        self._down_until = 0.0
        self._timeouts_in_a_row = 0
        self._local: dict[str, asyncio.Future[Entry]] = {}
        self._lookups: TurnBatcher[_Lookup, bytes | None] = TurnBatcher(
            self._get_many, max_batch=LOOKUP_BATCH_MAX)
        self._lookup = self._release = self._take = None
        self._acquire = self._store_and_release = None
        if redis is not None:
            self._lookup = redis.register_script(_LOOKUP)
            self._release = redis.register_script(_RELEASE)
            self._take = redis.register_script(_TAKE_BUDGET)
            self._acquire = redis.register_script(_ACQUIRE)
            self._store_and_release = redis.register_script(_STORE_AND_RELEASE)

    # -- availability ---------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._down_until

    def _failed(self, exc: BaseException, what: str, *, requests: int = 1) -> None:
        metrics.REDIS_ERRORS.labels(what).inc()
        if isinstance(exc, RedisTimeoutError):
            # A slow answer is often our own busy event loop, not Redis: only a run of them
            # opens the breaker. A refused or reset connection opens it at once.
            self._timeouts_in_a_row += requests
            if self._timeouts_in_a_row < TIMEOUTS_BEFORE_BYPASS:
                return
        if time.monotonic() >= self._down_until:
            log.warning("redis_unavailable", operation=what, error=type(exc).__name__)
        self._down_until = time.monotonic() + self._s.redis_retry_after_s

    def _k(self, *parts: str) -> str:
        return redis_key(self._s, "md", *parts)

    # -- values ---------------------------------------------------------------------------

    async def lookup(self, data_type: str, symbol: str) -> Entry | None:
        """The cached entry (counted as a hit) or None (counted as a miss)."""
        raw = await self._lookups.submit((data_type, symbol)) if self.available else None
        metrics.CACHE.labels(data_type, "hit" if raw is not None else "miss").inc()
        return orjson.loads(raw) if raw is not None else None

    async def _get_many(self, batch: list[_Lookup]) -> list[bytes | None]:
        """Lookups made in one turn of the event loop, in one script call (see lookup)."""
        keys = [self._k("stats"), *(self._k("v", data_type, symbol)
                                    for data_type, symbol in batch)]
        types = [data_type for data_type, _ in batch]
        metrics.LOOKUP_BATCH.observe(len(batch))
        try:
            # EVALSHA itself: the Script object's call costs a Protocol isinstance per call.
            try:
                values = await self._redis.evalsha(self._lookup.sha, len(keys), *keys, *types)
            except NoScriptError:
                await self._redis.script_load(_LOOKUP)
                values = await self._redis.evalsha(self._lookup.sha, len(keys), *keys, *types)
        except (RedisError, OSError) as exc:
            self._failed(exc, "lookup", requests=len(batch))
            return [None] * len(batch)
        self._timeouts_in_a_row = 0
        return values

    async def peek(self, data_type: str, symbol: str) -> Entry | None:
        if not self.available:
            return None
        try:
            raw = await self._redis.get(self._k("v", data_type, symbol))
        except (RedisError, OSError) as exc:
            self._failed(exc, "get")
            return None
        return orjson.loads(raw) if raw is not None else None

    async def store(self, data_type: str, symbol: str, entry: Entry, *, ttl_s: float) -> None:
        if not self.available:
            return
        try:
            await self._redis.set(self._k("v", data_type, symbol), orjson.dumps(entry),
                                  px=max(1, int(ttl_s * 1000)))
        except (RedisError, OSError) as exc:
            self._failed(exc, "set")

    async def stats(self) -> dict[str, dict[str, float]] | None:
        """Hits, misses and ratio per type as every replica counted them; None without Redis."""
        if not self.available:
            return None
        try:
            raw = await self._redis.hgetall(self._k("stats"))
        except (RedisError, OSError) as exc:
            self._failed(exc, "stats")
            return None
        counts = {k.decode(): int(v) for k, v in raw.items()}
        out: dict[str, dict[str, float]] = {}
        for data_type in DATA_TYPES:
            hits = counts.get(f"{data_type}:hits", 0)
            misses = counts.get(f"{data_type}:misses", 0)
            out[data_type] = {"hits": hits, "misses": misses,
                              "ratio": round(hits / (hits + misses), 4) if hits + misses else 0.0}
        return out

    # -- single flight --------------------------------------------------------------------

    async def single_flight(
        self, data_type: str, symbol: str,
        produce: Callable[[], Awaitable[tuple[Entry, float]]],
    ) -> tuple[Entry, bool]:
        """The entry for the key, fetched at most once at a time across replicas.

        `produce` fetches and returns (entry, ttl); it is called only by the leader. Returns
        (entry, produced_here). Raises what `produce` raised (leader) or LeaderFailed (waiter).
        """
        name = f"{data_type}:{symbol}"
        pending = self._local.get(name)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[tuple[Entry, bool]] = asyncio.get_running_loop().create_future()
        self._local[name] = future
        try:
            result = await self._across_replicas(data_type, symbol, produce)
        except BaseException as exc:
            future.set_exception(exc)
            # Nobody may be waiting; retrieve it so asyncio does not log it as lost.
            future.exception()
            raise
        else:
            future.set_result((result[0], False))
            return result
        finally:
            self._local.pop(name, None)

    async def _across_replicas(self, data_type: str, symbol: str,
                               produce: Callable[[], Awaitable[tuple[Entry, float]]]
                               ) -> tuple[Entry, bool]:
        lock = self._k("lock", data_type, symbol)
        value_key = self._k("v", data_type, symbol)
        fail_key = self._k("fail", data_type, symbol)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self._s.singleflight_wait_s
        while True:
            if not self.available:
                return await self._lead(data_type, symbol, produce, lock=None, token=token)
            try:
                got = await self._acquire(
                    keys=[lock, value_key],
                    args=[token, int(self._s.singleflight_lock_ttl_s * 1000)])
            except (RedisError, OSError) as exc:
                self._failed(exc, "lock")
                continue
            if isinstance(got, bytes):
                # Filled between our miss and our lock: no second provider call.
                return orjson.loads(got), False
            if got:
                return await self._lead(data_type, symbol, produce, lock=lock, token=token)
            metrics.SINGLEFLIGHT_WAITS.labels(data_type).inc()
            poll = self._s.singleflight_poll_s
            while time.monotonic() < deadline:
                await asyncio.sleep(poll)
                poll = min(poll * 1.5, 0.25)
                try:
                    value, failure, holder = await (
                        self._redis.pipeline(transaction=False)
                        .get(value_key).get(fail_key).exists(lock).execute())
                except (RedisError, OSError) as exc:
                    self._failed(exc, "wait")
                    break
                if value is not None:
                    return orjson.loads(value), False
                if failure is not None:
                    raise LeaderFailed(orjson.loads(failure))
                if not holder:
                    break  # the leader died without an answer: try to lead
            else:
                log.warning("singleflight_wait_timeout", data_type=data_type, symbol=symbol)
                metrics.SINGLEFLIGHT_TIMEOUTS.labels(data_type).inc()
                return await self._lead(data_type, symbol, produce, lock=None, token=token)

    async def _lead(self, data_type: str, symbol: str,
                    produce: Callable[[], Awaitable[tuple[Entry, float]]], *,
                    lock: str | None, token: str) -> tuple[Entry, bool]:
        try:
            entry, ttl_s = await produce()
        except Exception as exc:
            if lock is not None:
                marker = {"error": getattr(exc, "code", type(exc).__name__),
                          "detail": str(exc)[:500]}
                try:
                    await self._redis.set(self._k("fail", data_type, symbol),
                                          orjson.dumps(marker),
                                          px=int(self._s.singleflight_failure_ttl_s * 1000))
                except (RedisError, OSError) as redis_exc:
                    self._failed(redis_exc, "fail-marker")
                await self._unlock(lock, token)
            raise
        if lock is None:
            await self.store(data_type, symbol, entry, ttl_s=ttl_s)
        elif self.available:
            try:
                await self._store_and_release(
                    keys=[self._k("v", data_type, symbol), lock],
                    args=[orjson.dumps(entry), max(1, int(ttl_s * 1000)), token])
            except (RedisError, OSError) as exc:
                self._failed(exc, "set")
        return entry, True

    async def _unlock(self, lock: str, token: str) -> None:
        if not self.available:
            return
        try:
            await self._release(keys=[lock], args=[token])
        except (RedisError, OSError) as exc:
            self._failed(exc, "unlock")

    # -- provider state -------------------------------------------------------------------

    async def throttled_for(self, provider: str) -> float:
        """Seconds left in the provider's throttle window (0 when it may be called)."""
        if not self.available:
            return 0.0
        try:
            left = await self._redis.pttl(self._k("throttled", provider))
        except (RedisError, OSError) as exc:
            self._failed(exc, "throttle-get")
            return 0.0
        return left / 1000 if left and left > 0 else 0.0

    async def mark_throttled(self, provider: str, *, window: str | None,
                             retry_after: float | None) -> float:
        seconds = throttle_seconds(window, retry_after)
        if self.available:
            try:
                await self._redis.set(self._k("throttled", provider), window or "unknown",
                                      px=int(seconds * 1000))
            except (RedisError, OSError) as exc:
                self._failed(exc, "throttle-set")
        return seconds

    async def take_budget(self, provider: str, cost: int) -> str | None:
        """Counts `cost` calls against the provider's limits; the exhausted window, or None."""
        limits = self._s.rate_limits(provider)
        if not limits or not self.available:
            return None
        now = int(time.time())
        keys, args = [], [str(cost)]
        for window, limit in limits.items():
            size = WINDOW_SECONDS[window]
            keys.append(self._k("rate", provider, window, str(now // size)))
            args += [str(limit), str(size + 1)]
        try:
            over = await self._take(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._failed(exc, "rate")
            return None
        return list(limits)[int(over) - 1] if over else None


def throttle_seconds(window: str | None, retry_after: float | None) -> float:
    """How long to leave a throttled provider alone."""
    if retry_after and retry_after > 0:
        return min(float(retry_after), 86400.0)
    if window == "second":
        return 2.0
    if window == "day":
        now = datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(60.0, (midnight - now).total_seconds())
    return 60.0
