"""Cost of capital (epv-method.md section 6)."""

from __future__ import annotations

from dataclasses import dataclass

from .schema import Assumptions


@dataclass(slots=True)
class CostOfCapital:
    wacc: float
    wacc_source: str
    cost_of_equity: float | None
    after_tax_cost_of_debt: float | None


def cost_of_capital(a: Assumptions, normalized_tax_rate: float) -> CostOfCapital:
    """A given WACC wins; CAPM is only the fallback. Range of a CAPM WACC is checked later,
    in the fixed order of the computation checks (10.2 step 5)."""
    if a.wacc is not None:
        return CostOfCapital(a.wacc, "given", None, None)
    cost_of_equity = a.risk_free_rate + a.beta * a.equity_risk_premium
    after_tax_debt = a.cost_of_debt * (1.0 - normalized_tax_rate)
    # Target weights, not market weights: the value must not depend on the price it is
    # compared with.
    w = a.target_debt_weight
    wacc = (1.0 - w) * cost_of_equity + w * after_tax_debt
    return CostOfCapital(wacc, "capm", cost_of_equity, after_tax_debt)
