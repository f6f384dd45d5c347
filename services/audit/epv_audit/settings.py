"""The audit service's settings (EPV_ prefix)."""

from epv_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "audit"
    port: int = 8003
