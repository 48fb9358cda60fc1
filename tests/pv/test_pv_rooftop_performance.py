"""Rooftop potential and the measured-versus-expected check (PR, clear days, alerts)."""

from __future__ import annotations

import pandas as pd
import pytest

from energy.pv import PVArray
from energy.pv.arrays import pv_defaults
from energy.pv.model import estimate_energy_kwh
from energy.pv.performance import check_array, clear_days, daily_performance
from energy.pv.rooftop import potential_by_enterprise, rooftop_arrays, rooftop_potential
from energy.site import lhasa_etdz
from energy.weather import clearsky_weather, typical_year

SITE = lhasa_etdz()


def test_rooftop_potential_from_roof_areas() -> None:
    roofs = pd.DataFrame({
        "enterprise": ["E1", "E1", "E2"],
        "roof_area_m2": [10_000.0, 2_000.0, 5_000.0],
        "usable_share": [0.5, None, 0.8],
        "zone": ["A区", "A区", "B区"],
    })
    packing = float(pv_defaults()["rooftop"]["packing_kwp_per_m2"])
    default_share = float(pv_defaults()["rooftop"]["usable_share"])
    arrays = rooftop_arrays(roofs)
    # E1 roof 1: 10,000 m² × 0.5 × packing; roof 2 uses the default usable share
    assert arrays[0].capacity_kwp == pytest.approx(10_000 * 0.5 * packing)
    assert arrays[1].capacity_kwp == pytest.approx(2_000 * default_share * packing)
    pot = rooftop_potential(roofs, SITE, year=2025)
    by_ent = potential_by_enterprise(pot)
    assert by_ent.loc["E1", "installable_kwp"] == pytest.approx(
        (10_000 * 0.5 + 2_000 * default_share) * packing)
    # same orientation everywhere → same specific yield, and yield scales with kWp
    assert pot["specific_yield_kwh_per_kwp"].round(6).nunique() == 1
    assert pot["annual_yield_kwh"].iloc[2] == pytest.approx(
        pot["specific_yield_kwh_per_kwp"].iloc[2] * 5_000 * 0.8 * packing)
    assert 1_400 < pot["specific_yield_kwh_per_kwp"].iloc[0] < 2_100


def _soiled_and_down_case() -> tuple[PVArray, pd.DataFrame, pd.Series]:
    """One clear-sky fortnight; the meter shows 70 % on days 3–4 (soiling) and 0 on day 8
    (inverter down); other days 98 % of expected."""
    arr = PVArray("R1", 100.0, 85.0, 10.0, 180.0, "roof_flush", meter_code="M-R1")
    weather = clearsky_weather(SITE, "2025-10-01", "2025-10-15")
    expected = estimate_energy_kwh([arr], weather, SITE, "hour")[arr.code]
    day = expected.index.day
    factor = pd.Series(0.98, index=expected.index)
    factor[(day == 3) | (day == 4)] = 0.70
    factor[day == 8] = 0.0
    return arr, weather, expected * factor


def test_performance_ratio_and_alerts_on_constructed_case() -> None:
    arr, weather, measured = _soiled_and_down_case()
    daily, alerts = check_array(arr, measured, weather, SITE)
    assert len(daily) == 14
    assert daily["pr"].round(6).value_counts().to_dict() == {0.98: 11, 0.7: 2, 0.0: 1}
    assert [(a.day.day, round(a.pr, 2)) for a in alerts] == [(3, 0.7), (4, 0.7), (8, 0.0)]
    assert "inverter" in alerts[2].reason and "soiling" in alerts[0].reason
    assert alerts[0].expected_kwh == pytest.approx(daily["expected_kwh"].iloc[2])
    assert alerts[0].measured_kwh == pytest.approx(0.7 * alerts[0].expected_kwh)
    # a stricter share (99 %) also flags the 98 % days; a lax one (50 %) only the outage
    assert len(check_array(arr, measured, weather, SITE, share=0.99)[1]) == 14
    assert len(check_array(arr, measured, weather, SITE, share=0.5)[1]) == 1


def test_no_alert_on_cloudy_days() -> None:
    w = typical_year(SITE, 2025).loc["2025-07-01":"2025-07-31"]
    clear = clear_days(w, SITE)
    assert 0 < clear.sum() < len(clear)  # a monsoon month has both kinds of day
    arr = PVArray("R2", 100.0, 85.0, 10.0, 180.0)
    expected = estimate_energy_kwh([arr], w, SITE, "hour")["R2"]
    measured = expected * 0.5  # half of expected every day
    daily = daily_performance(expected, measured)
    _, alerts = check_array(arr, measured, w, SITE)
    alert_days = {pd.Timestamp(a.day) for a in alerts}
    clear_local = {d.tz_localize(None) for d in clear[clear].index}
    assert alert_days == clear_local  # only clear days are judged
    assert (daily["pr"].round(9) == 0.5).all()
