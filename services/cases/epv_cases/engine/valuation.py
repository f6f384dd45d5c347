"""EPV, asset value, franchise value, growth value and margin of safety
(epv-method.md sections 7, 8 and 9.1)."""

from __future__ import annotations

from dataclasses import dataclass

from . import errors as E
from .schema import Assumptions


@dataclass(slots=True)
class Epv:
    epv_operations: float
    cash: float
    operating_cash: float
    excess_cash: float
    total_debt: float
    epv_equity: float
    shares_diluted: float
    epv_per_share: float


def earnings_power_value(
    latest: dict, adjusted_earnings: float, wacc: float, a: Assumptions, warnings: list
) -> Epv:
    epv_operations = adjusted_earnings / wacc
    cash = latest["cash"]
    operating_cash = a.operating_cash_pct_revenue * latest["revenue"]
    excess_cash = max(0.0, cash - operating_cash)
    debt = latest["total_debt"]
    shares = latest["shares_diluted"]
    epv_equity = epv_operations + excess_cash - debt
    if epv_equity <= 0.0:
        # Still a result: debt exceeding what the earnings carry is a finding, not a failure.
        warnings.append(E.warning(E.NEGATIVE_EPV_EQUITY))
    return Epv(
        epv_operations=epv_operations,
        cash=cash,
        operating_cash=operating_cash,
        excess_cash=excess_cash,
        total_debt=debt,
        epv_equity=epv_equity,
        shares_diluted=shares,
        epv_per_share=epv_equity / shares,
    )


@dataclass(slots=True)
class AssetValue:
    capitalized_rnd: float
    capitalized_sga: float
    asset_adjustments_total: float
    total_assets: float
    goodwill_intangibles: float
    non_interest_bearing_liabilities: float
    asset_value_operations: float
    asset_value_equity: float
    asset_value_per_share: float


def capitalized_rnd(years: list[dict], a: Assumptions, warnings: list) -> float:
    if not a.rnd_enabled:
        return 0.0
    L = a.rnd_amortization_years
    # Years before the normalisation window count here too: R&D life is independent of it.
    n = len(years)
    total = 0.0
    for i in range(L):
        if i < n:
            total += years[n - 1 - i]["rnd"] * (L - i) / L
    if L > n:
        warnings.append(E.warning(E.RND_HISTORY_SHORT))
    return total


def asset_value(years: list[dict], epv: Epv, a: Assumptions, warnings: list) -> AssetValue:
    latest = years[-1]
    rnd = capitalized_rnd(years, a, warnings)
    sga = a.sga_multiple * latest["sga"] if a.sga_enabled else 0.0
    adjustments = 0.0
    for _, amount in a.asset_adjustments:
        adjustments += amount
    total_assets = latest["total_assets"]
    goodwill = latest["goodwill_intangibles"]
    nibl = latest["non_interest_bearing_liabilities"]
    # Excess cash leaves the operating figure because EPV of operations excludes it too; both
    # are put back on an equity basis the same way.
    operations = total_assets - epv.excess_cash - goodwill - nibl + rnd + sga + adjustments
    equity = operations + epv.excess_cash - epv.total_debt
    return AssetValue(
        capitalized_rnd=rnd,
        capitalized_sga=sga,
        asset_adjustments_total=adjustments,
        total_assets=total_assets,
        goodwill_intangibles=goodwill,
        non_interest_bearing_liabilities=nibl,
        asset_value_operations=operations,
        asset_value_equity=equity,
        asset_value_per_share=equity / epv.shares_diluted,
    )


@dataclass(slots=True)
class Franchise:
    franchise_value: float
    franchise_ratio: float | None
    franchise_signal: str
    return_on_capital: float | None


def franchise(epv: Epv, av: AssetValue, adjusted_earnings: float, a: Assumptions) -> Franchise:
    capital = av.asset_value_operations
    value = epv.epv_operations - capital
    band = a.franchise_band * abs(capital)
    if value > band:
        signal = "franchise"
    elif value < -band:
        signal = "value_destroying"
    else:
        signal = "competitive"
    if capital > 0.0:
        return Franchise(value, epv.epv_operations / capital, signal, adjusted_earnings / capital)
    return Franchise(value, None, signal, None)


@dataclass(slots=True)
class Growth:
    value_with_growth_operations: float | None = None
    growth_value: float | None = None
    value_with_growth_equity: float | None = None
    value_with_growth_per_share: float | None = None


def growth_value(
    epv: Epv, av: AssetValue, fr: Franchise, wacc: float, a: Assumptions, warnings: list
) -> Growth:
    """Greenwald's Capital x (ROC - G) / (R - G). G < R was checked before EPV (10.2 step 5)."""
    g = a.growth_rate
    if g is None:
        return Growth()
    capital = av.asset_value_operations
    if capital <= 0.0 or fr.return_on_capital is None:
        warnings.append(E.warning(E.GROWTH_NOT_APPLICABLE))
        return Growth()
    roc = fr.return_on_capital
    operations = capital * (roc - g) / (wacc - g)
    equity = operations + epv.excess_cash - epv.total_debt
    if roc < wacc:
        warnings.append(E.warning(E.GROWTH_DESTROYS_VALUE))
    return Growth(
        value_with_growth_operations=operations,
        growth_value=operations - epv.epv_operations,
        value_with_growth_equity=equity,
        value_with_growth_per_share=equity / epv.shares_diluted,
    )


def margin_of_safety(epv_per_share: float, price: float | None) -> tuple[float | None, float | None]:
    if price is None or not epv_per_share > 0.0:
        return None, None
    return (epv_per_share - price) / epv_per_share, price / epv_per_share
