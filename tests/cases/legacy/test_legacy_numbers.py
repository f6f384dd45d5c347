"""The "numbers stored as strings" rule, the fraction rule, and where they apply."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from epv_cases.legacy import NumberKind, as_fraction, coerce_number, parse_export
from epv_cases.legacy import codes as c
from epv_cases.legacy.numbers import parse_number_string

COERCED = [
    ("140,000", 140000),
    ("1,823,000.00", 1823000.0),
    ("-1,234", -1234),
    ("-1,234.5", -1234.5),
    ("999", 999),
    ("0", 0),
    ("-0.25", -0.25),
    ("0012", 12),
    ("12.50", 12.5),
    ("  140,000\t", 140000),  # surrounding whitespace is trimmed
    ("\u00a042\n", 42),  # so is Unicode whitespace, as JS trim() does
    ("1,000,000,000", 1000000000),
    ("1" * 40, int("1" * 40)),
]
UNPARSEABLE = [
    "12%",
    "1.250,5",  # European separators: not guessed at
    "n/a",
    "",
    "   ",
    "1,23",  # a group of two
    "12,3456",  # a group of four
    "1234,567",  # a first group of four
    ",123",
    "1,234,",
    "+5",
    ".5",
    "5.",
    "1e5",
    "0x1F",
    "1 000",
    "$1,000",
    "--1",
    "- 1",
    "NaN",
    "Infinity",
    "١٢٣",  # Arabic-Indic digits: ASCII digits only
    "１２",  # full-width digits
    "1" * 400 + ".5",  # beyond a float
    "1" * 5000,  # beyond int() conversion
]
LEFT_AS_GIVEN = [True, False, None, [1], {"a": 1}]


@pytest.mark.parametrize(("text", "expected"), COERCED, ids=repr)
def test_number_strings_are_coerced(text: str, expected: float) -> None:
    result = coerce_number(text)
    assert result.kind is NumberKind.COERCED
    assert result.value == expected
    assert type(result.value) is type(expected)
    assert result.raw == text


@pytest.mark.parametrize("text", UNPARSEABLE, ids=lambda t: repr(t)[:20])
def test_other_strings_are_not_guessed_at(text: str) -> None:
    result = coerce_number(text)
    assert result.kind is NumberKind.UNPARSEABLE
    assert result.value is None
    assert result.raw == text
    assert parse_number_string(text) is None


@pytest.mark.parametrize("value", [0, 1, -3, 0.15, 1823000.0, 10**30])
def test_json_numbers_are_used_as_is(value: float) -> None:
    result = coerce_number(value)
    assert result.kind is NumberKind.NUMBER
    assert result.value == value


@pytest.mark.parametrize("value", LEFT_AS_GIVEN, ids=repr)
def test_non_numbers_that_are_not_strings_are_left_alone(value: Any) -> None:
    result = coerce_number(value)
    assert result.kind is NumberKind.OTHER
    assert result.value == value


def test_non_finite_floats_are_unparseable() -> None:
    assert coerce_number(math.inf).kind is NumberKind.UNPARSEABLE
    assert coerce_number(math.nan).kind is NumberKind.UNPARSEABLE


@pytest.mark.parametrize(
    ("value", "expected", "scaled"),
    [
        (15, 0.15, True),
        (12.5, 0.125, True),
        (7, 0.07, True),
        (100, 1.0, True),
        (1, 1, False),  # > 1, not >= 1
        (0.14, 0.14, False),
        (0, 0, False),
        (-5, -5, False),
    ],
)
def test_fraction_rule(value: float, expected: float, scaled: bool) -> None:
    assert as_fraction(value) == (expected, scaled)


def test_fraction_rule_beyond_a_float() -> None:
    fraction, scaled = as_fraction(10**400)
    assert scaled and math.isinf(fraction)


# --- where the rule applies -------------------------------------------------------------------


def _case_result(export_of: Callable[..., Any], case: dict[str, Any]) -> Any:
    return parse_export(export_of([case])).cases[0]


def test_unparseable_array_element_becomes_null_in_place(
    export_of: Callable[..., Any], case_factory: Callable[..., Any]
) -> None:
    case = case_factory()
    case["financialData"]["revenue"]["total"] = ["1,000", "n/a", 300, None]
    case["financialData"]["gp"] = [" 50 ", "5O"]
    item = _case_result(export_of, case)
    assert item.case.financial_data["revenue"]["total"] == [1000, None, 300, None]
    assert item.case.financial_data["gp"] == [50, None]
    assert [(w.code, w.field) for w in item.warnings] == [
        (c.LEGACY_NUMBER_COERCED, "financialData.revenue.total[0]"),
        (c.LEGACY_NUMBER_UNPARSEABLE, "financialData.revenue.total[1]"),
        (c.LEGACY_NUMBER_COERCED, "financialData.gp[0]"),
        (c.LEGACY_NUMBER_UNPARSEABLE, "financialData.gp[1]"),
    ]
    assert item.unparseable_values == {
        "financialData.revenue.total[1]": "n/a",
        "financialData.gp[1]": "5O",
    }


def test_rule_covers_every_statement_group_and_lone_values(
    export_of: Callable[..., Any], case_factory: Callable[..., Any]
) -> None:
    case = case_factory()
    data = case["financialData"]
    for group in ("revenue", "cogs", "payroll", "opex", "below_line"):
        data[group] = {"total": ["1,000", 2]}
    data["below_line"]["taxes"] = "2,500"  # a lone value rather than an array
    data["opex"]["bad"] = "twelve"
    item = _case_result(export_of, case)
    fd = item.case.financial_data
    for group in ("revenue", "cogs", "payroll", "opex", "below_line"):
        assert fd[group]["total"] == [1000, 2]
    assert fd["below_line"]["taxes"] == 2500
    assert "bad" not in fd["opex"]  # a lone unparseable value is left out
    assert item.unparseable_values == {"financialData.opex.bad": "twelve"}


def test_text_dates_and_unknown_groups_are_not_touched(
    export_of: Callable[..., Any], case_factory: Callable[..., Any]
) -> None:
    case = case_factory()
    data = case["financialData"]
    data["periods"] = {"2023": "2023-12-31", "2024": "2024-12-31"}
    data["meta"] = {"case_name": "X", "units": "1,000", "key_notes": ["12"]}
    data["balance_sheet"] = {"cash": ["1,000"]}
    item = _case_result(export_of, case)
    fd = item.case.financial_data
    assert fd["periods"] == data["periods"]
    assert fd["meta"] == data["meta"]
    assert fd["balance_sheet"] == {"cash": ["1,000"]}
    assert item.warnings == ()


def test_epv_inputs_only_the_mapped_fields_are_coerced(
    export_of: Callable[..., Any], case_factory: Callable[..., Any]
) -> None:
    inputs = {
        "wacc": "0.14",
        "taxRate": "25%",
        "ownerAddBack": "85,000",
        "depreciation": 104800,
        "maintenanceCapex": " 92,000 ",
        "cash": "420,000",
        "debt": "1,150,000.50",
        "workingCapital": "-15,000",
        "growthRate": "3%",  # kept as given: the mapping does not read it
        "terminalMultiple": "6",
        "serviceLines": [{"price": "620"}],
        "providers": [{"fte": "2"}],
    }
    item = _case_result(export_of, case_factory(epvInputs=inputs))
    stored = item.case.epv_inputs
    assert stored == {
        "wacc": 0.14,
        "ownerAddBack": 85000,
        "depreciation": 104800,
        "maintenanceCapex": 92000,
        "cash": 420000,
        "debt": 1150000.5,
        "workingCapital": -15000,
        "growthRate": "3%",
        "terminalMultiple": "6",
        "serviceLines": [{"price": "620"}],
        "providers": [{"fte": "2"}],
    }
    assert item.unparseable_values == {"epvInputs.taxRate": "25%"}
    assert {w.field for w in item.warnings if w.code == c.LEGACY_NUMBER_COERCED} == {
        "epvInputs.wacc",
        "epvInputs.ownerAddBack",
        "epvInputs.maintenanceCapex",
        "epvInputs.cash",
        "epvInputs.debt",
        "epvInputs.workingCapital",
    }


def test_booleans_and_nulls_in_numeric_fields_are_left_for_the_engine(
    export_of: Callable[..., Any], case_factory: Callable[..., Any]
) -> None:
    case = case_factory(epvInputs={"wacc": True, "cash": None})
    case["financialData"]["revenue"]["total"] = [True, None]
    item = _case_result(export_of, case)
    assert item.case.financial_data["revenue"]["total"] == [True, None]
    assert item.case.epv_inputs == {"wacc": True, "cash": None}
    assert item.warnings == ()
    json.dumps(item.to_dict(), allow_nan=False)
