"""Ended sessions, as the gateway must see them from the very next request.

A published contract between auth (the writer) and the gateway (the reader): auth writes a
revocation record for every session it ends (logout, refresh-token reuse, deactivation, role
change, password change) BEFORE it answers, and keeps it as long as any access token of that
session can still be valid. The gateway refuses a token whose session has a record.
"""

from __future__ import annotations

from redis.asyncio import Redis

from epv_common.settings import RedisSettings, TokenSettings


def revoked_session_key(settings: RedisSettings, session_id: str) -> str:
    return f"{settings.redis_prefix}revoked:session:{session_id}"


def record_ttl_s(tokens: TokenSettings) -> int:
    """Long enough to outlive every access token already issued for the session."""
    return tokens.access_token_ttl_s + tokens.jwt_leeway_s + 60


async def revoke_sessions(redis: Redis, settings: RedisSettings, tokens: TokenSettings,
                          session_ids: list[str], *, reason: str) -> None:
    """Raises if Redis does not take every record: the caller must then not answer success."""
    if not session_ids:
        return
    ttl = record_ttl_s(tokens)
    async with redis.pipeline(transaction=False) as pipe:
        for sid in session_ids:
            pipe.set(revoked_session_key(settings, sid), reason, ex=ttl)
        await pipe.execute()


async def is_revoked(redis: Redis, settings: RedisSettings, session_id: str) -> bool:
    return bool(await redis.exists(revoked_session_key(settings, session_id)))
