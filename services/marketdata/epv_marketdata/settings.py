"""The market-data service's settings (EPV_ prefix).

Lists come from the environment as JSON, e.g. `EPV_QUOTE_PROVIDERS='["finnhub","alphavantage"]'`.
A rate limit of 0 means "not limited by us" (the provider still answers Throttled).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from epv_common.settings import ServiceSettings
from epv_marketdata.providers import ALPHAVANTAGE_BASE_URL, ALPHAVANTAGE_MIN_INTERVAL, FINNHUB_BASE_URL

ProviderName = Literal["alphavantage", "finnhub"]
DATA_TYPES = ("quote", "overview", "fundamentals", "benchmarks")


class Settings(ServiceSettings):
    service_name: str = "marketdata"
    port: int = 8004

    # -- providers (keys never leave this object: SecretStr, redacted by the clients)
    alphavantage_api_key: SecretStr = SecretStr("")
    finnhub_api_key: SecretStr = SecretStr("")
    alphavantage_base_url: str = ALPHAVANTAGE_BASE_URL
    finnhub_base_url: str = FINNHUB_BASE_URL
    # AV's burst limit is about 1 request/s per key, so one replica spaces its own calls.
    alphavantage_min_interval_s: float = Field(ALPHAVANTAGE_MIN_INTERVAL, ge=0)
    provider_timeout_s: float = Field(10.0, gt=0)
    provider_retry_attempts: int = Field(3, ge=1, le=10)
    provider_retry_initial_wait_s: float = Field(0.5, ge=0)
    provider_retry_max_wait_s: float = Field(8.0, ge=0)
    http_max_connections: int = Field(100, ge=1)

    # -- fallback order per data type (benchmarks are derived from overview + fundamentals)
    quote_providers: list[ProviderName] = ["finnhub", "alphavantage"]
    overview_providers: list[ProviderName] = ["alphavantage", "finnhub"]
    fundamentals_providers: list[ProviderName] = ["alphavantage"]

    # -- per-provider rate limits, counted in Redis so every replica shares one budget
    alphavantage_calls_per_minute: int = Field(0, ge=0)
    alphavantage_calls_per_day: int = Field(25, ge=0)
    finnhub_calls_per_second: int = Field(30, ge=0)
    finnhub_calls_per_minute: int = Field(60, ge=0)

    # -- cache TTLs per data type (seconds)
    cache_ttl_quote_s: int = Field(60, ge=1)
    cache_ttl_overview_s: int = Field(24 * 3600, ge=1)
    cache_ttl_fundamentals_s: int = Field(24 * 3600, ge=1)
    cache_ttl_benchmarks_s: int = Field(6 * 3600, ge=1)
    # An unknown symbol is remembered briefly, so junk tickers do not spend provider quota.
    cache_ttl_unknown_s: int = Field(300, ge=1)

    # -- single flight across replicas
    # The lock outlives the slowest fetch (fundamentals: 5 AV calls 1 s apart, plus retries).
    singleflight_lock_ttl_s: float = Field(30.0, gt=0)
    # A waiter gives up and fetches itself after this long (lock holder stuck or dead).
    singleflight_wait_s: float = Field(20.0, gt=0)
    singleflight_poll_s: float = Field(0.02, gt=0)
    # Waiters that see the leader fail share its outcome for this long instead of stampeding.
    singleflight_failure_ttl_s: float = Field(2.0, gt=0)
    # After a Redis error the service stops asking Redis for this long (answers go on without it).
    redis_retry_after_s: float = Field(2.0, ge=0)

    @field_validator("quote_providers", "overview_providers", "fundamentals_providers")
    @classmethod
    def _no_duplicates(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a provider is listed twice")
        return value

    def providers_for(self, data_type: str) -> list[str]:
        return list(getattr(self, f"{data_type}_providers"))

    def ttl_for(self, data_type: str) -> int:
        return int(getattr(self, f"cache_ttl_{data_type}_s"))

    def rate_limits(self, provider: str) -> dict[str, int]:
        """{window: limit} for the windows that are limited (second, minute, day)."""
        limits = {window: getattr(self, f"{provider}_calls_per_{window}", 0)
                  for window in ("second", "minute", "day")}
        return {window: limit for window, limit in limits.items() if limit}
