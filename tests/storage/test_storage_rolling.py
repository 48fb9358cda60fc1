"""Rolling horizon: perfect forecasts and a window to the end give the one-shot optimum."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy.forecasting import pv_forecast_with_error, seasonal_naive_forecast
from energy.storage import BatterySpec, DispatchSignals, optimize_dispatch, rolling_dispatch
from energy.tariffs import load_tariff

N = 72


@pytest.fixture(scope="module")
def case() -> dict:
    # Three days across a month boundary, so the monthly demand charge has two peaks.
    idx = pd.date_range("2030-03-30", periods=N, freq="h", tz="Asia/Shanghai")
    h = idx.hour.to_numpy()
    rng = np.random.default_rng(7)
    pv = np.clip(np.sin((h - 7) / 12 * np.pi), 0, None) * 30 * rng.uniform(0.5, 1.0, N)
    load = 15 + 5 * np.sin(h / 24 * 2 * np.pi) + rng.uniform(0, 3, N)
    battery = BatterySpec(8, 8, 32, eta_charge=0.95, eta_discharge=0.95, soc_min_pct=10,
                          soc_max_pct=95, soc_initial_pct=50, soc_final_pct=50,
                          self_discharge_pct_per_day=0.1, grid_export_limit_mw=5.0,
                          degradation_cost_yuan_per_mwh=10.0)
    return {
        "load": pd.Series(load, idx),
        "pv": pd.Series(pv, idx),
        "battery": battery,
        "kw": dict(tariff=load_tariff("example_tou_illustrative"), grid_tco2_per_mwh=0.55,
                   carbon_price_yuan_per_tco2=80.0, curtailment_penalty_yuan_per_mwh=5.0),
    }


@pytest.mark.parametrize("commit", [1, 6, 24])
def test_perfect_forecast_window_to_end_equals_one_shot(case: dict, commit: int) -> None:
    one_shot = optimize_dispatch(
        DispatchSignals(case["load"], case["pv"], **case["kw"]),
        case["battery"],
    )
    assert one_shot.kpis["demand_charge_yuan"] > 0
    rolled = rolling_dispatch(
        DispatchSignals(case["load"], case["pv"], **case["kw"]),
        case["battery"], window_steps=N, commit_steps=commit,
    )
    assert rolled.objective == pytest.approx(one_shot.objective, rel=1e-9)
    lost = rolled.kpis["value_lost_vs_perfect_yuan"]
    assert lost == pytest.approx(0.0, abs=1e-6 * one_shot.objective)


@pytest.mark.parametrize(("window", "commit"), [(6, 1), (12, 6), (24, 12), (48, 24)])
def test_shorter_windows_never_better(case: dict, window: int, commit: int) -> None:
    rolled = rolling_dispatch(
        DispatchSignals(case["load"], case["pv"], **case["kw"]),
        case["battery"], window_steps=window, commit_steps=commit,
    )
    assert rolled.objective >= rolled.kpis["perfect_objective"] - 1e-6
    soc = rolled.schedule["soc_mwh"]
    b = case["battery"]
    assert soc.min() >= b.soc_min_mwh - 1e-6 and soc.max() <= b.soc_max_mwh + 1e-6
    assert soc.iloc[-1] >= b.soc_final_mwh - 1e-6
    assert rolled.kpis["solves"] == -(-N // commit)


def test_forecast_errors_realised_against_actuals(case: dict) -> None:
    pv_fc = pv_forecast_with_error(case["pv"], sigma=0.3, seed=3)
    load_fc = seasonal_naive_forecast(case["load"], "1D")
    rolled = rolling_dispatch(
        DispatchSignals(case["load"], case["pv"], **case["kw"]),
        case["battery"], window_steps=24, commit_steps=1, pv_forecast_mw=pv_fc,
        load_forecast_mw=load_fc,
    )
    assert rolled.kpis["max_balance_error_mw"] < 1e-9  # balance closes with the ACTUAL series
    assert rolled.kpis["value_lost_vs_perfect_yuan"] >= -1e-6
    b = case["battery"]
    assert rolled.schedule["soc_mwh"].between(b.soc_min_mwh - 1e-6, b.soc_max_mwh + 1e-6).all()
