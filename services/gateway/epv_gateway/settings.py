"""The gateway's settings (EPV_ prefix): where each service lives and how long to wait."""

from pydantic import Field

from epv_common.settings import ServiceSettings, TokenSettings


class Settings(ServiceSettings, TokenSettings):
    service_name: str = "gateway"
    port: int = 8000
    auth_url: str = "http://127.0.0.1:8001"
    cases_url: str = "http://127.0.0.1:8002"
    audit_url: str = "http://127.0.0.1:8003"
    marketdata_url: str = "http://127.0.0.1:8004"
    upstream_timeout_s: float = Field(30.0, gt=0)
    upstream_connect_timeout_s: float = Field(2.0, gt=0)
    upstream_pool_size: int = Field(200, ge=1)
    # In-flight requests per service: past it requests queue in the gateway (cheap) instead of
    # piling onto a service whose event loop and database pool would only slow down for all.
    upstream_concurrency_per_service: int = Field(32, ge=1)
    openapi_cache_s: float = Field(30.0, ge=0)
    jwks_min_refetch_s: float = Field(1.0, ge=0, le=30)
    token_cache_size: int = Field(10_000, ge=0)
    rate_limit_address_per_s: float = Field(100.0, gt=0)
    rate_limit_address_burst: int = Field(200, ge=1)
    rate_limit_user_per_s: float = Field(50.0, gt=0)
    rate_limit_user_burst: int = Field(100, ge=1)
    # How many proxies in front of the gateway append to X-Forwarded-For (0: trust none).
    trusted_proxy_hops: int = Field(0, ge=0, le=5)

    def service_urls(self) -> dict[str, str]:
        return {"auth": self.auth_url, "cases": self.cases_url, "audit": self.audit_url,
                "marketdata": self.marketdata_url}
