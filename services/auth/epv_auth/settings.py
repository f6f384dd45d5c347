"""The auth service's settings (EPV_ prefix)."""

from epv_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "auth"
    port: int = 8001
