"""Sensitivity table of EPV per share over WACC x operating margin (epv-method.md 9.2)."""

from __future__ import annotations

from typing import Any

# A WACC this close to zero has no meaningful perpetuity; its row is null.
MIN_WACC = 1e-9


def sensitivity_table(
    *,
    wacc: float,
    wacc_step: float,
    wacc_steps: int,
    margin: float,
    margin_step: float,
    margin_steps: int,
    revenue_basis_value: float,
    tax_rate: float,
    excess_depreciation: float,
    excess_cash: float,
    total_debt: float,
    shares: float,
) -> dict[str, Any]:
    # base + k * step, never repeated addition, so the centre cell equals epv_per_share exactly.
    wacc_values = [wacc + k * wacc_step for k in range(-wacc_steps, wacc_steps + 1)]
    margin_values = [margin + j * margin_step for j in range(-margin_steps, margin_steps + 1)]
    # Same association as the main path ((m x revenue) x (1 - t)) + excess depreciation.
    keep = 1.0 - tax_rate
    earnings = [m * revenue_basis_value * keep + excess_depreciation for m in margin_values]
    null_row = [None] * len(margin_values)
    rows: list[list[float | None]] = []
    for w in wacc_values:
        if w <= MIN_WACC:
            rows.append(list(null_row))
            continue
        # Same association as epv_equity: (e / w + excess_cash) - total_debt.
        rows.append([(e / w + excess_cash - total_debt) / shares if e > 0.0 else None for e in earnings])
    return {"wacc_values": wacc_values, "margin_values": margin_values, "epv_per_share": rows}
