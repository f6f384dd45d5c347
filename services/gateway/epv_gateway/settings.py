"""The gateway's settings (EPV_ prefix): where each service lives and how long to wait."""

from pydantic import Field

from epv_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000
    auth_url: str = "http://127.0.0.1:8001"
    cases_url: str = "http://127.0.0.1:8002"
    audit_url: str = "http://127.0.0.1:8003"
    marketdata_url: str = "http://127.0.0.1:8004"
    upstream_timeout_s: float = Field(30.0, gt=0)
    upstream_connect_timeout_s: float = Field(2.0, gt=0)
    upstream_pool_size: int = Field(200, ge=1)
    openapi_cache_s: float = Field(30.0, ge=0)

    def service_urls(self) -> dict[str, str]:
        return {"auth": self.auth_url, "cases": self.cases_url, "audit": self.audit_url,
                "marketdata": self.marketdata_url}
