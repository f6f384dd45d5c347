"""The market-data service's settings (EPV_ prefix)."""

from epv_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "marketdata"
    port: int = 8004
