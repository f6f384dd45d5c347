"""Maintenance capex, excess depreciation and adjusted earnings (epv-method.md section 5)."""

from __future__ import annotations

from dataclasses import dataclass

from . import errors as E
from .schema import Assumptions


@dataclass(slots=True)
class Maintenance:
    total_capex: float
    depreciation_amortization: float
    ppe_to_revenue_ratios: list[float]
    avg_ppe_to_revenue: float
    revenue_growth: float
    maintenance_capex_floor: float
    growth_capex: float | None
    maintenance_capex: float
    excess_depreciation: float
    adjusted_earnings: float


def maintenance_capex(
    years: list[dict], window: list[dict], nopat: float, a: Assumptions, warnings: list
) -> Maintenance:
    latest, previous = years[-1], years[-2]
    ratios = [y["ppe_net"] / y["revenue"] for y in window]
    avg_ratio = sum(ratios) / len(ratios)
    revenue_growth = latest["revenue"] - previous["revenue"]
    total_capex = latest["capital_expenditures"]
    da = latest["depreciation_amortization"]
    floor = a.maintenance_floor_pct_of_da * da
    # The diagnostic figures above are stored for every method; only Greenwald uses them.
    method = a.maintenance_capex_method
    growth_capex: float | None = None
    if method == "greenwald":
        growth_capex = avg_ratio * revenue_growth
        if growth_capex < 0.0:
            # Shrinking must not be rewarded with maintenance capex above total capex.
            growth_capex = 0.0
            warnings.append(E.warning(E.REVENUE_DECLINED_NO_GROWTH_CAPEX))
        maintenance = total_capex - growth_capex
        if maintenance < floor:
            # Upkeep is never assumed to be almost free, even when growth swallows capex.
            maintenance = floor
            warnings.append(E.warning(E.MAINTENANCE_CAPEX_FLOORED))
    elif method == "depreciation":
        maintenance = da
    elif method == "total_capex":
        maintenance = total_capex
    else:  # manual
        maintenance = a.maintenance_capex_value
    # Added after tax and in full: swapping D&A for maintenance capex as the economic charge
    # changes the cash kept, not the tax bill (5.3).
    excess = da - maintenance
    return Maintenance(
        total_capex=total_capex,
        depreciation_amortization=da,
        ppe_to_revenue_ratios=ratios,
        avg_ppe_to_revenue=avg_ratio,
        revenue_growth=revenue_growth,
        maintenance_capex_floor=floor,
        growth_capex=growth_capex,
        maintenance_capex=maintenance,
        excess_depreciation=excess,
        adjusted_earnings=nopat + excess,
    )
