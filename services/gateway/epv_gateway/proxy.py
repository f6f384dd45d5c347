"""Forwards a request to its service over one shared aiohttp session (keep-alive pool).

Bodies stream both ways; small requests and responses with a known length are read whole,
which costs less than streaming them. Identity headers a client sends are always stripped: only the
gateway sets them. A service that refuses the connection is a 503 problem; one that does not
answer in time, a 504 problem.
"""

from __future__ import annotations

import aiohttp
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from epv_common.identity import IDENTITY_HEADERS
from epv_common.problems import http_problem
from epv_common.requestctx import current_request_id, current_traceparent

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "host", "content-length",
})
# Identity is the gateway's to state; the bearer token stops here (services get identity
# headers instead); the forwarding headers are rebuilt from what the gateway knows.
STRIPPED_FROM_CLIENT = HOP_BY_HOP | set(IDENTITY_HEADERS) | {
    "x-request-id", "traceparent", "authorization", "x-forwarded-for", "x-real-ip"}
STRIPPED_FROM_UPSTREAM = HOP_BY_HOP | {"x-request-id", "server", "date"}
READ_WHOLE_BELOW = 256 * 1024


def create_session(*, pool_size: int, per_service: int, connect_timeout_s: float
                   ) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=pool_size, limit_per_host=per_service,
                                     ttl_dns_cache=300, keepalive_timeout=30)
    return aiohttp.ClientSession(
        connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(sock_connect=connect_timeout_s), skip_auto_headers=(
            "User-Agent", "Accept-Encoding"))


def forward_headers(request: Request, identity: dict[str, str], *, address: str
                    ) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k not in STRIPPED_FROM_CLIENT}
    headers["x-request-id"] = current_request_id() or ""
    headers["traceparent"] = current_traceparent() or ""
    headers["x-forwarded-for"] = address
    headers["x-real-ip"] = address
    headers.update(identity)
    return headers


async def _request_body(request: Request):
    """A small body of known length is read whole and sent with its length: streaming it made
    the request chunked, which cost both the gateway and the service more than the bytes."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) < READ_WHOLE_BELOW:
        return await request.body() if length != "0" else None
    if length is not None and length != "0" or "transfer-encoding" in request.headers:
        return request.stream()
    return None


async def forward(request: Request, *, session: aiohttp.ClientSession, base_url: str,
                  service: str, identity: dict[str, str], address: str, timeout_s: float
                  ) -> Response:
    url = base_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    data = await _request_body(request)
    try:
        upstream = await session.request(
            request.method, url, headers=forward_headers(request, identity, address=address), data=data,
            allow_redirects=False, timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=2.0, sock_read=timeout_s))
    except (TimeoutError, aiohttp.ServerTimeoutError):
        return http_problem(504, f"The {service} service did not answer in time.",
                            service=service)
    except (aiohttp.ClientConnectionError, OSError):
        return http_problem(503, f"The {service} service is unavailable.", service=service)

    # A list, not a dict: Set-Cookie and other repeated headers must all come through.
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
               for k, v in upstream.headers.items() if k.lower() not in STRIPPED_FROM_UPSTREAM]
    length = upstream.content_length
    if length is not None and length < READ_WHOLE_BELOW:
        try:
            body = await upstream.read()
        except (TimeoutError, aiohttp.ClientError):
            upstream.release()
            return http_problem(504, f"The {service} service did not finish its answer in time.",
                                service=service)
        finally:
            upstream.release()
        response = Response(body, status_code=upstream.status)
        response.raw_headers.extend(headers)
        return response

    async def stream():
        try:
            async for chunk in upstream.content.iter_any():
                yield chunk
        finally:
            upstream.release()

    response = StreamingResponse(stream(), status_code=upstream.status)
    response.raw_headers.extend(headers)
    return response
