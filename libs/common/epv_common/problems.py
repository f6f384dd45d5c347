"""RFC 9457 problem+json: the one place where errors become HTTP answers.

Every error a client can see has a stable `type` URI built from its code. Validation errors
list each field with the rule it breaks. An unexpected exception is a 500 problem that says
nothing of its cause to the client (the log has it, with the request id).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from epv_common import errors

PROBLEM_BASE = "https://epv-valuation.pro/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

log = structlog.get_logger("epv.problems")

STATUS_OF: dict[type[errors.EpvError], int] = {
    errors.InvalidInput: 422,
    errors.NotAuthenticated: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.PreconditionFailed: 412,
    errors.PreconditionRequired: 428,
    errors.RateLimited: 429,
    errors.DependencyUnavailable: 503,
    errors.DependencyTimeout: 504,
}

HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("not-authenticated", "Not authenticated"),
    403: ("permission-denied", "Permission denied"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid input"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal error"),
    502: ("bad-gateway", "Bad gateway"),
    503: ("dependency-unavailable", "Service unavailable"),
    504: ("dependency-timeout", "Gateway timeout"),
}


def status_for(exc: errors.EpvError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 500


def problem_type(code: str) -> str:
    return PROBLEM_BASE + code


def problem_body(
    status: int, code: str, title: str, detail: str, /, *, instance: str | None = None, **ext: Any
) -> dict[str, Any]:
    """The problem document. The four core members are positional-only, so an extension member
    may itself be called `code` or `title` (the engine's 422 carries a `code`)."""
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(ext)
    return body


def problem_response(
    status: int, code: str, title: str, detail: str, /, *, headers: dict[str, str] | None = None,
    instance: str | None = None, **ext: Any,
) -> Response:
    body = problem_body(status, code, title, detail, instance=instance, **ext)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


def http_problem(status: int, detail: str, *, headers: dict[str, str] | None = None, **ext) -> Response:
    code, title = HTTP_CODES.get(status, ("error", "Error"))
    return problem_response(status, code, title, detail, headers=headers, **ext)


def field_errors_from_pydantic(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors as [{field, rule, message}], field a dotted path without the 'body' root."""
    out = []
    for err in raw:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header", "cookie"}:
            where, loc = loc[0], loc[1:]
        else:
            where = "body"
        out.append(
            {
                "field": ".".join(loc) if loc else where,
                "in": where,
                "rule": err.get("type", "invalid"),
                "message": err.get("msg", "Invalid value"),
            }
        )
    return out


async def _epv_error(request: Request, exc: errors.EpvError) -> Response:
    status = status_for(exc)
    headers = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return problem_response(
        status, exc.code, exc.title, exc.detail,
        instance=request.url.path, headers=headers, **exc.extensions(),
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    field_errors = field_errors_from_pydantic(list(exc.errors()))
    return problem_response(
        422, "validation-error", "Invalid input",
        f"The request breaks {len(field_errors)} rule(s).",
        instance=request.url.path, errors=field_errors,
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) else HTTP_CODES.get(exc.status_code, ("", "Error"))[1]
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route matches {request.method} {request.url.path}."
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return http_problem(exc.status_code, detail, headers=getattr(exc, "headers", None),
                        instance=request.url.path)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    # A pool with no free connection in time, or a database that does not answer: the client
    # may retry, and nothing was half-done (the unit of work rolled back).
    log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__)
    return http_problem(503, "The database is busy or unavailable; retry shortly.",
                        headers={"Retry-After": "1"}, instance=request.url.path)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled_exception", path=request.url.path, exc_info=exc)
    return http_problem(500, "An unexpected error occurred; it has been logged with the request id.",
                        instance=request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.EpvError, _epv_error)
    for database_error in (SQLAlchemyTimeoutError, OperationalError, InterfaceError,
                           asyncpg.exceptions.ConnectionDoesNotExistError,
                           asyncpg.exceptions.CannotConnectNowError,
                           asyncpg.exceptions.TooManyConnectionsError,
                           asyncpg.exceptions.QueryCanceledError, ConnectionRefusedError):
        app.add_exception_handler(database_error, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
