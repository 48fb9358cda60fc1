"""Event plan: the HiGHS LP against an independent scipy formulation, and the rules a user checks
(merit order, notice, monthly limit, duration, rebound, storage limits, shortfall, increase)."""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from energy.storage.battery import default_station
from energy.storage.safety import safety_window
from energy.vpp.plan import (
    STATUS_MET,
    STATUS_SHORT,
    PlanError,
    PlanInputs,
    PlanSettings,
    plan_event,
    plan_index,
)
from energy.vpp.resources import EventSignal, FlexResource, StorageResource

TZ = "Asia/Shanghai"
SMALL = PlanSettings(shortfall_penalty_yuan_per_kwh=1000.0, rebound_hours=0.5,
                     precharge_hours=0.5)


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz=TZ)


def event(target_kw: float, direction: str = "reduce", notice: str = "2026-07-01 09:00",
          start: str = "2026-07-02 14:00", end: str = "2026-07-02 15:00") -> EventSignal:
    return EventSignal(ts(start), ts(end), direction, target_kw, 3.0, ts(notice))


def small_case(target_kw: float) -> PlanInputs:
    ev = event(target_kw)
    n = len(plan_index(ev, SMALL))  # 2 pre-charge + 4 event + 2 rebound steps
    tariff = np.array([0.3, 0.3, 1.2, 1.4, 1.4, 1.2, 0.5, 0.5])
    assert n == len(tariff)
    res = [
        FlexResource("C1", "E1", "curtailable", 30.0, cost_yuan_per_kwh=2.0),
        FlexResource("C2", "E2", "curtailable", 50.0, cost_yuan_per_kwh=0.8,
                     max_duration_minutes=30),
        FlexResource("S1", "E1", "shiftable", 40.0, cost_yuan_per_kwh=0.3, rebound_fraction=0.5),
    ]
    da = np.array([-10.0, 0, 5, 5, 0, 0, -10, 0])
    store = StorageResource("ESS", "park", power_charge_kw=20.0, power_discharge_kw=20.0,
                            soc_min_kwh=10.0, soc_max_kwh=60.0, soc_start_kwh=30.0,
                            day_ahead_kw=da, eta_charge=0.9, eta_discharge=0.9,
                            wear_cost_yuan_per_kwh=0.05)
    return PlanInputs(ev, np.full(n, 500.0), tariff, res, [store], settings=SMALL)


def independent_cost(inp: PlanInputs) -> float:
    """The same problem written out by hand for scipy's linprog; returns the least cost against
    the day-ahead plan (penalty of shortfall included)."""
    dt = 0.25
    tariff = inp.tariff_yuan_per_kwh
    n, ev_steps, after = 8, [2, 3, 4, 5], [6, 7]
    s = inp.storage[0]
    names = ([f"C1_{t}" for t in ev_steps] + [f"C2_{t}" for t in ev_steps]
             + [f"S1_{t}" for t in ev_steps] + [f"Y_{t}" for t in after]
             + [f"c_{t}" for t in range(n)] + [f"d_{t}" for t in range(n)]
             + [f"e_{t}" for t in range(n)] + [f"f_{t}" for t in ev_steps])
    k = {nm: i for i, nm in enumerate(names)}
    cost = np.zeros(len(names))
    bounds = [(0, None)] * len(names)
    for t in ev_steps:
        cost[k[f"C1_{t}"]] = (2.0 - tariff[t]) * dt
        cost[k[f"C2_{t}"]] = (0.8 - tariff[t]) * dt
        cost[k[f"S1_{t}"]] = (0.3 - tariff[t]) * dt
        cost[k[f"f_{t}"]] = 1000.0 * dt
        bounds[k[f"C1_{t}"]], bounds[k[f"C2_{t}"]], bounds[k[f"S1_{t}"]] = (0, 30), (0, 50), (0, 40)
    for t in after:
        cost[k[f"Y_{t}"]] = tariff[t] * dt
        bounds[k[f"Y_{t}"]] = (0, 40)
    for t in range(n):
        cost[k[f"c_{t}"]] = (tariff[t] + 0.05) * dt
        cost[k[f"d_{t}"]] = (-tariff[t] + 0.05) * dt
        bounds[k[f"c_{t}"]] = bounds[k[f"d_{t}"]] = (0, 20)
        bounds[k[f"e_{t}"]] = (10, 60)
    a_eq, b_eq, a_ub, b_ub = [], [], [], []

    def row(terms: dict[str, float]) -> np.ndarray:
        r = np.zeros(len(names))
        for nm, v in terms.items():
            r[k[nm]] += v
        return r

    for t in ev_steps:  # reduction + storage beyond its day-ahead plan + shortfall = target
        a_eq.append(row({f"C1_{t}": 1, f"C2_{t}": 1, f"S1_{t}": 1, f"d_{t}": 1, f"c_{t}": -1,
                         f"f_{t}": 1}))
        b_eq.append(inp.event.target_kw + s.day_ahead_kw[t])
    a_eq.append(row({**{f"Y_{t}": 1 for t in after}, **{f"S1_{t}": -0.5 for t in ev_steps}}))
    b_eq.append(0.0)
    a_ub.append(row({f"C2_{t}": 1 for t in ev_steps}))  # 30 minutes at 50 kW = 2 steps
    b_ub.append(100.0)
    for t in range(n):
        terms = {f"e_{t}": 1.0, f"c_{t}": -0.9 * dt, f"d_{t}": dt / 0.9}
        if t:
            terms[f"e_{t - 1}"] = -1.0
        a_eq.append(row(terms))
        b_eq.append(30.0 if t == 0 else 0.0)
    end_soc = s.soc_path_kwh(s.day_ahead_kw, dt)[-1]
    a_ub.append(row({f"e_{n - 1}": -1.0}))
    b_ub.append(-end_soc)
    out = linprog(cost, A_ub=np.array(a_ub), b_ub=b_ub, A_eq=np.array(a_eq), b_eq=b_eq,
                  bounds=bounds, method="highs-ipm")
    assert out.status == 0, out.message
    da = s.day_ahead_kw
    const = float((((tariff + 0.05) * np.maximum(-da, 0) + (-tariff + 0.05) * np.maximum(da, 0))
                   * dt).sum())
    return float(out.fun) - const


@pytest.mark.parametrize("target_kw", [60.0, 110.0, 400.0])
def test_objective_matches_an_independent_linprog_formulation(target_kw):
    inp = small_case(target_kw)
    r = plan_event(inp)
    penalty = inp.settings.shortfall_penalty_yuan_per_kwh * r.shortfall_kwh
    assert r.cost_yuan + penalty == pytest.approx(independent_cost(inp), abs=1e-5)


def test_shortfall_is_named_per_step_when_the_target_exceeds_what_is_available():
    r = plan_event(small_case(400.0))
    assert r.status == STATUS_SHORT
    assert (r.shortfall_kw > 0).all()
    # Every step delivers what it can; shortfall + delivered = required, per step.
    assert np.allclose(r.delivered_kw + r.shortfall_kw, r.required_kw)
    assert r.shortfall_kwh == pytest.approx(float(r.shortfall_kw.sum()) * 0.25)
    met = plan_event(small_case(60.0))
    assert met.status == STATUS_MET and met.shortfall_kwh == pytest.approx(0.0, abs=1e-6)


def test_cheapest_resources_are_called_first_and_limits_hold():
    r = plan_event(small_case(60.0))
    ins = r.instructions_kw.loc[r.event_index]
    assert (ins["C1"] < 1e-6).all()  # the dearest load is not needed for 60 kW
    assert (ins["S1"] > 39.999).all()  # the cheapest runs at its maximum
    assert ins["C2"].sum() * 0.25 <= 50.0 * 0.5 + 1e-6  # 30-minute duration as energy
    # Rebound: half the shifted energy returns after the event, never during it.
    shifted = ins["S1"].sum() * 0.25
    reb = r.rebound_kw["S1"]
    assert reb.loc[r.event_index].abs().sum() == 0
    assert reb.sum() * 0.25 == pytest.approx(0.5 * shifted)
    soc = r.storage_soc_kwh["ESS"]
    assert soc.min() >= 10.0 - 1e-6 and soc.max() <= 60.0 + 1e-6
    assert (r.instructions_kw["ESS"].abs() <= 20.0 + 1e-6).all()
    s = small_case(60.0).storage[0]
    assert soc.iloc[-1] >= s.soc_path_kwh(s.day_ahead_kw, 0.25)[-1] - 1e-6
    by_ent = r.by_enterprise()
    assert by_ent["energy_kwh"].sum() == pytest.approx(60.0 * 1.0)


def test_resources_without_enough_notice_or_events_left_are_not_called():
    ev = event(50.0, notice="2026-07-02 13:30")  # 30 minutes' notice
    n = len(plan_index(ev, SMALL))
    res = [
        FlexResource("SLOW", "E1", "curtailable", 100.0, min_notice_minutes=120,
                     cost_yuan_per_kwh=0.1),
        FlexResource("USED", "E1", "curtailable", 100.0, max_events_per_month=2,
                     events_this_month=2, cost_yuan_per_kwh=0.1),
        FlexResource("FAST", "E2", "curtailable", 30.0, cost_yuan_per_kwh=5.0),
    ]
    r = plan_event(PlanInputs(ev, np.full(n, 400.0), np.full(n, 0.6), res, settings=SMALL))
    assert "120 min" in r.unavailable["SLOW"] and "monthly limit" in r.unavailable["USED"]
    assert set(r.instructions_kw.columns) == {"FAST"}
    assert r.status == STATUS_SHORT
    assert r.shortfall_kwh == pytest.approx((50.0 - 30.0) * 1.0)


def test_storage_keeps_its_day_ahead_plan_before_the_notice():
    ev = event(30.0, notice="2026-07-02 13:45")
    n = len(plan_index(ev, SMALL))
    da = np.array([-20.0, -20, 0, 0, 0, 0, 0, 0])
    # 100 kW both ways: enough to recharge to the day-ahead end SOC in the rebound window.
    store = StorageResource("ESS", "park", 100.0, 100.0, 0.0, 200.0, 50.0, da)
    r = plan_event(PlanInputs(ev, np.full(n, 400.0), np.full(n, 0.6), [], [store],
                              settings=SMALL))
    # 13:30 precedes the notice (13:45): the plan follows the day-ahead setpoint there.
    assert r.instructions_kw["ESS"].iloc[0] == pytest.approx(-20.0)
    assert r.instructions_kw["ESS"].loc[r.event_index].min() >= 30.0 - 1e-6


def test_increase_event_curtails_pv_and_charges_storage_not_loads():
    ev = event(60.0, direction="increase")
    n = len(plan_index(ev, SMALL))
    res = [
        FlexResource("PV1", "E1", "pv_curtailment", 200.0, cost_yuan_per_kwh=0.1,
                     available_kw=np.array([60.0, 50.0, 40.0, 30.0])),
        FlexResource("LOAD", "E2", "curtailable", 500.0),
    ]
    store = StorageResource("ESS", "park", 30.0, 30.0, 0.0, 200.0, 100.0, np.zeros(n))
    r = plan_event(PlanInputs(ev, np.full(n, 400.0), np.full(n, 0.6), res, [store],
                              settings=SMALL))
    assert "increase" in r.unavailable["LOAD"]
    pv = r.instructions_kw["PV1"].loc[r.event_index].to_numpy()
    assert (pv <= np.array([60.0, 50.0, 40.0, 30.0]) + 1e-6).all()  # within forecast output
    ess = r.instructions_kw["ESS"].loc[r.event_index].to_numpy()
    assert np.allclose(pv - ess, 60.0)  # curtailed PV + extra charging = the target
    assert r.status == STATUS_MET


def test_forecast_below_baseline_lowers_the_requirement_and_limits_bind():
    ev = event(100.0)
    n = len(plan_index(ev, SMALL))
    baseline = np.full(n, 1000.0)
    expected = np.full(n, 960.0)  # the park already runs 40 kW below its baseline
    res = [FlexResource("S", "E1", "shiftable", 100.0, rebound_fraction=1.0)]
    r = plan_event(PlanInputs(ev, baseline, np.full(n, 0.6), res, expected_kw=expected,
                              import_limit_kw=1000.0, settings=SMALL))
    assert np.allclose(r.required_kw, 60.0)
    # All 60 kW x 1 h return within 30 min, but the connection allows only +40 kW above the
    # forecast: the shift is capped and the rest is a named shortfall.
    reb = r.rebound_kw["S"]
    assert (reb + expected <= 1000.0 + 1e-6).all()
    assert r.instructions_kw["S"].sum() * 0.25 == pytest.approx(40.0 * 0.5)
    assert r.status == STATUS_SHORT


def test_station_from_the_battery_spec_respects_the_safety_window():
    b = default_station()
    ev = event(1e6)
    n = len(plan_index(ev, SMALL))
    store = StorageResource.from_battery("ESS", "park", b, np.zeros(n), safety=safety_window(b))
    r = plan_event(PlanInputs(ev, np.full(n, 2e6), np.full(n, 0.6), [], [store], settings=SMALL))
    assert r.instructions_kw["ESS"].max() <= b.power_discharge_mw * 1000 + 1e-3
    assert r.storage_soc_kwh["ESS"].min() >= b.soc_min_mwh * 1000 - 1e-3
    assert r.status == STATUS_SHORT


def test_inconsistent_inputs_name_the_field():
    ev = event(10.0)
    n = len(plan_index(ev, SMALL))
    with pytest.raises(PlanError, match="tariff_yuan_per_kwh"):
        plan_event(PlanInputs(ev, np.full(n, 1.0), np.full(n - 1, 0.6), settings=SMALL))
    bad = StorageResource("ESS", "park", 10.0, 10.0, 0.0, 10.0, 5.0, np.full(n, 10.0))
    with pytest.raises(PlanError, match=r"ESS\.day_ahead_kw"):
        plan_event(PlanInputs(ev, np.full(n, 1.0), np.full(n, 0.6), [], [bad], settings=SMALL))
    dup = [FlexResource("A", "E", "curtailable", 1.0), FlexResource("A", "E", "curtailable", 1.0)]
    with pytest.raises(PlanError, match="unique"):
        plan_event(PlanInputs(ev, np.full(n, 1.0), np.full(n, 0.6), dup, settings=SMALL))
    with pytest.raises(ValueError, match="target_kw"):
        event(float("inf"))
