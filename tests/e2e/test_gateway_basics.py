"""The gateway as a client meets it: health, request ids, problems, docs."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_health_reports_five_services_and_three_dependencies(gateway):
    response = await gateway.get("/api/health")
    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "up"
    assert set(report["services"]) == {"gateway", "auth", "cases", "audit", "marketdata"}
    assert all(s["status"] == "up" for s in report["services"].values())
    assert set(report["dependencies"]) == {"postgres", "redis", "rabbitmq"}
    for dependency in report["dependencies"].values():
        assert dependency["status"] == "up"
        assert dependency["latency_ms"] >= 0


async def test_request_id_is_kept_from_the_client(gateway):
    response = await gateway.get("/api/health", headers={"X-Request-ID": "client-chosen-42"})
    assert response.headers["x-request-id"] == "client-chosen-42"


async def test_request_id_is_made_when_absent_or_unsafe(gateway):
    made = await gateway.get("/api/nothing-here")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    unsafe = await gateway.get("/api/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"


async def test_request_id_reaches_the_service_through_the_proxy(gateway):
    response = await gateway.post("/api/auth/register", json={},
                                  headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 422
    assert response.headers["x-request-id"] == "trace-me-1"


async def test_unknown_route_is_a_404_problem(gateway):
    response = await gateway.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/not-found")
    assert body["status"] == 404


async def test_anonymous_call_of_a_protected_route_is_a_401_problem(gateway):
    response = await gateway.get("/api/cases")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["type"].endswith("/not-authenticated")


async def test_wrong_method_is_a_405_problem_from_the_service(system):
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.delete(system.url("auth") + "/api/auth/register")
    assert response.status_code == 405
    assert response.json()["type"].endswith("/method-not-allowed")


async def test_non_json_body_is_a_415_problem(gateway):
    response = await gateway.post("/api/auth/register", content=b"email=a",
                                  headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert response.json()["type"].endswith("/unsupported-media-type")


async def test_oversized_body_is_a_413_problem(gateway):
    response = await gateway.post("/api/auth/register", content=b"x" * (6 * 1024 * 1024),
                                  headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")


async def test_malformed_json_is_a_422_problem_not_a_500(gateway):
    response = await gateway.post("/api/auth/register", content=b"{not json",
                                  headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["type"].endswith("/validation-error")


async def test_validation_problem_lists_each_field(gateway):
    response = await gateway.post("/api/auth/register", json={"email": "nope", "name": 7})
    assert response.status_code == 422
    body = response.json()
    fields = {e["field"]: e["rule"] for e in body["errors"]}
    assert set(fields) == {"email", "password", "name"}
    assert fields["password"] == "missing"
    assert "Traceback" not in response.text


async def test_openapi_merges_every_service(gateway):
    document = (await gateway.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert "/api/auth/register" in paths
    assert "/api/cases" in paths
    assert "/api/audit/logs" in paths
    assert "not answering" not in document["info"]["description"]


async def test_docs_page_loads_without_a_cdn(gateway):
    page = await gateway.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, "the docs page references its assets"
    for source in sources:
        assert source.startswith("/docs/static/"), f"{source} is not served locally"
        asset = await gateway.get(source)
        assert asset.status_code == 200
        assert len(asset.content) > 1000
