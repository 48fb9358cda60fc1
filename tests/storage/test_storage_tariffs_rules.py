"""TOU tariffs, forecasts, the rule-based baseline and outage endurance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy.forecasting import pv_forecast_with_error, seasonal_naive_forecast
from energy.storage import BatterySpec, DispatchSignals, outage_endurance_h, rule_based_dispatch
from energy.tariffs import Tariff, TouPeriod, load_tariff, price_series


def test_price_series_uses_local_time() -> None:
    tariff = load_tariff("example_tou_illustrative")
    # 10:30 UTC = 18:30 Asia/Shanghai -> peak; 16:00 UTC = 00:00 local -> valley.
    idx = pd.DatetimeIndex(["2030-01-01 10:30", "2030-01-01 16:00"], tz="UTC")
    prices = price_series(idx, tariff)
    tp = tariff.prices_yuan_per_mwh
    assert prices.tolist() == [tp["peak"], tp["valley"]]


def test_tariff_periods_must_cover_the_day() -> None:
    with pytest.raises(ValueError, match="cover the day"):
        Tariff("gap", "1", "Asia/Shanghai", {"flat": 1.0}, (TouPeriod(0, 600, "flat"),))


def test_pv_forecast_error_is_seeded_and_unbiased() -> None:
    idx = pd.date_range("2030-01-01", periods=20_000, freq="h")
    pv = pd.Series(10.0, idx)
    a = pv_forecast_with_error(pv, sigma=0.2, seed=1)
    assert a.equals(pv_forecast_with_error(pv, sigma=0.2, seed=1))
    assert a.mean() == pytest.approx(10.0, rel=0.03)
    err = np.log(a / 10.0)
    assert np.corrcoef(err[:-1], err[1:])[0, 1] == pytest.approx(0.8, abs=0.05)


def test_seasonal_naive_is_last_week() -> None:
    idx = pd.date_range("2030-01-01", periods=24 * 21, freq="h")
    load = pd.Series(np.arange(len(idx), dtype=float), idx)
    fc = seasonal_naive_forecast(load)
    assert fc.iloc[24 * 7 + 5] == load.iloc[5]


def test_rule_baseline_charges_in_valley_discharges_at_peak() -> None:
    tariff = load_tariff("example_tou_illustrative")
    idx = pd.date_range("2030-01-01", periods=48, freq="h", tz="Asia/Shanghai")
    load = pd.Series(20.0, idx)
    b = BatterySpec(10, 10, 40, soc_min_pct=10, soc_max_pct=90, soc_initial_pct=50)
    # energy arbitrage alone (no demand charge: charging may raise the import peak)
    r = rule_based_dispatch(
        DispatchSignals(load, None, tariff=tariff, demand_charge_yuan_per_kw_month=0.0),
        b,
    )
    s = r.schedule
    local_h = idx.hour
    # valley charging only for the block that needs it: the 11-16 h valley precedes the evening
    # peak; the night valley is followed by flat hours only (the next valley comes first)
    assert s["charge_mw"][(local_h >= 11) & (local_h < 16)].sum() > 0
    assert s["charge_mw"][local_h < 8].sum() == 0
    assert s["discharge_mw"][(local_h >= 18) & (local_h < 23)].sum() > 0
    assert s["discharge_mw"][local_h < 8].sum() == 0
    assert s["soc_mwh"].between(b.soc_min_mwh - 1e-9, b.soc_max_mwh + 1e-9).all()
    assert r.kpis["max_balance_error_mw"] < 1e-9


def test_outage_endurance_hand_case() -> None:
    # 100 MWh usable above a 0 % floor, eta_d = 0.8, 10 MW critical load, no PV:
    # each hour draws 10 / 0.8 = 12.5 MWh -> 100 / 12.5 = 8 h.
    idx = pd.date_range("2030-01-01", periods=24, freq="h")
    b = BatterySpec(20, 20, 100, eta_discharge=0.8, soc_min_pct=0)
    assert outage_endurance_h(100.0, 10.0, pd.Series(0.0, idx), b) == pytest.approx(8.0)
    # 5 MW of PV halves the draw to 6.25 MWh/h -> 16 h.
    assert outage_endurance_h(100.0, 10.0, pd.Series(5.0, idx), b) == pytest.approx(16.0)
    # A critical load above the discharge power cannot be carried at all.
    assert outage_endurance_h(100.0, 30.0, pd.Series(0.0, idx), b) == 0.0


def test_endurance_from_the_planned_soc() -> None:
    # The plan raises the SOC from 20 to 40 MWh over 3 h. An outage at the start of the third hour
    # finds the SOC planned for the end of the second hour; with a 0 % floor and eta_d 1, a 10 MW
    # load lasts SOC / 10 hours (PV 0, 12 h horizon is enough since SOC <= 40 MWh).
    from energy.storage import optimize_dispatch, planned_soc_mwh

    idx = pd.date_range("2030-01-01", periods=3, freq="h")
    b = BatterySpec(10, 10, 40, eta_charge=1, eta_discharge=1, soc_min_pct=0, soc_initial_pct=50,
                    soc_final_pct=100)
    plan = optimize_dispatch(
        DispatchSignals(pd.Series(0.0, idx), None, price_yuan_per_mwh=100.0),
        b,
    )
    soc = planned_soc_mwh(plan.schedule, idx[2], b.soc_initial_mwh)
    assert soc == pytest.approx(plan.schedule["soc_mwh"].iloc[1])
    pv = pd.Series(0.0, pd.date_range(idx[2], periods=12, freq="h"))
    assert outage_endurance_h(soc, 10.0, pv, b) == pytest.approx(soc / 10.0)
