"""Settings bases: every knob comes from the environment with the EPV_ prefix.

Each service composes one Settings class from these bases; every default works on a
developer machine with PostgreSQL, Redis and RabbitMQ on localhost.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ENVIRONMENTS = frozenset({"development", "test"})


class EnvSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EPV_", extra="ignore", frozen=True)


class PostgresSettings(EnvSettings):
    """The runtime role's DSN and the owner role's DSN (migrations only)."""

    database_url: str = ""
    migrations_database_url: str = ""
    # No overflow by default: an overflow connection is opened for one checkout and closed on
    # return, and that churn cost more than waiting for a pooled connection.
    db_pool_size: int = Field(10, ge=1, le=200)
    db_max_overflow: int = Field(0, ge=0, le=200)
    db_pool_timeout_s: float = Field(5.0, gt=0)
    db_statement_timeout_ms: int = Field(15_000, ge=0)


class RedisSettings(EnvSettings):
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Namespaces every key, so two deployments (or two test runs) share one Redis safely.
    redis_prefix: str = "epv:"
    redis_timeout_s: float = Field(1.0, gt=0)
    redis_max_connections: int = Field(64, ge=1, le=10_000)


class RabbitSettings(EnvSettings):
    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    # Namespaces the exchange and every queue, so two test runs share one broker safely.
    amqp_prefix: str = ""
    # The consumer acks only after a batch commits, so the prefetch bounds the batch and the
    # broker stalls while a batch commits unless it is about twice the batch (BATCH_MAX 256):
    # 64 gave 3,700 events/s, 512 gave 4,800-7,500 (bench `events`, consumer alone).
    consumer_prefetch: int = Field(512, ge=1, le=10_000)
    # How long a consumer waits after an event for more to share its transaction.
    consumer_batch_wait_ms: float = Field(25.0, ge=0, le=1_000)
    consumer_delivery_limit: int = Field(5, ge=1, le=100)
    outbox_batch_size: int = Field(500, ge=1, le=10_000)
    outbox_poll_interval_s: float = Field(1.0, gt=0)
    # How long the relay lets commits gather after a notification before it claims them:
    # one claim, publish and mark for several events instead of one each.
    outbox_linger_ms: float = Field(10.0, ge=0, le=1_000)
    outbox_purge_after_s: int = Field(3600, ge=0)

    @property
    def events_exchange(self) -> str:
        return f"{self.amqp_prefix}epv.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.amqp_prefix}epv.dlx"


class ServiceSettings(PostgresSettings, RedisSettings, RabbitSettings):
    """What every service has: identity, HTTP, logging and the three backends."""

    service_name: str = "epv"
    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    log_level: str = "INFO"
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    health_timeout_s: float = Field(1.0, gt=0)
    # New objects between young garbage collections (CPython's default is 700); see gctuning.
    gc_young_threshold: int = Field(10_000, ge=100, le=1_000_000)
    # Shared with the gateway: services accept identity headers only with this proof.
    internal_token: SecretStr = SecretStr("dev-internal-token-change-me")

    @property
    def runtime_dsn(self) -> str:
        return self.database_url or default_database_url(self.service_name)

    @property
    def owner_dsn(self) -> str:
        return self.migrations_database_url or default_database_url(self.service_name, owner=True)

    @property
    def is_dev(self) -> bool:
        return self.environment in DEV_ENVIRONMENTS

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_dev(self) -> ServiceSettings:
        if not self.is_dev and self.internal_token.get_secret_value().startswith("dev-"):
            raise ValueError("EPV_INTERNAL_TOKEN must be set outside development")
        return self


def default_database_url(service: str, *, owner: bool = False, database: str = "epv") -> str:
    """The local default DSN for a service's runtime (or owner) role."""
    role = f"epv_{service}_owner" if owner else f"epv_{service}"
    return f"postgresql+asyncpg://{role}:{role}@127.0.0.1:5432/{database}"


class TokenSettings(EnvSettings):
    """What auth (the signer) and the gateway (the verifier) must agree on."""

    jwt_issuer: str = "epv-auth"
    jwt_audience: str = "epv-api"
    jwt_algorithm: str = "RS256"
    access_token_ttl_s: int = Field(900, ge=60, le=86_400)
    # Clock skew tolerated between replicas when checking exp/iat.
    jwt_leeway_s: int = Field(30, ge=0, le=300)
