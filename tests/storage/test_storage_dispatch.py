"""Optimal dispatch LP: hand case, constraints on random cases, infeasibility, cold limit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy.storage import (
    BatterySpec,
    DispatchInfeasible,
    DispatchSignals,
    ObjectiveWeights,
    default_station,
    optimize_dispatch,
)

TOL = 1e-6


def hourly(values: list[float] | np.ndarray, freq: str = "h") -> pd.Series:
    idx = pd.date_range("2030-01-01", periods=len(values), freq=freq, tz="Asia/Shanghai")
    return pd.Series(np.asarray(values, dtype=float), index=idx)


def test_hand_solved_two_step_arbitrage() -> None:
    # 5 MW / 10 MWh, eta_c 0.9, eta_d 1, SOC 0 -> 0, load 10 MW, prices 100 then 300 yuan/MWh.
    # Buying 1 MWh at 100 returns 0.9 MWh worth 270 > 100, so charge at full 5 MW in hour 1:
    # SOC = 0.9 * 5 = 4.5 MWh; hour 2 discharges 4.5 MW (<= 5 MW) back to SOC 0.
    # Cost = 100 * (10 + 5) + 300 * (10 - 4.5) = 1500 + 1650 = 3150 yuan (4000 without battery).
    b = BatterySpec(5, 5, 10, eta_charge=0.9, eta_discharge=1.0, soc_initial_pct=0)
    r = optimize_dispatch(
        DispatchSignals(hourly([10, 10]), None, price_yuan_per_mwh=hourly([100, 300])),
        b,
    )
    assert r.objective == pytest.approx(3150.0)
    assert r.schedule["charge_mw"].tolist() == pytest.approx([5.0, 0.0])
    assert r.schedule["discharge_mw"].tolist() == pytest.approx([0.0, 4.5])
    assert r.schedule["soc_mwh"].tolist() == pytest.approx([4.5, 0.0], abs=1e-9)
    assert r.schedule["grid_import_mw"].tolist() == pytest.approx([15.0, 5.5])
    assert r.kpis["throughput_mwh"] == pytest.approx(9.5)


def test_schedule_has_the_api_columns() -> None:
    r = optimize_dispatch(DispatchSignals(hourly([1, 2, 3]), hourly([0, 4, 0])), default_station())
    assert list(r.schedule.columns) == [
        "charge_mw", "discharge_mw", "soc_mwh", "grid_import_mw", "grid_export_mw",
        "pv_curtailed_mw",
    ]
    for key in ("cost_yuan", "throughput_mwh", "equivalent_full_cycles", "co2_t",
                "pv_absorbed_mwh", "peak_import_mw", "simultaneous_steps"):
        assert key in r.kpis


@st.composite
def cases(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 30))
    step = draw(st.sampled_from(["h", "15min"]))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    soc_min = draw(st.floats(0, 40))
    soc_max = draw(st.floats(soc_min + 10, 100))
    soc_init = draw(st.floats(soc_min + 1, soc_max))
    load = hourly(rng.uniform(0, 15, n), step)
    aux = draw(st.floats(0, 0.5))
    # An import limit at or above the peak load plus aux (15.5 MW) keeps every case feasible.
    import_limit = draw(st.one_of(st.none(), st.floats(0, 10)))
    battery = BatterySpec(
        power_charge_mw=draw(st.floats(0.5, 20)),
        power_discharge_mw=draw(st.floats(0.5, 20)),
        energy_mwh=draw(st.floats(1, 60)),
        eta_charge=draw(st.floats(0.8, 1.0)),
        eta_discharge=draw(st.floats(0.8, 1.0)),
        soc_min_pct=soc_min,
        soc_max_pct=soc_max,
        soc_initial_pct=soc_init,
        soc_final_pct=draw(st.floats(0, soc_init - 1)),
        aux_load_mw=aux,
        self_discharge_pct_per_day=draw(st.floats(0, 1)),
        grid_import_limit_mw=None if import_limit is None else 15.5 + import_limit,
        grid_export_limit_mw=draw(st.one_of(st.none(), st.floats(0, 10))),
        degradation_cost_yuan_per_mwh=draw(st.floats(0, 50)),
        charge_block_below_c=0.0,
        charge_full_above_c=10.0,
    )
    return {
        "load": load,
        "pv": pd.Series(rng.uniform(0, 25, n) * (rng.random(n) > 0.3), load.index),
        "price": pd.Series(rng.uniform(50, 1200, n), load.index),
        "export_price": draw(st.floats(0, 40)),
        "tco2": pd.Series(rng.uniform(0.2, 0.9, n), load.index),
        "temp": pd.Series(rng.uniform(-15, 25, n), load.index),
        "battery": battery,
        "demand": draw(st.sampled_from([0.0, 30.0])),
        "curtail_penalty": draw(st.floats(0, 100)),
    }


def solve(case: dict, battery: BatterySpec | None = None):
    return optimize_dispatch(
        DispatchSignals(
            case["load"], case["pv"], price_yuan_per_mwh=case["price"],
            export_price_yuan_per_mwh=case["export_price"],
            demand_charge_yuan_per_kw_month=case["demand"], grid_tco2_per_mwh=case["tco2"],
            carbon_price_yuan_per_tco2=80.0,
            curtailment_penalty_yuan_per_mwh=case["curtail_penalty"], temperature_c=case["temp"],
        ),
        battery or case["battery"],
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_lp_respects_every_constraint(case: dict) -> None:
    b: BatterySpec = case["battery"]
    r = solve(case)
    s = r.schedule
    dt = 1.0 if case["load"].index.freqstr == "h" else 0.25
    c, d, soc = s["charge_mw"].to_numpy(), s["discharge_mw"].to_numpy(), s["soc_mwh"].to_numpy()
    imp, exp = s["grid_import_mw"].to_numpy(), s["grid_export_mw"].to_numpy()
    cur, pv, load = s["pv_curtailed_mw"].to_numpy(), case["pv"].to_numpy(), case["load"].to_numpy()
    cold = b.charge_limit_mw(case["temp"].to_numpy(), len(c))
    assert (c >= -TOL).all() and (c <= cold + TOL).all()
    assert (d >= -TOL).all() and (d <= b.power_discharge_mw + TOL).all()
    assert (soc >= b.soc_min_mwh - TOL).all() and (soc <= b.soc_max_mwh + TOL).all()
    assert soc[-1] >= b.soc_final_mwh - TOL
    assert (imp >= -TOL).all() and (exp >= -TOL).all() and (cur >= -TOL).all()
    assert (cur <= pv + TOL).all()
    if b.grid_import_limit_mw is not None:
        assert (imp <= b.grid_import_limit_mw + TOL).all()
    if b.grid_export_limit_mw is not None:
        assert (exp <= b.grid_export_limit_mw + TOL).all()
    # SOC recursion with self-discharge, split efficiencies and the step length.
    r_step = (1 - b.self_discharge_pct_per_day / 100) ** (dt / 24)
    prev = np.concatenate([[b.soc_initial_mwh], soc[:-1]])
    expect = r_step * prev + b.eta_charge * dt * c - dt * d / b.eta_discharge
    assert np.abs(soc - expect).max() < 1e-6
    # Energy balance at every step: load + aux + charge + export + curtail = pv + discharge + import
    balance = load + b.aux_load_mw + c + exp + cur - pv - d - imp
    assert np.abs(balance).max() < 1e-6
    # The LP objective equals the cost of its schedule recomputed term by term.
    assert r.objective == pytest.approx(r.kpis["weighted_objective"], rel=1e-7, abs=1e-5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_adding_storage_never_raises_optimal_cost(case: dict) -> None:
    b: BatterySpec = case["battery"]
    none = BatterySpec(0, 0, 0, aux_load_mw=b.aux_load_mw,
                       grid_export_limit_mw=b.grid_export_limit_mw)
    assert solve(case).objective <= solve(case, none).objective + 1e-6


def test_unreachable_final_soc_raises_clear_error() -> None:
    b = BatterySpec(1, 1, 100, soc_initial_pct=10, soc_final_pct=90)
    with pytest.raises(DispatchInfeasible, match="unreachable"):
        optimize_dispatch(DispatchSignals(hourly([1, 1, 1]), None, price_yuan_per_mwh=100.0), b)


def test_cold_blocks_final_soc_reports_unreachable() -> None:
    b = BatterySpec(10, 10, 20, soc_initial_pct=50, soc_final_pct=60,
                    charge_block_below_c=0, charge_full_above_c=10)
    with pytest.raises(DispatchInfeasible, match="cold"):
        optimize_dispatch(
            DispatchSignals(
                hourly([1] * 4), None, price_yuan_per_mwh=100.0, temperature_c=hourly([-5] * 4),
            ),
            b,
        )


def test_unservable_load_raises_clear_error() -> None:
    b = BatterySpec(1, 1, 4, grid_import_limit_mw=2.0)
    with pytest.raises(DispatchInfeasible, match="load cannot be served"):
        optimize_dispatch(DispatchSignals(hourly([1, 10]), None, price_yuan_per_mwh=100.0), b)


def test_cold_charge_limit_respected() -> None:
    # Free PV surplus all day; charging blocked at -5 C, half power at 5 C, full at >= 10 C.
    b = BatterySpec(10, 10, 100, soc_initial_pct=0, charge_block_below_c=0, charge_full_above_c=10,
                    grid_export_limit_mw=0.0)
    temps = hourly([-5, 5, 12, -1])
    r = optimize_dispatch(
        DispatchSignals(
            hourly([0] * 4), hourly([20] * 4), curtailment_penalty_yuan_per_mwh=10,
            temperature_c=temps,
        ),
        b,
    )
    assert r.schedule["charge_mw"].tolist() == pytest.approx([0, 5, 10, 0], abs=1e-9)


def test_demand_charge_shaves_monthly_peak() -> None:
    load = hourly([10, 10, 30, 10, 10, 10])
    b = BatterySpec(20, 20, 40, soc_initial_pct=50, soc_final_pct=50)
    flat = optimize_dispatch(DispatchSignals(load, None, price_yuan_per_mwh=100.0), b)
    shaved = optimize_dispatch(
        DispatchSignals(load, None, price_yuan_per_mwh=100.0, demand_charge_yuan_per_kw_month=30.0),
        b,
    )
    assert flat.kpis["peak_import_mw"] == pytest.approx(30.0)
    assert shaved.kpis["peak_import_mw"] < 20.0
    assert shaved.kpis["demand_charge_yuan"] == pytest.approx(
        shaved.kpis["peak_import_mw"] * 30.0 * 1000.0
    )


def test_simultaneous_steps_reported_and_fixed() -> None:
    # PV surplus that cannot be exported, a large curtailment penalty and no degradation cost:
    # burning surplus in conversion losses (charging and discharging at once) is optimal in the LP.
    # Nearly full 20 MW / 100 MWh battery: charging 20 MW while discharging 16.2 MW keeps the SOC
    # full and cuts curtailment from 15 to 11.2 MW in the second hour.
    b = BatterySpec(20, 20, 100, eta_charge=0.9, eta_discharge=0.9, soc_initial_pct=95,
                    grid_export_limit_mw=0.0)
    load, pv = hourly([0, 0]), hourly([15, 15])
    r = optimize_dispatch(DispatchSignals(load, pv, curtailment_penalty_yuan_per_mwh=100), b)
    assert r.kpis["simultaneous_steps"] > 0
    fixed = optimize_dispatch(
        DispatchSignals(load, pv, curtailment_penalty_yuan_per_mwh=100),
        b, fix_simultaneous=True,
    )
    # Hour 2 nets to charge only; hour 1 (all PV already curtailed, SOC falling) has nowhere to put
    # the freed power, so netting it would break the balance and it is left as is.
    assert fixed.kpis["simultaneous_steps"] < r.kpis["simultaneous_steps"]
    assert fixed.schedule["discharge_mw"].iloc[1] == pytest.approx(0.0)
    assert fixed.kpis["max_balance_error_mw"] < 1e-9
    assert fixed.schedule["soc_mwh"].tolist() == pytest.approx(r.schedule["soc_mwh"].tolist())


def test_co2_weight_shifts_import_to_clean_hours() -> None:
    b = BatterySpec(10, 10, 10, eta_charge=1, eta_discharge=1, soc_initial_pct=0)
    load = hourly([5, 5])
    dirty_then_clean = hourly([0.9, 0.1])
    r = optimize_dispatch(
        DispatchSignals(
            load, None, price_yuan_per_mwh=100.0, grid_tco2_per_mwh=dirty_then_clean,
            carbon_price_yuan_per_tco2=200.0, weights=ObjectiveWeights(energy_cost=0.0),
        ),
        b,
    )
    # Only CO2 counts: no reason to import in the dirty hour beyond the load; with SOC starting at
    # 0 nothing can be shifted earlier, so import equals load each hour: 5*0.9 + 5*0.1 = 5 t.
    assert r.kpis["co2_t"] == pytest.approx(5.0)


def test_start_at_floor_during_cold_night_is_feasible() -> None:
    # SOC starts at the 10 % floor, charging is blocked for 3 cold hours and the cells lose 2.4 %
    # a day: the SOC may only decay (10 MWh x 0.999^k), then is restored to the floor once warm.
    b = BatterySpec(10, 10, 100, soc_min_pct=10, soc_initial_pct=10, soc_final_pct=10,
                    self_discharge_pct_per_day=2.4, charge_block_below_c=0, charge_full_above_c=5)
    r_h = (1 - 0.024) ** (1 / 24)
    temps = hourly([-8, -6, -3, 10, 12])
    res = optimize_dispatch(
        DispatchSignals(hourly([5] * 5), None, price_yuan_per_mwh=100.0, temperature_c=temps),
        b,
    )
    soc = res.schedule["soc_mwh"].to_numpy()
    assert soc[:3] == pytest.approx([10 * r_h, 10 * r_h**2, 10 * r_h**3])
    assert soc[3:].min() >= 10.0 - 1e-9


@pytest.mark.parametrize("demand_yuan_per_kw_month", [0.0, 30.0])
def test_chunked_warm_start_reaches_the_same_optimum(demand_yuan_per_kw_month: float) -> None:
    # 100 days hourly (> 3 chunks: 30-day blocks, or the 4 calendar months with a demand charge):
    # the stitched basis only changes where the simplex starts, not the optimum.
    n = 2400
    rng = np.random.default_rng(5)
    h = np.arange(n) % 24
    load = hourly(20 + 5 * np.sin(h / 24 * 2 * np.pi) + rng.uniform(0, 2, n))
    pv = pd.Series(np.clip(np.sin((h - 7) / 12 * np.pi), 0, None) * 40 * rng.uniform(0.3, 1, n),
                   load.index)
    price = pd.Series(np.where((h >= 18) & (h < 23), 900.0, np.where(h < 8, 250.0, 550.0)),
                      load.index)
    b = BatterySpec(10, 10, 40, soc_min_pct=10, soc_max_pct=95, soc_final_pct=50,
                    self_discharge_pct_per_day=0.1, grid_export_limit_mw=5,
                    degradation_cost_yuan_per_mwh=5, charge_block_below_c=0, charge_full_above_c=5)
    temps = pd.Series(np.where(h < 6, -2.0, 10.0), load.index)
    kw = dict(price_yuan_per_mwh=price, curtailment_penalty_yuan_per_mwh=5, temperature_c=temps,
              demand_charge_yuan_per_kw_month=demand_yuan_per_kw_month)
    warm = optimize_dispatch(DispatchSignals(load, pv, **kw), b, warm_start=True)
    cold = optimize_dispatch(DispatchSignals(load, pv, **kw), b, warm_start=False)
    assert warm.objective == pytest.approx(cold.objective, rel=1e-9)
