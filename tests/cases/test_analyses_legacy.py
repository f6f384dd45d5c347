"""The legacy fixture, imported through POST /api/migrate/data, analyses as its README says:
FinancialDatasetV1 cases through the section-15 mapping (figures and warnings), #7 and #8
fail with the named error; imported legacy analyses are listed with origin kind `legacy` and
are never recomputed."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from tests.cases.casekit import LEGACY_EXPORT_PATH, seed_user
from tests.cases.test_analyses_api import as_the_model_writes_it

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

EXPORT = json.loads(LEGACY_EXPORT_PATH.read_text())
NO_BALANCE_SHEET = ("LEGACY_NO_BALANCE_SHEET", "financialData")

# The README's "End-to-end figures" (rounded to 4 decimals; wacc a ratio).
FIGURES = {
    "Harbor Aesthetics (2 locations)": (0.14, 303671.9896, 2169085.6400, 1386315.6400),
    "Lumen Skin & Laser": (0.15, 141136.2114, 940908.0763, 779448.0763),
    "Harbor Aesthetics (what if: third location)": (0.14, 303671.9896, 2169085.6400,
                                                    886315.6400),
    "Birchwood Dermatology & Spa": (0.15, 141136.2114, 940908.0763, 779448.0763),
    "Lumen Skin & Laser (bear case)": (0.17, 106601.7471, 627069.1008, 465609.1008),
    "Solstice MedSpa": (0.13, 303671.9896, 2335938.3816, 2103168.3816),
}
FAILURES = {
    "Coastal Wellness Clinic": ("INSUFFICIENT_HISTORY", "fiscal_years"),
    "Aurora Laser Studio": ("MISSING_FIELD", "assumptions.wacc"),
}


def close(actual: float, expected: float, decimals: int) -> bool:
    return abs(actual - expected) <= 0.5 * 10 ** -decimals + 1e-9 * max(1.0, abs(expected))


@pytest_asyncio.fixture(loop_scope="session")
async def imported(cases, system):
    owner = await seed_user(system)
    response = await cases.post("/api/migrate/data", json={"localStorageData": EXPORT},
                                headers=owner.headers)
    assert response.status_code == 200, response.text
    listed = await cases.get("/api/cases", params={"scope": "owned", "limit": 50},
                             headers=owner.headers)
    by_name = {c["name"]: c["id"] for c in listed.json()["items"]}
    assert len(by_name) == 8
    return owner, by_name


async def test_imported_cases_analyse_through_the_section_15_mapping(cases, imported):
    owner, by_name = imported
    for name, (wacc, adjusted, epv_ops, epv_equity) in FIGURES.items():
        url = f"/api/cases/{by_name[name]}/analyses"
        response = await cases.post(url, json={}, headers=owner.headers)
        assert response.status_code == 201, (name, response.text)
        analysis = response.json()
        figures = analysis["figures"]
        assert close(figures["wacc"], wacc, 8), name
        assert close(figures["adjusted_earnings"], adjusted, 4), name
        assert close(figures["epv_operations"], epv_ops, 4), name
        assert close(figures["epv_equity"], epv_equity, 4), name
        warnings = [(w["code"], w["field"]) for w in analysis["warnings"]]
        assert NO_BALANCE_SHEET in warnings, name
        if name == "Lumen Skin & Laser":
            assert ("LEGACY_PERCENT_SCALED", "epvInputs.wacc") in warnings
            assert warnings.index(("LEGACY_PERCENT_SCALED", "epvInputs.wacc")) < \
                warnings.index(NO_BALANCE_SHEET)
        # The stored input is the mapped document of section 2, not the V1 dataset.
        assert analysis["inputs"]["company"]["units"] == "units"
        assert analysis["inputs"]["fiscal_years"][0]["shares_diluted"] == 1
        assert analysis["origin"]["kind"] == "engine"

        recheck = await cases.get(f"{url}/{analysis['id']}/recheck", headers=owner.headers)
        assert recheck.status_code == 200
        assert recheck.json()["reproduced"] is True, (name, recheck.text)


async def test_imported_cases_that_cannot_be_analysed_name_the_error(cases, imported):
    owner, by_name = imported
    for name, (code, field) in FAILURES.items():
        response = await cases.post(f"/api/cases/{by_name[name]}/analyses", json={},
                                    headers=owner.headers)
        assert response.status_code == 422, (name, response.text)
        problem = response.json()
        assert (problem["code"], problem["field"]) == (code, field), name
        assert NO_BALANCE_SHEET in [(w["code"], w["field"]) for w in problem["warnings"]]


async def test_legacy_analyses_are_listed_and_never_recomputed(cases, imported):
    owner, by_name = imported
    harbor = by_name["Harbor Aesthetics (2 locations)"]
    listed = (await cases.get(f"/api/cases/{harbor}/analyses",
                              headers=owner.headers)).json()["items"]
    legacy = [a for a in listed if a["origin"]["kind"] == "legacy"]
    # 2 embedded agent analyses, the epvOutputs one and the queue's completed run.
    assert len(legacy) == 4
    assert {a["origin"]["name"] for a in legacy} >= {"legacy-epv-pro",
                                                      "legacy-agent:financial-analyst-b"}
    epv_pro = next(a for a in legacy if a["origin"]["name"] == "legacy-epv-pro")
    assert "enterprise_value" in epv_pro["headline"]

    one = await cases.get(f"/api/cases/{harbor}/analyses/{epv_pro['id']}",
                          headers=owner.headers)
    assert one.status_code == 200 and one.json()["output"] is not None
    assert one.json() == as_the_model_writes_it(one.json())
    for analysis in legacy:
        recheck = await cases.get(f"/api/cases/{harbor}/analyses/{analysis['id']}/recheck",
                                  headers=owner.headers)
        assert recheck.status_code == 409, recheck.text
        assert recheck.json()["type"].endswith("/analysis-not-recomputable")
        assert recheck.json()["origin_kind"] == "legacy"
