"""How the services' answers become JSON: every route either has a response model, which
pydantic serializes (NaN and infinities as null), or builds its own Response. A route with
neither would go through json.dumps, which refuses NaN: a 500 for an odd figure."""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Iterable, Iterator

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import Response

from epv_common.service_app import create_service_app
from epv_common.settings import ServiceSettings

SERVICES = ("auth", "cases", "audit", "marketdata")


def api_routes(routes: Iterable) -> Iterator[APIRoute]:
    """Every APIRoute of an app, through included routers however FastAPI nests them."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
            continue
        included = getattr(route, "original_router", None) or route
        nested = getattr(included, "routes", None)
        if nested:
            yield from api_routes(nested)


def builds_its_own_response(route: APIRoute) -> bool:
    returns = inspect.signature(route.endpoint, eval_str=True).return_annotation
    return inspect.isclass(returns) and issubclass(returns, Response)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_has_a_response_model_or_builds_its_own_response(service):
    app_module = importlib.import_module(f"epv_{service}.app")
    settings = importlib.import_module(f"epv_{service}.settings").Settings()
    routes = list(api_routes(app_module.create_app(settings).routes))
    assert len(routes) > 5, "the walk must reach the service's routers"
    unsafe = [f"{sorted(r.methods)} {r.path}" for r in routes
              if r.response_model is None and not builds_its_own_response(r)
              and r.status_code != 204]
    assert unsafe == []


class Figures(BaseModel):
    value: float
    ceiling: float | None = None


async def test_nan_and_infinity_in_a_response_model_are_null():
    router = APIRouter()

    @router.get("/figures", response_model=Figures)
    async def figures() -> dict:
        return {"value": math.nan, "ceiling": math.inf}

    @router.get("/pages", response_model=list[Figures])
    async def pages() -> list[dict]:
        return [{"value": -math.inf}]

    async def never_started(_settings):  # routes here need no runtime
        raise AssertionError("the lifespan is not run by this test")

    app = create_service_app(ServiceSettings(service_name="test"), title="t", description="d",
                             version="0", start=never_started, routers=[router])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        figures_answer = await client.get("/figures")
        pages_answer = await client.get("/pages")
    assert (figures_answer.status_code, figures_answer.json()) == (
        200, {"value": None, "ceiling": None})
    assert figures_answer.headers["content-type"] == "application/json"
    assert pages_answer.json() == [{"value": None, "ceiling": None}]
