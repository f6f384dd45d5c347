"""Cursor pagination: opaque cursors over a sort key, and a hard maximum page size."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from epv_common.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: str | None = None

    def position(self) -> dict[str, Any] | None:
        return decode_cursor(self.cursor) if self.cursor else None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512, description="From next_cursor")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(position, dict):
        raise _bad_cursor()
    return position


def _bad_cursor() -> InvalidInput:
    return InvalidInput(errors=[{"field": "cursor", "in": "query", "rule": "cursor_invalid",
                                 "message": "The cursor is not one this API issued."}])


def page_of(rows: list[T], *, limit: int, position_of) -> dict[str, Any]:
    """A page from `limit + 1` fetched rows (the extra row only says there is more), as the
    plain {"items", "next_cursor"} the route's response model validates: building a Page
    model here as well would validate every item twice."""
    has_more = len(rows) > limit
    items = rows[:limit]
    next_cursor = encode_cursor(position_of(items[-1])) if has_more and items else None
    return {"items": items, "next_cursor": next_cursor}
