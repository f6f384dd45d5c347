"""EPV engine throughput on one core: a 10-year case with the full sensitivity grid.

    python bench/bench_engine.py [--seconds 3]

Goal: >= 2,000 analyses per second. Each run validates the raw document, computes every
figure of epv-method.md section 11 and fills the largest sensitivity table the schema allows
(wacc_steps = margin_steps = 5, i.e. 11 x 11 cells).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

try:
    from epv_cases.engine import ENGINE_VERSION, METHOD_VERSION, analyse
except ImportError:  # run from a checkout without the workspace installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "cases"))
    from epv_cases.engine import ENGINE_VERSION, METHOD_VERSION, analyse

GOAL_RUNS_PER_SECOND = 2_000


def ten_year_case() -> dict:
    years = []
    for i in range(10):
        revenue = 800.0 * 1.04**i
        years.append(
            {
                "fiscal_year": 2014 + i,
                "revenue": revenue,
                "operating_income": revenue * (0.13 + 0.01 * (i % 3)),
                "depreciation_amortization": 0.04 * revenue,
                "capital_expenditures": 0.05 * revenue,
                "ppe_net": 0.4 * revenue,
                "total_assets": 1.2 * revenue,
                "cash": 0.07 * revenue,
                "total_debt": 270.0,
                "shares_diluted": 50.0 - 0.2 * i,
                "income_tax_expense": 0.03 * revenue,
                "pretax_income": 0.13 * revenue,
                "sga": 0.2 * revenue,
                "rnd": 0.02 * revenue,
                "one_off_items": 5.0 if i == 6 else 0.0,
                "goodwill_intangibles": 80.0,
                "non_interest_bearing_liabilities": 0.17 * revenue,
            }
        )
    return {
        "schema_version": "1.0",
        "company": {"name": "Bench Co", "ticker": "BNCH", "currency": "USD", "units": "millions"},
        "fiscal_years": years,
        "assumptions": {
            "risk_free_rate": 0.04,
            "equity_risk_premium": 0.055,
            "beta": 1.1,
            "cost_of_debt": 0.06,
            "target_debt_weight": 0.25,
            "normalization_years": 10,
            "rnd_capitalization": {"enabled": True, "amortization_years": 5},
            "sga_capitalization": {"enabled": True, "multiple": 0.5},
            "asset_adjustments": [{"label": "Land at market value", "amount": 40.0}],
            "growth_rate": 0.03,
            "current_share_price": 21.0,
            "sensitivity": {"wacc_step": 0.005, "wacc_steps": 5, "margin_step": 0.005, "margin_steps": 5},
        },
    }


def measure(fn, seconds: float, rounds: int = 5) -> tuple[float, float]:
    """Best runs per CPU-second and best runs per wall-second over ``rounds`` rounds.

    CPU time (time.process_time) is what one core spends, whatever else the machine runs;
    wall time is shown too, and is lower on a busy machine.
    """
    for _ in range(200):  # warm-up
        fn()
    cpu_rates, wall_rates = [], []
    for _ in range(rounds):
        runs, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
        deadline = wall0 + seconds / rounds
        while True:
            for _ in range(50):
                fn()
            runs += 50
            wall = time.perf_counter()
            if wall >= deadline:
                cpu_rates.append(runs / max(time.process_time() - cpu0, 1e-9))
                wall_rates.append(runs / (wall - wall0))
                break
    return max(cpu_rates), max(wall_rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    doc = json.loads(json.dumps(ten_year_case()))  # plain JSON values, as an API would pass
    result = analyse(doc)
    assert result.ok, result.error
    cells = sum(len(row) for row in result.sensitivity["epv_per_share"])

    gc.collect()
    rate, wall_rate = measure(lambda: analyse(doc), args.seconds)
    rate_d, _ = measure(lambda: analyse(doc).to_dict(), args.seconds)

    verdict = "OK" if rate >= GOAL_RUNS_PER_SECOND else "BELOW GOAL"
    print(
        f"engine {ENGINE_VERSION} ({METHOD_VERSION}), Python {platform.python_version()}, "
        f"10 years, {cells}-cell sensitivity grid, one core"
    )
    print(
        f"analyse: {rate:,.0f} runs/s ({1e6 / rate:,.1f} us/run CPU; {wall_rate:,.0f} runs/s wall) | "
        f"analyse+to_dict: {rate_d:,.0f} runs/s | goal {GOAL_RUNS_PER_SECOND:,}/s: {verdict}"
    )
    return 0 if rate >= GOAL_RUNS_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
