"""One error root for every service; HTTP statuses are chosen once, at the edge (problems.py).

    EpvError                      message template + context; `code` is the stable problem slug
    ├── InvalidInput              the request is well-formed but breaks a rule (422)
    │     └── carries field errors: [{field, rule, message}]
    ├── NotAuthenticated          no valid credentials (401)
    ├── PermissionDenied          authenticated, not allowed (403)
    ├── NotFound                  the thing does not exist, or the caller may not see it (404)
    ├── Conflict                  clashes with the current state (409)
    ├── Gone                      existed, now removed past recovery (410)
    ├── PreconditionFailed        If-Match no longer matches (412)
    ├── PreconditionRequired      a write that needs If-Match came without it (428)
    ├── RateLimited               too many attempts; retry_after seconds (429)
    ├── DependencyUnavailable     PostgreSQL, Redis, RabbitMQ or a service is down (503)
    └── DependencyTimeout         a dependency did not answer in time (504)

A service subclasses these with its own `code` and `template`; it never picks a status.
"""

from __future__ import annotations

from typing import Any, ClassVar


class EpvError(Exception):
    code: ClassVar[str] = "error"
    title: ClassVar[str] = "Error"
    template: ClassVar[str] = "An error occurred."

    def __init__(self, detail: str | None = None, /, **context: Any) -> None:
        self.context = context
        self.detail = detail if detail is not None else self._render(context)
        super().__init__(self.detail)

    def _render(self, context: dict[str, Any]) -> str:
        try:
            return self.template.format(**context)
        except (KeyError, IndexError):
            return self.template

    def extensions(self) -> dict[str, Any]:
        """Extra problem members; a subclass adds what a client can act on."""
        return {}


class InvalidInput(EpvError):
    code = "validation-error"
    title = "Invalid input"
    template = "The request breaks {count} rule(s)."

    def __init__(
        self, detail: str | None = None, /, *, errors: list[dict[str, Any]] | None = None, **ctx: Any
    ) -> None:
        self.errors = errors or []
        super().__init__(detail, count=len(self.errors), **ctx)

    def extensions(self) -> dict[str, Any]:
        return {"errors": self.errors}


class NotAuthenticated(EpvError):
    code = "not-authenticated"
    title = "Not authenticated"
    template = "Valid credentials are required."


class PermissionDenied(EpvError):
    code = "permission-denied"
    title = "Permission denied"
    template = "You are not allowed to do this."


class NotFound(EpvError):
    code = "not-found"
    title = "Not found"
    template = "The {entity} was not found."

    def __init__(self, detail: str | None = None, /, *, entity: str = "resource", **ctx: Any):
        super().__init__(detail, entity=entity, **ctx)


class Conflict(EpvError):
    code = "conflict"
    title = "Conflict"
    template = "The request conflicts with the current state."


class Gone(EpvError):
    code = "gone"
    title = "Gone"
    template = "The {entity} is gone."


class PreconditionFailed(EpvError):
    code = "precondition-failed"
    title = "Precondition failed"
    template = "The resource changed since you read it (If-Match does not match)."


class PreconditionRequired(EpvError):
    code = "precondition-required"
    title = "Precondition required"
    template = "This write needs an If-Match header with the current ETag."


class RateLimited(EpvError):
    code = "rate-limited"
    title = "Too many requests"
    template = "Too many requests; retry after {retry_after} s."

    def __init__(self, detail: str | None = None, /, *, retry_after: int, **ctx: Any) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(detail, retry_after=self.retry_after, **ctx)

    def extensions(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}


class DependencyUnavailable(EpvError):
    code = "dependency-unavailable"
    title = "Service unavailable"
    template = "{dependency} is unavailable."

    def __init__(self, detail: str | None = None, /, *, dependency: str = "A dependency", **ctx):
        super().__init__(detail, dependency=dependency, **ctx)


class DependencyTimeout(EpvError):
    code = "dependency-timeout"
    title = "Gateway timeout"
    template = "{dependency} did not answer in time."

    def __init__(self, detail: str | None = None, /, *, dependency: str = "A dependency", **ctx):
        super().__init__(detail, dependency=dependency, **ctx)
