"""Validation of the input document (epv-method.md sections 2 and 10.2, checks 1 to 4).

``parse_document`` turns a raw JSON document into plain floats and resolved assumptions, or
raises the first ``EngineError`` in the order of 10.2. Unknown keys are collected before any
check so that an error result still carries all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import errors as E

MAX_MAGNITUDE = 1e15
_MAX_MAGNITUDE_INT = 10**15
SCHEMA_VERSION = "1.0"

ABSENT = object()  # marks a required value in number_field

# Fiscal-year fields in the order of the table in 2.2, which is also the order of the checks.
# kind: "year" integer 1900..2100, "pos" > 0, "nonneg" >= 0, "any", "shares" > 0 with its own code.
YEAR_FIELDS: tuple[tuple[str, bool, str], ...] = (
    ("fiscal_year", True, "year"),
    ("revenue", True, "pos"),
    ("operating_income", True, "any"),
    ("depreciation_amortization", True, "nonneg"),
    ("capital_expenditures", True, "nonneg"),
    ("ppe_net", True, "nonneg"),
    ("total_assets", True, "pos"),
    ("cash", True, "nonneg"),
    ("total_debt", True, "nonneg"),
    ("shares_diluted", True, "shares"),
    ("income_tax_expense", True, "any"),
    ("pretax_income", True, "any"),
    ("sga", True, "nonneg"),
    ("rnd", True, "nonneg"),
    ("one_off_items", False, "any"),
    ("goodwill_intangibles", False, "nonneg"),
    ("non_interest_bearing_liabilities", False, "nonneg"),
)
YEAR_KEYS = frozenset(name for name, _, _ in YEAR_FIELDS)
TOP_KEYS = frozenset({"schema_version", "company", "fiscal_years", "assumptions"})
COMPANY_KEYS = frozenset({"name", "ticker", "currency", "units"})
CAPM_PARTS: tuple[tuple[str, float, float], ...] = (
    ("risk_free_rate", -0.05, 0.25),
    ("equity_risk_premium", 0.0, 0.25),
    ("beta", 0.0, 5.0),
    ("cost_of_debt", 0.0, 0.5),
    ("target_debt_weight", 0.0, 0.95),
)
ASSUMPTION_KEYS = frozenset(
    {
        "wacc",
        *(name for name, _, _ in CAPM_PARTS),
        "tax_rate_override",
        "operating_cash_pct_revenue",
        "normalization_years",
        "revenue_basis",
        "one_off_treatment",
        "maintenance_capex_method",
        "maintenance_capex_value",
        "maintenance_floor_pct_of_da",
        "rnd_capitalization",
        "sga_capitalization",
        "asset_adjustments",
        "growth_rate",
        "current_share_price",
        "franchise_band",
        "sensitivity",
    }
)
NESTED_KEYS = {
    "rnd_capitalization": frozenset({"enabled", "amortization_years"}),
    "sga_capitalization": frozenset({"enabled", "multiple"}),
    "sensitivity": frozenset({"wacc_step", "wacc_steps", "margin_step", "margin_steps"}),
}
ADJUSTMENT_KEYS = frozenset({"label", "amount"})
MAX_ADJUSTMENTS = 50

REVENUE_BASES = ("latest", "average")
ONE_OFF_TREATMENTS = ("exclude", "recurring")
MAINTENANCE_METHODS = ("greenwald", "depreciation", "total_capex", "manual")


# --- numbers -----------------------------------------------------------------------------


def as_number(value: Any) -> float | int | None:
    """The value if it is a finite JSON number, else None (bools and strings are not numbers)."""
    t = type(value)
    if t is int:
        return value
    if t is float:
        return value if math.isfinite(value) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    # A JSON parser configured with parse_float=Decimal still hands us a JSON number.
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    return None


def too_large(x: float | int) -> bool:
    # Python ints may exceed the double range; compare them exactly instead of converting.
    if type(x) is int:
        return x > _MAX_MAGNITUDE_INT or x < -_MAX_MAGNITUDE_INT
    return x > MAX_MAGNITUDE or x < -MAX_MAGNITUDE


def as_integral(x: float | int) -> int | None:
    if type(x) is int:
        return x
    return int(x) if x == math.floor(x) else None


def describe_value(x: Any) -> str:
    """A short, safe rendering of an offending value for an error message."""
    try:
        text = f'"{x}"' if isinstance(x, str) else repr(x)
    except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
        return "a very large integer"
    return text if len(text) <= 40 else text[:37] + "..."


# --- unknown keys ------------------------------------------------------------------------


def collect_unknown_fields(doc: Any) -> list[dict[str, str | None]]:
    """Every unrecognised key, in document order, looking only through known keys (2.3)."""
    if not isinstance(doc, dict):
        return []
    out: list[dict[str, str | None]] = []

    def unknown(obj: dict, known: frozenset, prefix: str) -> None:
        for key in obj:
            if key not in known:
                out.append(E.warning(E.UNKNOWN_FIELD_IGNORED, f"{prefix}{key}"))

    for key, value in doc.items():
        if key not in TOP_KEYS:
            out.append(E.warning(E.UNKNOWN_FIELD_IGNORED, str(key)))
        elif key == "company" and isinstance(value, dict):
            unknown(value, COMPANY_KEYS, "company.")
        elif key == "fiscal_years" and isinstance(value, list):
            for i, year in enumerate(value):
                if isinstance(year, dict):
                    unknown(year, YEAR_KEYS, f"fiscal_years[{i}].")
        elif key == "assumptions" and isinstance(value, dict):
            for akey, avalue in value.items():
                if akey not in ASSUMPTION_KEYS:
                    out.append(E.warning(E.UNKNOWN_FIELD_IGNORED, f"assumptions.{akey}"))
                elif akey in NESTED_KEYS and isinstance(avalue, dict):
                    unknown(avalue, NESTED_KEYS[akey], f"assumptions.{akey}.")
                elif akey == "asset_adjustments" and isinstance(avalue, list):
                    for i, entry in enumerate(avalue):
                        if isinstance(entry, dict):
                            unknown(entry, ADJUSTMENT_KEYS, f"assumptions.asset_adjustments[{i}].")
    return out


# --- fiscal years ------------------------------------------------------------------------


def check_year_field(name: str, kind: str, raw: Any, path: str) -> float | int:
    x = as_number(raw)
    if x is None:
        raise E.EngineError(
            E.INVALID_NUMBER, path, f"{name} must be a JSON number, got {describe_value(raw)}"
        )
    if too_large(x):
        raise E.EngineError(E.VALUE_OUT_OF_RANGE, path, f"{name} exceeds 1e15 in magnitude")
    if kind == "any":
        return float(x)
    if kind == "nonneg":
        if x < 0:
            raise E.EngineError(E.VALUE_OUT_OF_RANGE, path, f"{name} must be >= 0, got {describe_value(x)}")
        return float(x)
    if kind == "pos":
        if x <= 0:
            raise E.EngineError(E.VALUE_OUT_OF_RANGE, path, f"{name} must be > 0, got {describe_value(x)}")
        return float(x)
    if kind == "shares":
        if x <= 0:
            raise E.EngineError(
                E.INVALID_SHARE_COUNT, path, f"shares_diluted must be > 0, got {describe_value(x)}"
            )
        return float(x)
    # kind == "year"
    year = as_integral(x)
    if year is None or not 1900 <= year <= 2100:
        raise E.EngineError(
            E.VALUE_OUT_OF_RANGE, path, f"fiscal_year must be an integer 1900..2100, got {describe_value(x)}"
        )
    return year


# Bounds of the common case, a plain float or int inside its range: (low, high, low_open).
# Anything else (NaN, infinity, a bool, a string, out of range) takes the slow path, which
# decides the exact error.
_FAST_BOUNDS = {
    "any": (-MAX_MAGNITUDE, MAX_MAGNITUDE, False),
    "nonneg": (0.0, MAX_MAGNITUDE, False),
    "pos": (0.0, MAX_MAGNITUDE, True),
    "shares": (0.0, MAX_MAGNITUDE, True),
}
_YEAR_PLAN = tuple(
    (name, required, kind, *_FAST_BOUNDS.get(kind, (0.0, 0.0, False))) for name, required, kind in YEAR_FIELDS
)


def parse_year(raw: Any, i: int) -> dict[str, float | int]:
    if not isinstance(raw, dict):
        raise E.EngineError(E.INVALID_STRUCTURE, f"fiscal_years[{i}]", "a fiscal year must be an object")
    year: dict[str, float | int] = {}
    get = raw.get
    # This loop is most of an analysis's run time: keep the valid case to a type test and
    # one chained comparison, and build paths only on failure.
    for name, required, kind, lo, hi, lo_open in _YEAR_PLAN:
        value = get(name)
        t = type(value)
        if t is float or t is int:
            if kind == "year":
                if t is int and 1900 <= value <= 2100:
                    year[name] = value
                    continue
            elif (lo < value <= hi) if lo_open else (lo <= value <= hi):
                year[name] = value if t is float else float(value)
                continue
        elif value is None:
            if required:
                raise E.EngineError(
                    E.MISSING_FIELD,
                    f"fiscal_years[{i}].{name}",
                    f"{name} is required in every year",
                )
            year[name] = 0.0
            continue
        year[name] = check_year_field(name, kind, value, f"fiscal_years[{i}].{name}")
    return year


def check_history(years: list[dict[str, float | int]]) -> list[dict[str, float | int]]:
    seen: set[int] = set()
    for i, year in enumerate(years):
        fy = year["fiscal_year"]
        if fy in seen:
            raise E.EngineError(
                E.DUPLICATE_FISCAL_YEAR,
                f"fiscal_years[{i}].fiscal_year",
                f"fiscal year {fy} appears more than once",
            )
        seen.add(fy)
    if len(years) < 3:
        raise E.EngineError(
            E.INSUFFICIENT_HISTORY,
            "fiscal_years",
            f"at least 3 consecutive fiscal years are needed, got {len(years)}",
        )
    ordered = sorted(years, key=lambda y: y["fiscal_year"])
    for prev, cur in zip(ordered, ordered[1:], strict=False):
        if cur["fiscal_year"] != prev["fiscal_year"] + 1:
            raise E.EngineError(
                E.NON_CONSECUTIVE_YEARS,
                "fiscal_years",
                f"fiscal years jump from {prev['fiscal_year']} to {cur['fiscal_year']}",
            )
    return ordered


# --- assumptions -------------------------------------------------------------------------


@dataclass(slots=True)
class Assumptions:
    wacc: float | None
    risk_free_rate: float | None
    equity_risk_premium: float | None
    beta: float | None
    cost_of_debt: float | None
    target_debt_weight: float | None
    tax_rate_override: float | None
    operating_cash_pct_revenue: float
    normalization_years: int
    revenue_basis: str
    one_off_treatment: str
    maintenance_capex_method: str
    maintenance_capex_value: float | None
    maintenance_floor_pct_of_da: float
    rnd_enabled: bool
    rnd_amortization_years: int
    sga_enabled: bool
    sga_multiple: float
    asset_adjustments: list[tuple[Any, float]] = field(default_factory=list)
    growth_rate: float | None = None
    current_share_price: float | None = None
    franchise_band: float = 0.10
    wacc_step: float = 0.01
    wacc_steps: int = 2
    margin_step: float = 0.01
    margin_steps: int = 2

    def to_dict(self) -> dict[str, Any]:
        """Every key of 2.3, defaults filled in, null where the key does not apply (11)."""
        return {
            "wacc": self.wacc,
            "risk_free_rate": self.risk_free_rate,
            "equity_risk_premium": self.equity_risk_premium,
            "beta": self.beta,
            "cost_of_debt": self.cost_of_debt,
            "target_debt_weight": self.target_debt_weight,
            "tax_rate_override": self.tax_rate_override,
            "operating_cash_pct_revenue": self.operating_cash_pct_revenue,
            "normalization_years": self.normalization_years,
            "revenue_basis": self.revenue_basis,
            "one_off_treatment": self.one_off_treatment,
            "maintenance_capex_method": self.maintenance_capex_method,
            "maintenance_capex_value": self.maintenance_capex_value,
            "maintenance_floor_pct_of_da": self.maintenance_floor_pct_of_da,
            "rnd_capitalization": {
                "enabled": self.rnd_enabled,
                "amortization_years": self.rnd_amortization_years,
            },
            "sga_capitalization": {"enabled": self.sga_enabled, "multiple": self.sga_multiple},
            "asset_adjustments": [
                {"label": label, "amount": amount} for label, amount in self.asset_adjustments
            ],
            "growth_rate": self.growth_rate,
            "current_share_price": self.current_share_price,
            "franchise_band": self.franchise_band,
            "sensitivity": {
                "wacc_step": self.wacc_step,
                "wacc_steps": self.wacc_steps,
                "margin_step": self.margin_step,
                "margin_steps": self.margin_steps,
            },
        }


def number_field(
    obj: dict,
    key: str,
    path: str,
    lo: float,
    hi: float,
    *,
    default: Any = ABSENT,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Any:
    """missing -> type -> magnitude -> range, as in 10.2 step 4. ``default`` ABSENT = required."""
    raw = obj.get(key)
    if raw is None:
        if default is ABSENT:
            raise E.EngineError(E.MISSING_FIELD, path, f"{key} is required")
        return default
    x = as_number(raw)
    if x is None:
        raise E.EngineError(E.INVALID_NUMBER, path, f"{key} must be a JSON number, got {describe_value(raw)}")
    if too_large(x):
        raise E.EngineError(E.VALUE_OUT_OF_RANGE, path, f"{key} exceeds 1e15 in magnitude")
    if (x <= lo if lo_open else x < lo) or (x >= hi if hi_open else x > hi):
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        raise E.EngineError(
            E.VALUE_OUT_OF_RANGE, path, f"{key} must be in {left}{lo}, {hi}{right}, got {describe_value(x)}"
        )
    return float(x)


def integer_field(obj: dict, key: str, path: str, lo: int, hi: int, default: int) -> int:
    raw = obj.get(key)
    if raw is None:
        return default
    x = as_number(raw)
    if x is None:
        raise E.EngineError(E.INVALID_NUMBER, path, f"{key} must be a JSON number, got {describe_value(raw)}")
    n = None if too_large(x) else as_integral(x)
    if n is None or not lo <= n <= hi:
        raise E.EngineError(
            E.VALUE_OUT_OF_RANGE, path, f"{key} must be an integer {lo}..{hi}, got {describe_value(x)}"
        )
    return n


def option_field(obj: dict, key: str, path: str, options: tuple[str, ...]) -> str:
    raw = obj.get(key)
    if raw is None:
        return options[0]
    if type(raw) is not str or raw not in options:
        raise E.EngineError(
            E.INVALID_OPTION, path, f"{key} must be one of {', '.join(options)}, got {describe_value(raw)}"
        )
    return raw


def enabled_field(obj: dict, path: str) -> bool:
    raw = obj.get("enabled")
    if raw is None:
        return False
    if raw is True or raw is False:
        return raw
    raise E.EngineError(E.INVALID_OPTION, path, f"enabled must be true or false, got {describe_value(raw)}")


def _nested(a: dict, key: str) -> dict:
    raw = a.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise E.EngineError(E.INVALID_STRUCTURE, f"assumptions.{key}", f"{key} must be an object")
    return raw


def _adjustments(a: dict) -> list[tuple[Any, float]]:
    raw = a.get("asset_adjustments")
    if raw is None:
        return []
    base = "assumptions.asset_adjustments"
    if not isinstance(raw, list):
        raise E.EngineError(E.INVALID_STRUCTURE, base, "asset_adjustments must be an array")
    if len(raw) > MAX_ADJUSTMENTS:
        raise E.EngineError(
            E.VALUE_OUT_OF_RANGE,
            base,
            f"at most {MAX_ADJUSTMENTS} asset adjustments, got {len(raw)}",
        )
    out = []
    for i, entry in enumerate(raw):
        path = f"{base}[{i}]"
        if not isinstance(entry, dict):
            raise E.EngineError(E.INVALID_STRUCTURE, path, "an asset adjustment must be an object")
        label = entry.get("label")
        if label is None:
            raise E.EngineError(E.MISSING_FIELD, f"{path}.label", "label is required")
        if not isinstance(label, str) or not label.strip():
            raise E.EngineError(E.VALUE_OUT_OF_RANGE, f"{path}.label", "label must be a non-empty string")
        amount = number_field(entry, "amount", f"{path}.amount", -MAX_MAGNITUDE, MAX_MAGNITUDE)
        out.append((label, amount))
    return out


def check_wacc(raw: Any) -> float:
    """A given WACC: a number in (0, 0.5]. The 1e15 rule does not apply: anything outside is
    INVALID_WACC, most often a percentage typed where a fraction belongs."""
    x = as_number(raw)
    if x is None:
        raise E.EngineError(
            E.INVALID_NUMBER, "assumptions.wacc", f"wacc must be a JSON number, got {describe_value(raw)}"
        )
    if not 0 < x <= 0.5:
        raise E.EngineError(
            E.INVALID_WACC,
            "assumptions.wacc",
            f"wacc must be a fraction in (0, 0.5], got {describe_value(x)} "
            "(a percentage typed where a fraction belongs?)",
        )
    return float(x)


def parse_assumptions(a: dict, *, share_price: Any = None) -> Assumptions:
    """Check 4 of 10.2, in the order of the table in 2.3. A ``share_price`` replaces the
    document's current_share_price and is checked in its place."""
    P = "assumptions."
    parts: dict[str, float | None] = {name: None for name, _, _ in CAPM_PARTS}
    raw_wacc = a.get("wacc")
    if raw_wacc is not None:
        wacc: float | None = check_wacc(raw_wacc)
    else:
        wacc = None
        if all(a.get(name) is None for name, _, _ in CAPM_PARTS):
            raise E.EngineError(E.MISSING_FIELD, P + "wacc", "give wacc, or all five of its CAPM parts")
        for name, lo, hi in CAPM_PARTS:
            parts[name] = number_field(a, name, P + name, lo, hi)

    tax_rate_override = number_field(a, "tax_rate_override", P + "tax_rate_override", 0, 0.6, default=None)
    operating_cash = number_field(
        a, "operating_cash_pct_revenue", P + "operating_cash_pct_revenue", 0, 0.5, default=0.02
    )
    normalization_years = integer_field(a, "normalization_years", P + "normalization_years", 3, 10, 5)
    revenue_basis = option_field(a, "revenue_basis", P + "revenue_basis", REVENUE_BASES)
    one_off = option_field(a, "one_off_treatment", P + "one_off_treatment", ONE_OFF_TREATMENTS)
    method = option_field(a, "maintenance_capex_method", P + "maintenance_capex_method", MAINTENANCE_METHODS)
    mcv = number_field(
        a,
        "maintenance_capex_value",
        P + "maintenance_capex_value",
        0,
        MAX_MAGNITUDE,
        default=ABSENT if method == "manual" else None,
    )
    floor_pct = number_field(
        a, "maintenance_floor_pct_of_da", P + "maintenance_floor_pct_of_da", 0, 1, default=0.5
    )

    rnd = _nested(a, "rnd_capitalization")
    rp = P + "rnd_capitalization."
    rnd_enabled = enabled_field(rnd, rp + "enabled")
    rnd_years = integer_field(rnd, "amortization_years", rp + "amortization_years", 1, 10, 5)

    sga = _nested(a, "sga_capitalization")
    sp = P + "sga_capitalization."
    sga_enabled = enabled_field(sga, sp + "enabled")
    sga_multiple = number_field(sga, "multiple", sp + "multiple", 0, 5, default=0.5)

    adjustments = _adjustments(a)
    growth_rate = number_field(a, "growth_rate", P + "growth_rate", 0, 0.5, default=None)
    price_src = a if share_price is None else {"current_share_price": share_price}
    price = number_field(
        price_src,
        "current_share_price",
        P + "current_share_price",
        0,
        1e7,
        default=None,
        lo_open=True,
    )
    band = number_field(a, "franchise_band", P + "franchise_band", 0, 1, default=0.10)

    sens = _nested(a, "sensitivity")
    sp = P + "sensitivity."
    wacc_step = number_field(sens, "wacc_step", sp + "wacc_step", 0, 0.05, default=0.01, lo_open=True)
    wacc_steps = integer_field(sens, "wacc_steps", sp + "wacc_steps", 0, 5, 2)
    margin_step = number_field(sens, "margin_step", sp + "margin_step", 0, 0.05, default=0.01, lo_open=True)
    margin_steps = integer_field(sens, "margin_steps", sp + "margin_steps", 0, 5, 2)

    return Assumptions(
        wacc=wacc,
        risk_free_rate=parts["risk_free_rate"],
        equity_risk_premium=parts["equity_risk_premium"],
        beta=parts["beta"],
        cost_of_debt=parts["cost_of_debt"],
        target_debt_weight=parts["target_debt_weight"],
        tax_rate_override=tax_rate_override,
        operating_cash_pct_revenue=operating_cash,
        normalization_years=normalization_years,
        revenue_basis=revenue_basis,
        one_off_treatment=one_off,
        maintenance_capex_method=method,
        maintenance_capex_value=mcv,
        maintenance_floor_pct_of_da=floor_pct,
        rnd_enabled=rnd_enabled,
        rnd_amortization_years=rnd_years,
        sga_enabled=sga_enabled,
        sga_multiple=sga_multiple,
        asset_adjustments=adjustments,
        growth_rate=growth_rate,
        current_share_price=price,
        franchise_band=band,
        wacc_step=wacc_step,
        wacc_steps=wacc_steps,
        margin_step=margin_step,
        margin_steps=margin_steps,
    )


# --- the document ------------------------------------------------------------------------


@dataclass(slots=True)
class ParsedInput:
    years: list[dict[str, float | int]]  # sorted ascending by fiscal_year
    assumptions: Assumptions


def check_structure(doc: Any) -> tuple[list, dict]:
    """Check 1 of 10.2."""
    if not isinstance(doc, dict):
        raise E.EngineError(E.INVALID_STRUCTURE, "", "the input must be a JSON object")
    years = doc.get("fiscal_years")
    if years is None:
        raise E.EngineError(E.MISSING_FIELD, "fiscal_years", "fiscal_years is required")
    if not isinstance(years, list):
        raise E.EngineError(E.INVALID_STRUCTURE, "fiscal_years", "fiscal_years must be an array")
    assumptions = doc.get("assumptions")
    if assumptions is None:
        raise E.EngineError(E.MISSING_FIELD, "assumptions", "assumptions is required")
    if not isinstance(assumptions, dict):
        raise E.EngineError(E.INVALID_STRUCTURE, "assumptions", "assumptions must be an object")
    company = doc.get("company")
    if company is not None and not isinstance(company, dict):
        raise E.EngineError(E.INVALID_STRUCTURE, "company", "company must be an object")
    if "schema_version" in doc and doc["schema_version"] != SCHEMA_VERSION:
        raise E.EngineError(
            E.INVALID_OPTION,
            "schema_version",
            f'schema_version must be "{SCHEMA_VERSION}", got {describe_value(doc["schema_version"])}',
        )
    return years, assumptions


def parse_document(doc: Any, *, share_price: Any = None) -> ParsedInput:
    raw_years, raw_assumptions = check_structure(doc)
    years = [parse_year(raw, i) for i, raw in enumerate(raw_years)]
    ordered = check_history(years)
    return ParsedInput(ordered, parse_assumptions(raw_assumptions, share_price=share_price))
