"""Prometheus metrics of the market-data service (served by the common /metrics endpoint)."""

from prometheus_client import Counter, Histogram

CACHE = Counter("epv_marketdata_cache_lookups_total", "Cache lookups by data type and result",
                ["type", "result"])
PROVIDER_CALLS = Counter("epv_marketdata_provider_calls_total",
                         "Provider calls by provider, data type and outcome",
                         ["provider", "type", "outcome"])
PROVIDER_LATENCY = Histogram("epv_marketdata_provider_call_seconds", "Provider call duration",
                             ["provider", "type"],
                             buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
PROVIDER_SKIPS = Counter("epv_marketdata_provider_skips_total",
                         "Providers skipped (throttle window or our rate limit)",
                         ["provider", "reason"])
STALE_SERVED = Counter("epv_marketdata_stale_served_total", "Last good values served stale",
                       ["type"])
SINGLEFLIGHT_WAITS = Counter("epv_marketdata_singleflight_waits_total",
                             "Misses that waited for another replica's fetch", ["type"])
SINGLEFLIGHT_TIMEOUTS = Counter("epv_marketdata_singleflight_timeouts_total",
                                "Waits that timed out and fetched without the lock", ["type"])
REDIS_ERRORS = Counter("epv_marketdata_redis_errors_total", "Redis operations that failed",
                       ["operation"])
