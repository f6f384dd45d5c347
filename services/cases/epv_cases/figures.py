"""The figure contract of epv-method.md section 11 and the tolerance of section 12.

Pure: used to check an agent's figures, to recheck a stored analysis against the current
engine, and to compare two analyses. Agents may add their own figures under the `x_` prefix
(`x_recommendation`, `x_confidence`): anything JSON with finite numbers, never mistaken for a
figure of the method.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal

FigureClass = Literal["text", "integer", "integer_list", "money", "per_share", "ratio",
                      "ratio_list", "sensitivity"]

FIGURES: Final[dict[str, FigureClass]] = {
    "method_version": "text",
    "latest_fiscal_year": "integer",
    "years_used": "integer",
    "window_years": "integer_list",
    "one_off_treatment": "text",
    "operating_margins": "ratio_list",
    "normalized_operating_margin": "ratio",
    "revenue_latest": "money",
    "revenue_basis": "text",
    "revenue_basis_value": "money",
    "normalized_ebit": "money",
    "normalized_tax_rate": "ratio",
    "tax_rate_source": "text",
    "nopat": "money",
    "maintenance_capex_method": "text",
    "total_capex": "money",
    "depreciation_amortization": "money",
    "ppe_to_revenue_ratios": "ratio_list",
    "avg_ppe_to_revenue": "ratio",
    "revenue_growth": "money",
    "maintenance_capex_floor": "money",
    "growth_capex": "money",
    "maintenance_capex": "money",
    "excess_depreciation": "money",
    "adjusted_earnings": "money",
    "wacc_source": "text",
    "cost_of_equity": "ratio",
    "after_tax_cost_of_debt": "ratio",
    "wacc": "ratio",
    "epv_operations": "money",
    "cash": "money",
    "operating_cash": "money",
    "excess_cash": "money",
    "total_debt": "money",
    "epv_equity": "money",
    "shares_diluted": "money",
    "epv_per_share": "per_share",
    "capitalized_rnd": "money",
    "capitalized_sga": "money",
    "asset_adjustments_total": "money",
    "total_assets": "money",
    "goodwill_intangibles": "money",
    "non_interest_bearing_liabilities": "money",
    "asset_value_operations": "money",
    "asset_value_equity": "money",
    "asset_value_per_share": "per_share",
    "franchise_value": "money",
    "franchise_ratio": "ratio",
    "franchise_signal": "text",
    "return_on_capital": "ratio",
    "growth_rate": "ratio",
    "value_with_growth_operations": "money",
    "growth_value": "money",
    "value_with_growth_equity": "money",
    "value_with_growth_per_share": "per_share",
    "current_share_price": "per_share",
    "margin_of_safety": "ratio",
    "price_to_epv": "ratio",
    "sensitivity": "sensitivity",
}
AGENT_PREFIX: Final = "x_"
HEADLINE: Final = ("epv_operations", "epv_equity", "epv_per_share", "margin_of_safety")
"""What an `analysis.completed` event and a list entry carry."""

_DECIMALS: Final = {"money": 4, "per_share": 4, "ratio": 8, "ratio_list": 8}


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def within_tolerance(actual: float, expected: float, decimals: int) -> bool:
    """Section 12: |a - e| <= 0.5 * 10^-d + 1e-9 * max(1, |e|)."""
    return abs(actual - expected) <= 0.5 * 10 ** -decimals + 1e-9 * max(1.0, abs(expected))


def _same(a: Any, b: Any, decimals: int | None) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, decimals) for x, y in zip(a, b, strict=True))
    if is_number(a) and is_number(b):
        return a == b if decimals is None else within_tolerance(float(a), float(b), decimals)
    return a == b and type(a) is type(b)


def figure_matches(name: str, stored: Any, now: Any) -> bool:
    """Whether a recomputed figure equals the stored one within the reference's tolerance
    (text, integers and `window_years` exactly; null only matches null)."""
    cls = FIGURES.get(name)
    if cls == "sensitivity":
        if not (isinstance(stored, dict) and isinstance(now, dict)):
            return stored == now
        return (set(stored) == set(now)
                and _same(stored.get("wacc_values"), now.get("wacc_values"), 8)
                and _same(stored.get("margin_values"), now.get("margin_values"), 8)
                and _same(stored.get("epv_per_share"), now.get("epv_per_share"), 4))
    return _same(stored, now, _DECIMALS.get(cls or ""))


# -- an agent's figures ----------------------------------------------------------------------------

def finite_everywhere(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite_everywhere(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_everywhere(v) for v in value)
    return True


def _fits(cls: FigureClass, value: Any) -> str | None:
    """Why `value` is not a figure of class `cls`, or None. Null is allowed everywhere: the
    method itself leaves figures null where they do not apply."""
    if value is None:
        return None
    if cls == "text":
        return None if isinstance(value, str) else "must be a string"
    if cls == "integer":
        return None if is_number(value) and float(value).is_integer() else "must be an integer"
    if cls in ("integer_list", "ratio_list"):
        ok = isinstance(value, list) and all(is_number(v) for v in value)
        return None if ok else "must be a list of numbers"
    if cls == "sensitivity":
        if not isinstance(value, dict):
            return "must be an object {wacc_values, margin_values, epv_per_share}"
        grid = value.get("epv_per_share")
        ok = (all(isinstance(value.get(k), list) and all(is_number(v) for v in value[k])
                  for k in ("wacc_values", "margin_values"))
              and isinstance(grid, list)
              and all(isinstance(row, list) and all(v is None or is_number(v) for v in row)
                      for row in grid))
        return None if ok else "must be {wacc_values: [number], margin_values: [number], " \
                               "epv_per_share: [[number or null]]}"
    return None if is_number(value) else "must be a number or null"


def agent_figure_errors(figures: dict[str, Any]) -> list[dict[str, str]]:
    """Field errors of an agent's figures: names from section 11 or the `x_` namespace, values
    of the figure's class, every number finite."""
    errors = []
    if not figures:
        errors.append({"field": "figures", "rule": "figures_empty",
                       "message": "An analysis needs at least one figure."})
    for name, value in figures.items():
        field = f"figures.{name}"
        if not finite_everywhere(value):
            errors.append({"field": field, "rule": "number_not_finite",
                           "message": "NaN and Infinity are not figures."})
        elif name.startswith(AGENT_PREFIX) and len(name) > len(AGENT_PREFIX):
            continue
        elif name not in FIGURES:
            errors.append({"field": field, "rule": "figure_unknown",
                           "message": f"{name!r} is not a figure of epv-method.md section 11; "
                                      f"an agent's own figures go under the {AGENT_PREFIX!r} "
                                      "prefix."})
        elif (why := _fits(FIGURES[name], value)) is not None:
            errors.append({"field": field, "rule": "figure_type", "message": f"{name} {why}."})
    return errors


# -- differences -----------------------------------------------------------------------------------

_ABSENT = object()


def _leaves(value: Any, path: str, out: dict[str, Any]) -> None:
    """Flattens objects (and lists of objects) to paths; a list of scalars or of lists is one
    leaf, so `operating_margins` or a sensitivity grid reads as one changed value."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _leaves(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            _leaves(item, f"{path}[{i}]", out)
    else:
        out[path] = value


def differences(a: Any, b: Any) -> list[dict[str, Any]]:
    """Every path whose value differs: `{path, a, b, change}`, change being `changed`,
    `added` (only in b) or `removed` (only in a). Numbers compare exactly here."""
    left: dict[str, Any] = {}
    right: dict[str, Any] = {}
    _leaves(a, "", left)
    _leaves(b, "", right)
    out = []
    for path in list(left) + [p for p in right if p not in left]:
        x, y = left.get(path, _ABSENT), right.get(path, _ABSENT)
        if x is _ABSENT:
            out.append({"path": path, "a": None, "b": y, "change": "added"})
        elif y is _ABSENT:
            out.append({"path": path, "a": x, "b": None, "change": "removed"})
        elif x != y or type(x) is not type(y) and not (is_number(x) and is_number(y)):
            out.append({"path": path, "a": x, "b": y, "change": "changed"})
    return out
