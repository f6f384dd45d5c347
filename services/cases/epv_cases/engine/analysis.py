"""The analysis pipeline: validation, then sections 3 to 9 in order (epv-method.md)."""

from __future__ import annotations

from typing import Any

from . import errors as E
from .capital import cost_of_capital
from .earnings import normalise_earnings
from .maintenance import maintenance_capex
from .result import EngineResult
from .schema import collect_unknown_fields, parse_document
from .sensitivity import sensitivity_table
from .valuation import (
    asset_value,
    earnings_power_value,
    franchise,
    growth_value,
    margin_of_safety,
)
from .versions import ENGINE_VERSION, METHOD_VERSION


def _fail(err: E.EngineError, warnings: list, inputs: Any, resolved: dict | None) -> EngineResult:
    return EngineResult(
        status="error",
        method_version=METHOD_VERSION,
        engine_version=ENGINE_VERSION,
        warnings=warnings,
        error={"code": err.code, "field": err.field, "message": err.message},
        resolved_assumptions=resolved,
        inputs=inputs,
    )


def analyse(inputs: Any, *, share_price: float | None = None) -> EngineResult:
    """Run EPV on an input document of section 2.

    ``share_price``, when given, replaces ``assumptions.current_share_price`` (validated the
    same way, and reported at that path). Without it the document's own price is used, which
    keeps an analysis reproducible from its stored inputs alone.
    """
    warnings = collect_unknown_fields(inputs)
    try:
        parsed = parse_document(inputs, share_price=share_price)
    except E.EngineError as err:
        return _fail(err, warnings, inputs, None)
    a = parsed.assumptions
    years = parsed.years
    resolved = a.to_dict()

    earnings = normalise_earnings(years, a, warnings)
    upkeep = maintenance_capex(years, earnings.window, earnings.nopat, a, warnings)
    capital = cost_of_capital(a, earnings.normalized_tax_rate)
    wacc = capital.wacc

    # Computation checks, in the fixed order of 10.2 step 5 (not section order).
    try:
        if not 0.0 < wacc <= 0.5:
            raise E.EngineError(
                E.INVALID_WACC,
                "assumptions.wacc",
                f"the CAPM cost of capital is {wacc!r}, outside (0, 0.5]",
            )
        if a.growth_rate is not None and a.growth_rate >= wacc:
            raise E.EngineError(
                E.GROWTH_RATE_NOT_BELOW_WACC,
                "assumptions.growth_rate",
                f"growth_rate {a.growth_rate!r} must be below the WACC {wacc!r}: "
                "a perpetuity growing at or above its discount rate has no finite value",
            )
        if not upkeep.adjusted_earnings > 0.0:
            raise E.EngineError(
                E.NON_POSITIVE_EARNINGS,
                None,
                f"adjusted earnings are {upkeep.adjusted_earnings!r}: a business that earns "
                "nothing has no earnings power; use the asset value instead",
            )
    except E.EngineError as err:
        return _fail(err, warnings, inputs, resolved)

    latest = years[-1]
    epv = earnings_power_value(latest, upkeep.adjusted_earnings, wacc, a, warnings)
    av = asset_value(years, epv, a, warnings)
    fr = franchise(epv, av, upkeep.adjusted_earnings, a)
    growth = growth_value(epv, av, fr, wacc, a, warnings)
    mos, price_to_epv = margin_of_safety(epv.epv_per_share, a.current_share_price)
    table = sensitivity_table(
        wacc=wacc,
        wacc_step=a.wacc_step,
        wacc_steps=a.wacc_steps,
        margin=earnings.normalized_operating_margin,
        margin_step=a.margin_step,
        margin_steps=a.margin_steps,
        revenue_basis_value=earnings.revenue_basis_value,
        tax_rate=earnings.normalized_tax_rate,
        excess_depreciation=upkeep.excess_depreciation,
        excess_cash=epv.excess_cash,
        total_debt=epv.total_debt,
        shares=epv.shares_diluted,
    )

    # Section 11, in its order; the names are the contract.
    figures = {
        "method_version": METHOD_VERSION,
        "latest_fiscal_year": latest["fiscal_year"],
        "years_used": len(earnings.window),
        "window_years": [y["fiscal_year"] for y in earnings.window],
        "one_off_treatment": a.one_off_treatment,
        "operating_margins": earnings.operating_margins,
        "normalized_operating_margin": earnings.normalized_operating_margin,
        "revenue_latest": earnings.revenue_latest,
        "revenue_basis": a.revenue_basis,
        "revenue_basis_value": earnings.revenue_basis_value,
        "normalized_ebit": earnings.normalized_ebit,
        "normalized_tax_rate": earnings.normalized_tax_rate,
        "tax_rate_source": earnings.tax_rate_source,
        "nopat": earnings.nopat,
        "maintenance_capex_method": a.maintenance_capex_method,
        "total_capex": upkeep.total_capex,
        "depreciation_amortization": upkeep.depreciation_amortization,
        "ppe_to_revenue_ratios": upkeep.ppe_to_revenue_ratios,
        "avg_ppe_to_revenue": upkeep.avg_ppe_to_revenue,
        "revenue_growth": upkeep.revenue_growth,
        "maintenance_capex_floor": upkeep.maintenance_capex_floor,
        "growth_capex": upkeep.growth_capex,
        "maintenance_capex": upkeep.maintenance_capex,
        "excess_depreciation": upkeep.excess_depreciation,
        "adjusted_earnings": upkeep.adjusted_earnings,
        "wacc_source": capital.wacc_source,
        "cost_of_equity": capital.cost_of_equity,
        "after_tax_cost_of_debt": capital.after_tax_cost_of_debt,
        "wacc": wacc,
        "epv_operations": epv.epv_operations,
        "cash": epv.cash,
        "operating_cash": epv.operating_cash,
        "excess_cash": epv.excess_cash,
        "total_debt": epv.total_debt,
        "epv_equity": epv.epv_equity,
        "shares_diluted": epv.shares_diluted,
        "epv_per_share": epv.epv_per_share,
        "capitalized_rnd": av.capitalized_rnd,
        "capitalized_sga": av.capitalized_sga,
        "asset_adjustments_total": av.asset_adjustments_total,
        "total_assets": av.total_assets,
        "goodwill_intangibles": av.goodwill_intangibles,
        "non_interest_bearing_liabilities": av.non_interest_bearing_liabilities,
        "asset_value_operations": av.asset_value_operations,
        "asset_value_equity": av.asset_value_equity,
        "asset_value_per_share": av.asset_value_per_share,
        "franchise_value": fr.franchise_value,
        "franchise_ratio": fr.franchise_ratio,
        "franchise_signal": fr.franchise_signal,
        "return_on_capital": fr.return_on_capital,
        "growth_rate": a.growth_rate,
        "value_with_growth_operations": growth.value_with_growth_operations,
        "growth_value": growth.growth_value,
        "value_with_growth_equity": growth.value_with_growth_equity,
        "value_with_growth_per_share": growth.value_with_growth_per_share,
        "current_share_price": a.current_share_price,
        "margin_of_safety": mos,
        "price_to_epv": price_to_epv,
        "sensitivity": table,
    }
    return EngineResult(
        status="ok",
        method_version=METHOD_VERSION,
        engine_version=ENGINE_VERSION,
        warnings=warnings,
        figures=figures,
        resolved_assumptions=resolved,
        inputs=inputs,
    )
