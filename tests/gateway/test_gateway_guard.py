"""The gateway's per-request guard on real Redis: revoked sessions, token buckets per address
and per user, shared by every gateway replica through Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from epv_common.revocation import revoke_sessions
from epv_common.settings import RedisSettings, TokenSettings
from epv_common.testing.backends import local_backends
from epv_gateway.guard import RateLimits, RequestGuard


@pytest_asyncio.fixture(loop_scope="session")
async def redis_and_settings():
    settings = RedisSettings(redis_url=local_backends().redis_url,
                             redis_prefix=f"epvtest:guard:{uuid.uuid4().hex[:8]}:")
    redis = Redis.from_url(settings.redis_url)
    try:
        yield redis, settings
    finally:
        keys = [k async for k in redis.scan_iter(match=settings.redis_prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def guard(redis, settings, **limits) -> RequestGuard:
    values = {"address_per_s": 1.0, "address_burst": 5, "user_per_s": 1.0, "user_burst": 3}
    return RequestGuard(redis, settings, RateLimits(**{**values, **limits}))


async def test_an_address_gets_its_burst_then_429_with_a_retry_hint(redis_and_settings):
    redis, settings = redis_and_settings
    check = guard(redis, settings)
    verdicts = [await check.check(address="10.9.9.1", user_id=None, session_id=None)
                for _ in range(7)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False] * 2
    assert [v.remaining for v in verdicts[:5]] == [4, 3, 2, 1, 0]
    assert verdicts[-1].retry_after_ms > 0
    assert verdicts[0].limit == 5


async def test_addresses_have_separate_buckets(redis_and_settings):
    redis, settings = redis_and_settings
    check = guard(redis, settings, address_burst=1)
    assert (await check.check(address="10.0.0.1", user_id=None, session_id=None)).allowed
    assert not (await check.check(address="10.0.0.1", user_id=None, session_id=None)).allowed
    assert (await check.check(address="10.0.0.2", user_id=None, session_id=None)).allowed


async def test_a_user_is_limited_across_addresses(redis_and_settings):
    redis, settings = redis_and_settings
    check = guard(redis, settings, address_burst=100, user_burst=3)
    user = str(uuid.uuid4())
    allowed = [(await check.check(address=f"10.1.0.{i}", user_id=user,
                                  session_id=str(uuid.uuid4()))).allowed for i in range(5)]
    assert allowed == [True, True, True, False, False]


async def test_two_replicas_share_one_bucket(redis_and_settings):
    redis, settings = redis_and_settings
    replica_a, replica_b = guard(redis, settings, address_burst=4), guard(redis, settings,
                                                                          address_burst=4)
    results = []
    for i in range(6):
        replica = replica_a if i % 2 else replica_b
        results.append((await replica.check(address="10.2.0.1", user_id=None,
                                            session_id=None)).allowed)
    assert results.count(True) == 4


async def test_a_revoked_session_is_refused_from_the_next_request(redis_and_settings):
    redis, settings = redis_and_settings
    check = guard(redis, settings, address_burst=100, user_burst=100)
    session = str(uuid.uuid4())
    assert not (await check.check(address="10.3.0.1", user_id="u", session_id=session)).revoked
    await revoke_sessions(redis, settings, TokenSettings(), [session], reason="logout")
    assert (await check.check(address="10.3.0.1", user_id="u", session_id=session)).revoked
    ttl = await redis.ttl(f"{settings.redis_prefix}revoked:session:{session}")
    assert ttl > TokenSettings().access_token_ttl_s


async def _script_calls(redis: Redis) -> int:
    return (await redis.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)


async def test_requests_arriving_together_share_one_script_call_and_each_gets_its_verdict(
        redis_and_settings):
    redis, settings = redis_and_settings
    check = guard(redis, settings, address_burst=3, user_burst=100)
    revoked = str(uuid.uuid4())
    await revoke_sessions(redis, settings, TokenSettings(), [revoked], reason="logout")
    calls_before = await _script_calls(redis)
    verdicts = await asyncio.gather(
        *(check.check(address="10.4.0.1", user_id=None, session_id=None) for _ in range(5)),
        check.check(address="10.4.0.2", user_id="u", session_id=revoked),
        check.check(address="10.4.0.3", user_id="u", session_id=str(uuid.uuid4())))
    # other clients of this Redis may call scripts too; ours add one call, not seven
    assert await _script_calls(redis) - calls_before < 4
    assert [v.allowed for v in verdicts[:5]] == [True, True, True, False, False]
    assert [v.remaining for v in verdicts[:3]] == [2, 1, 0]
    assert verdicts[5].revoked and not verdicts[6].revoked and verdicts[6].allowed


async def test_a_batch_that_fails_fails_each_of_its_requests_and_the_next_batch_works(
        redis_and_settings):
    _, settings = redis_and_settings
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    check = guard(unreachable, settings)
    outcomes = await asyncio.gather(
        *(check.check(address="10.5.0.1", user_id=None, session_id=None) for _ in range(3)),
        return_exceptions=True)
    assert all(isinstance(o, RedisConnectionError) for o in outcomes)
    await unreachable.aclose()
    redis, _ = redis_and_settings
    check.redis = redis
    assert (await check.check(address="10.5.0.1", user_id=None, session_id=None)).allowed
