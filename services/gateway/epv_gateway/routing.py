"""Which service answers which public path."""

from __future__ import annotations

ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/auth", "auth"),
    ("/api/users", "auth"),
    ("/api/admin", "auth"),
    ("/.well-known/jwks.json", "auth"),
    ("/api/cases", "cases"),
    ("/api/migrate", "cases"),
    ("/api/audit", "audit"),
    ("/api/market-data", "marketdata"),
)


def service_for(path: str) -> str | None:
    for prefix, service in ROUTES:
        if path == prefix or path.startswith(prefix + "/") or (
                prefix == "/api/market-data" and path.startswith(prefix)):
            return service
    return None
