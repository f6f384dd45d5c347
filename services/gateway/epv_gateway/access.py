"""Which requests need no token, and who the caller is by address."""

from __future__ import annotations

from starlette.requests import Request

PUBLIC: frozenset[tuple[str, str]] = frozenset({
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/password-setup"),  # the one-time token in the body is the credential
    ("GET", "/.well-known/jwks.json"),
})


def is_public(method: str, path: str) -> bool:
    return (method, path.rstrip("/") or "/") in PUBLIC


def client_address(request: Request, *, trusted_proxy_hops: int) -> str:
    """The caller's address: the socket peer, or with trusted proxies in front, the entry
    they appended to X-Forwarded-For (a client can prepend anything it likes, never append)."""
    peer = request.client.host if request.client else "unknown"
    if trusted_proxy_hops == 0:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    if len(hops) >= trusted_proxy_hops:
        return hops[-trusted_proxy_hops]
    return peer
