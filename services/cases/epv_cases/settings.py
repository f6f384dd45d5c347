"""The cases service's settings (EPV_ prefix)."""

from epv_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "cases"
    port: int = 8002
    # The legacy import answers 413 only above 10 MiB (shared/fixtures/legacy/README.md).
    max_body_bytes: int = 10 * 1024 * 1024
