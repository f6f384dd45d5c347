"""The cases service's settings (EPV_ prefix)."""

from epv_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "cases"
    port: int = 8002
