"""Every case and edge case of epv-vectors.json, reproduced through the API: the vector's input
becomes a case's financial_data, POST .../analyses runs it, GET reads it back, all within the
reference's tolerance (epv-method.md section 12).

An input that breaks the structural rules (a string revenue, a year that is not an object,
WACC 9) cannot be stored as a case at all: POST /api/cases answers 422 naming the same code
(as the field error's rule) at the same field, under `financial_data.`. Every other failing
vector answers the analysis with a 422 problem carrying the engine's code and field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cases.casekit import VECTORS_PATH, seed_user

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

VECTORS = json.loads(VECTORS_PATH.read_text())
ENTRIES = VECTORS["cases"] + VECTORS["edge_cases"]

# Section 11's classes, as the tolerance of section 12 needs them.
EXACT = {"method_version", "latest_fiscal_year", "years_used", "window_years",
         "one_off_treatment", "revenue_basis", "tax_rate_source", "maintenance_capex_method",
         "wacc_source", "franchise_signal"}
RATIOS = {"operating_margins", "normalized_operating_margin", "normalized_tax_rate",
          "ppe_to_revenue_ratios", "avg_ppe_to_revenue", "cost_of_equity",
          "after_tax_cost_of_debt", "wacc", "franchise_ratio", "return_on_capital",
          "growth_rate", "margin_of_safety", "price_to_epv"}


def _close(actual: Any, expected: Any, decimals: int, path: str) -> list[str]:
    if expected is None or actual is None:
        return [] if actual is expected else [f"{path}: {actual!r} != {expected!r}"]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {actual!r} != {expected!r}"]
        return [m for i, (a, e) in enumerate(zip(actual, expected, strict=True))
                for m in _close(a, e, decimals, f"{path}[{i}]")]
    tolerance = 0.5 * 10 ** -decimals + 1e-9 * max(1.0, abs(expected))
    return [] if abs(actual - expected) <= tolerance else [f"{path}: {actual!r} != {expected!r}"]


def figure_mismatches(actual: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    out = [f"missing figure {n}" for n in expected if n not in actual]
    out += [f"extra figure {n}" for n in actual if n not in expected]
    for name, want in expected.items():
        got = actual.get(name)
        if name in EXACT:
            if got != want or type(got) is not type(want):
                out.append(f"{name}: {got!r} != {want!r}")
        elif name == "sensitivity":
            out += _close(got["wacc_values"], want["wacc_values"], 8, "sensitivity.wacc_values")
            out += _close(got["margin_values"], want["margin_values"], 8,
                          "sensitivity.margin_values")
            out += _close(got["epv_per_share"], want["epv_per_share"], 4,
                          "sensitivity.epv_per_share")
        else:
            out += _close(got, want, 8 if name in RATIOS else 4, name)
    return out


def warning_set(warnings: list[dict[str, Any]]) -> set[tuple[str, str | None]]:
    return {(w["code"], w["field"]) for w in warnings}


@pytest.mark.parametrize("vector", ENTRIES, ids=[v["id"] for v in ENTRIES])
async def test_vector_through_the_api(cases, system, vector):
    owner = await seed_user(system)
    expected = vector["expected"]
    created = await cases.post("/api/cases", headers=owner.headers, json={
        "name": vector["id"], "financial_data": vector["input"]})

    if created.status_code == 422:
        assert expected["status"] == "error", created.text
        error = expected["error"]
        assert {"field": f"financial_data.{error['field']}", "rule": error["code"]} in [
            {"field": e["field"], "rule": e["rule"]} for e in created.json()["errors"]]
        return
    assert created.status_code == 201, created.text
    url = f"/api/cases/{created.json()['id']}/analyses"
    response = await cases.post(url, json={}, headers=owner.headers)

    if expected["status"] == "error":
        assert response.status_code == 422, response.text
        problem = response.json()
        assert (problem["code"], problem["field"]) == (expected["error"]["code"],
                                                      expected["error"]["field"])
        assert problem["type"].endswith("/" + expected["error"]["code"].lower().replace("_", "-"))
        listed = await cases.get(url, headers=owner.headers)
        assert listed.json()["items"] == []
        return

    assert response.status_code == 201, response.text
    stored = response.json()
    assert figure_mismatches(stored["figures"], expected["figures"]) == []
    assert warning_set(stored["warnings"]) == warning_set(expected["warnings"])
    assert stored["inputs"] == vector["input"]
    read_back = await cases.get(f"{url}/{stored['id']}", headers=owner.headers)
    assert read_back.status_code == 200 and read_back.json() == stored
