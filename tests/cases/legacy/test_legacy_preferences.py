"""``epv-preferences`` mapped per the README table, with the > 1 ⇒ ÷ 100 fraction rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from epv_cases.legacy import KeyOutcome, Outcome, parse_export
from epv_cases.legacy import codes as c
from epv_cases.legacy.preferences import parse_preferences


def test_table_mapping() -> None:
    result = parse_preferences(
        {
            "theme": "light",
            "currency": "EUR",
            "numberFormat": "de-DE",
            "defaultWacc": 0.12,
            "defaultTaxRate": 0.21,
            "showMonteCarlo": False,
            "recommendedMethod": "Average",
        }
    )
    assert result.outcome is Outcome.IMPORTED
    assert result.user == {
        "theme": "light",
        "currency": "EUR",
        "number_format": "de-DE",
        "show_monte_carlo": False,
        "recommended_method": "Average",
    }
    assert result.case_defaults == {"wacc": 0.12, "tax_rate_override": 0.21}
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("given", "expected", "warnings"),
    [
        (14, 0.14, [c.LEGACY_PERCENT_SCALED]),
        (12.5, 0.125, [c.LEGACY_PERCENT_SCALED]),
        (1, 1, []),
        (0.14, 0.14, []),
        ("14", 0.14, [c.LEGACY_NUMBER_COERCED, c.LEGACY_PERCENT_SCALED]),
        ("0.25", 0.25, [c.LEGACY_NUMBER_COERCED]),
        ("14%", None, [c.LEGACY_NUMBER_UNPARSEABLE]),
        (True, None, [c.LEGACY_NUMBER_UNPARSEABLE]),
        ({"v": 1}, None, [c.LEGACY_NUMBER_UNPARSEABLE]),
        ("1" * 500, None, [c.LEGACY_NUMBER_COERCED, c.LEGACY_NUMBER_UNPARSEABLE]),
    ],
    ids=repr,
)
def test_default_wacc_fraction_rule(given: Any, expected: Any, warnings: list[str]) -> None:
    result = parse_preferences({"defaultWacc": given})
    assert result.case_defaults.get("wacc") == expected
    assert [w.code for w in result.warnings] == warnings
    assert all(w.field == "defaultWacc" for w in result.warnings)
    assert all(w.where.key == "epv-preferences" for w in result.warnings)
    if expected is None:
        assert result.unparseable_values == {"defaultWacc": given}
    assert result.outcome is (Outcome.IMPORTED_WITH_WARNINGS if warnings else Outcome.IMPORTED)


def test_tax_rate_percentage_is_scaled() -> None:
    result = parse_preferences({"defaultTaxRate": 25})
    assert result.case_defaults == {"tax_rate_override": 0.25}
    assert [(w.code, w.field) for w in result.warnings] == [
        (c.LEGACY_PERCENT_SCALED, "defaultTaxRate")
    ]


def test_null_and_absent_defaults_are_left_out_silently() -> None:
    result = parse_preferences({"defaultWacc": None, "theme": "dark"})
    assert result.case_defaults == {}
    assert result.user == {"theme": "dark"}
    assert result.warnings == ()


def test_unknown_preferences_are_recorded() -> None:
    result = parse_preferences({"theme": "dark", "fontSize": 14})
    assert result.user == {"theme": "dark"}
    assert result.unknown == {"fontSize": 14}
    assert [(w.code, w.field) for w in result.warnings] == [(c.LEGACY_UNKNOWN_FIELD, "fontSize")]


@pytest.mark.parametrize("value", ["[]", '"dark"', "null", "3"])
def test_preferences_of_the_wrong_shape_reject_the_key(
    export_of: Callable[..., Any], value: str
) -> None:
    plan = parse_export(export_of(extra={"epv-preferences": value}))
    report = plan.keys[0]
    assert report.outcome is KeyOutcome.REJECTED
    assert report.rejection is not None and report.rejection.reason == c.LEGACY_WRONG_SHAPE
    assert report.raw_text == value
    assert plan.preferences is None
    assert plan.counts["keys"] == {"rejected": 1, "ignored": 0}


def test_preference_warnings_reach_the_report(export_of: Callable[..., Any]) -> None:
    plan = parse_export(export_of(preferences={"defaultWacc": 14}))
    assert [(w.where.key, w.where.index, w.code, w.field) for w in plan.warnings] == [
        ("epv-preferences", None, c.LEGACY_PERCENT_SCALED, "defaultWacc")
    ]
