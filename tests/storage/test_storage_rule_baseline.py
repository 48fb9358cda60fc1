"""The rule baseline is what a competent operator would run: it shaves the monthly peak under a
demand charge, never sets a new peak by charging from the grid, charges in a valley only what the
following block needs, honours every money input and the end-SOC floor, and so never costs more
than no storage on a park with PV and an evening peak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy.storage import BatterySpec, DispatchSignals, rule_based_dispatch
from energy.storage.problem import compute_kpis, make_problem, schedule_frame
from energy.storage.rolling import realise
from energy.tariffs import load_tariff

TARIFF = load_tariff("example_tou_illustrative")  # demand charge 30 yuan/kW-month


def _park(days: int = 14) -> tuple[pd.Series, pd.Series]:
    """20 MW base load, 40 MW from 18 to 22 h; PV peaking at 25 MW around 14 h."""
    idx = pd.date_range("2030-03-01", periods=24 * days, freq="h", tz="Asia/Shanghai")
    h = idx.hour.to_numpy()
    load = np.where((h >= 18) & (h < 22), 40.0, 20.0)
    pv = np.clip(25.0 * np.sin((h - 8) / 12 * np.pi), 0.0, None)
    return pd.Series(load, idx), pd.Series(pv, idx)


def _no_storage_kpis(load: pd.Series, pv: pd.Series, b: BatterySpec, **money: float
                     ) -> dict[str, float]:
    p = make_problem(DispatchSignals(load, pv, tariff=TARIFF, **money), b.with_(aux_load_mw=0.0))
    zeros = np.zeros(p.n)
    cols = realise(zeros, zeros, p.load_mw, p.pv_mw, b.soc_initial_mwh, p)
    return compute_kpis(schedule_frame(p.index, **cols), p)


BATTERY = BatterySpec(10, 10, 40, soc_min_pct=10, soc_max_pct=90, soc_initial_pct=50,
                      soc_final_pct=50)


def test_peak_is_shaved_and_never_raised_by_grid_charging() -> None:
    load, pv = _park()
    battery = BATTERY.with_(soc_final_pct=10)  # the whole usable energy is free for shaving
    r = rule_based_dispatch(DispatchSignals(load, pv, tariff=TARIFF), battery)
    base = _no_storage_kpis(load, pv, battery)
    assert base["peak_import_mw"] == pytest.approx(40.0)
    # 40 MWh × 0.8 usable × 0.95 = 30.4 MWh over a 4 h peak block, at most 10 MW: 30 MW holds
    assert r.kpis["peak_import_mw"] == pytest.approx(30.0, abs=0.05)
    assert r.kpis["shaving_threshold_max_mw"] == pytest.approx(30.0, abs=0.05)
    assert r.kpis["demand_charge_yuan"] < base["demand_charge_yuan"]
    assert r.kpis["cost_yuan"] < base["cost_yuan"]
    assert r.kpis["max_balance_error_mw"] < 1e-9


def test_flat_load_under_a_demand_charge_is_not_made_worse() -> None:
    """A flat load leaves no room to recharge below its level: no shaving, and grid charging
    would set a new peak, so the baseline does not charge from the grid at all."""
    idx = pd.date_range("2030-01-01", periods=72, freq="h", tz="Asia/Shanghai")
    load = pd.Series(20.0, idx)
    r = rule_based_dispatch(DispatchSignals(load, None, tariff=TARIFF), BATTERY)
    assert r.kpis["peak_import_mw"] == pytest.approx(20.0)
    base = _no_storage_kpis(load, pd.Series(0.0, idx), BATTERY)
    assert r.kpis["cost_yuan"] <= base["cost_yuan"] + 1e-6


def test_valley_charging_stops_at_what_the_next_block_needs() -> None:
    """Without PV and without a demand charge the evening block (18-23 h peak, 40 MW) draws
    min(40, 10 MW) × 5 h / 0.95 = 52.6 MWh: more than the SOC room, so the 11-16 h valley fills
    to 90 %; the night valley precedes flat hours only and charges nothing."""
    load, _ = _park(days=3)
    r = rule_based_dispatch(
        DispatchSignals(load, None, tariff=TARIFF, demand_charge_yuan_per_kw_month=0.0),
        BATTERY.with_(soc_final_pct=0),
    )
    s = r.schedule
    h = s.index.hour
    assert s["charge_mw"][h < 8].sum() == 0
    soc_16h = s["soc_mwh"][h == 15]
    assert soc_16h.iloc[1:].to_numpy() == pytest.approx(BATTERY.soc_max_mwh, abs=1e-6)


def test_every_money_input_counts() -> None:
    """A 60 MW PV peak overfills the battery: the surplus is exported and the export price
    lowers the cost by exactly export energy × price."""
    load, pv = _park(days=3)
    pv = pv * 2.4
    free = rule_based_dispatch(DispatchSignals(load, pv, tariff=TARIFF), BATTERY)
    paid = rule_based_dispatch(
        DispatchSignals(load, pv, tariff=TARIFF, export_price_yuan_per_mwh=300.0),
        BATTERY,
    )
    assert free.kpis["export_mwh"] > 100
    assert free.kpis["cost_yuan"] - paid.kpis["cost_yuan"] == pytest.approx(
        300.0 * free.kpis["export_mwh"])
    no_dc = rule_based_dispatch(
        DispatchSignals(load, pv, tariff=TARIFF, demand_charge_yuan_per_kw_month=0.0),
        BATTERY,
    )
    assert no_dc.kpis["demand_charge_yuan"] == 0.0


def test_end_soc_floor_is_kept() -> None:
    load, pv = _park(days=7)
    r = rule_based_dispatch(DispatchSignals(load, pv, tariff=TARIFF), BATTERY)
    assert r.kpis["final_soc_shortfall_mwh"] == pytest.approx(0.0, abs=1e-6)
    assert r.schedule["soc_mwh"].iloc[-1] >= BATTERY.soc_final_mwh - 1e-6
