"""Site pressure, clear sky, the typical year and measured weather at Lhasa (3,650 m).

Published figures cited are from /work/shared/reference/pv-storage-reference.md §3–4.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib
import pytest

from energy.site import lhasa_etdz
from energy.weather import WEATHER_COLUMNS, clearsky_weather, measured_weather, typical_year
from energy.weather.clearsky import clearsky_irradiance
from energy.weather.decomposition import decompose_ghi
from energy.weather.frame import midpoints, solar_position, year_index
from energy.weather.normals import monthly_ghi_kwh_per_m2, monthly_sunshine_hours
from energy.weather.typical_year import typical_days

SITE = lhasa_etdz()


def test_site_pressure_comes_from_altitude_not_pvlib_lookup() -> None:
    assert SITE.altitude_m == 3650.0
    assert SITE.location().altitude == 3650.0
    # alt2pres(3650) = 101325·(1 − 2.25577e-5·3650)^5.25588 ≈ 64,505 Pa (reference §3 [L])
    assert SITE.pressure_pa == pytest.approx(101325 * (1 - 2.25577e-5 * 3650) ** 5.25588, rel=1e-5)
    assert SITE.pressure_pa == pytest.approx(64_505, abs=5)


def test_clearsky_annual_ceiling_and_spring_noon_peak() -> None:
    index = year_index(2023, SITE.tz, "1h")
    cs = clearsky_irradiance(SITE, index)
    annual_kwh_per_m2 = cs["ghi"].sum() / 1000.0  # 1-h steps
    # reference §3: Ineichen + shipped Linke turbidity at 3,650 m ≈ 2,962 kWh/m² (a ceiling)
    assert annual_kwh_per_m2 == pytest.approx(2962, rel=0.015)
    spring = cs["ghi"]["2023-04-10":"2023-04-20"]
    assert spring.max() > 1000.0
    # the peak falls near solar noon (≈ 13:55 local): the 13:00–14:00 or 14:00-15:00 interval
    assert spring.idxmax().hour in (13, 14)


def test_clearsky_weather_frame_convention() -> None:
    w = clearsky_weather(SITE, "2025-03-20", "2025-03-21", freq="15min")
    assert tuple(w.columns) == WEATHER_COLUMNS
    assert str(w.index.tz) == "Asia/Shanghai" and len(w) == 96
    assert (w["ghi"] >= 0).all() and w["temp_air"].between(-20, 30).all()


def test_decomposition_uses_site_pressure() -> None:
    index = pd.date_range("2025-05-01", periods=24, freq="1h", tz=SITE.tz)
    ghi = clearsky_irradiance(SITE, index)["ghi"] * 0.7
    ours = decompose_ghi(ghi, SITE)
    times = midpoints(index)
    zenith = solar_position(SITE, times)["zenith"]
    ghi_t = pd.Series(ghi.to_numpy(), index=times)
    at_site = pvlib.irradiance.dirint(ghi_t, zenith, times, pressure=SITE.pressure_pa).fillna(0)
    sea_level_default = pvlib.irradiance.dirint(ghi_t, zenith, times).fillna(0)
    np.testing.assert_allclose(ours["dni"].to_numpy(), at_site.to_numpy(), atol=1e-9)
    # the default (101,325 Pa) gives a different beam: the pressure really reaches DIRINT
    assert np.abs(ours["dni"].to_numpy() - sea_level_default.to_numpy()).max() > 10.0


def test_typical_year_annual_ghi_inside_published_range() -> None:
    w = typical_year(SITE, 2025)
    annual_kwh_per_m2 = w["ghi"].sum() / 1000.0
    # Shen et al. 2024 (Energy Eng. 121(1):43-57): Tibet mean 1,816, Lhasa belt up to 2,189 kWh/m²;
    # SCIRP station table: Lhasa 22.05 MJ/m²/day = 22.05/3.6·365 ≈ 2,236 kWh/m²
    assert 1816 <= annual_kwh_per_m2 <= 22.05 / 3.6 * 365
    # never above the clear-sky ceiling, month by month (reference §3 monthly envelope)
    days = typical_days(SITE, 2025)
    monthly = days.groupby(days.index.month)[["ghi_kwh_per_m2", "clearsky_ghi_kwh_per_m2"]].sum()
    assert (monthly["ghi_kwh_per_m2"] < monthly["clearsky_ghi_kwh_per_m2"]).all()
    np.testing.assert_allclose(monthly["ghi_kwh_per_m2"], monthly_ghi_kwh_per_m2(SITE, 2025),
                               rtol=1e-6)


def test_typical_year_sunshine_matches_normals_and_days_vary() -> None:
    days = typical_days(SITE, 2025)
    # 2,980 h a year (1970–2004, "City of Sunlight" paper [P]); October 281 h, August 219 h
    assert days["sunshine_h"].sum() == pytest.approx(2980, rel=0.01)
    by_month = days["sunshine_h"].groupby(days.index.month).sum()
    assert by_month[10] == pytest.approx(281, rel=0.02)
    assert by_month[8] == pytest.approx(219, rel=0.02)
    assert monthly_sunshine_hours(SITE).sum() == pytest.approx(2980)
    # realistic cloudiness: clear and overcast days both occur; winter clearer than summer
    k = days["clearsky_index"]
    assert k.max() > 0.95 and k.min() < 0.5
    winter = k[days.index.month.isin([11, 12, 1])].mean()
    summer = k[days.index.month.isin([6, 7, 8])].mean()
    assert winter > summer + 0.1


def test_typical_year_deterministic_cached_and_15min() -> None:
    a = typical_year(SITE, 2025)
    a["ghi"] = 0.0  # callers get a copy; the cache stays intact
    b = typical_year(SITE, 2025)
    assert b["ghi"].sum() > 0
    pd.testing.assert_frame_equal(b, typical_year(SITE, 2025))
    assert not typical_year(SITE, 2026)["ghi"].equals(b["ghi"])  # another year, other weather
    q = typical_year(SITE, 2025, "15min")
    assert len(q) == 4 * len(b)
    assert q["ghi"].sum() / 4 == pytest.approx(b["ghi"].sum(), rel=0.005)
    # air temperature keeps a diurnal cycle and the cold plateau winter (January mean ≈ -2..0 °C)
    jan = b.loc["2025-01"]
    assert jan["temp_air"].mean() < 2.0
    assert (jan["temp_air"].groupby(jan.index.date).agg(np.ptp) > 5).mean() > 0.8


def test_measured_weather_decomposes_and_closes() -> None:
    index = pd.date_range("2025-06-10", periods=48, freq="1h", tz=SITE.tz)
    ghi = clearsky_irradiance(SITE, index)["ghi"] * 0.6
    raw = pd.DataFrame({"ghi_w_per_m2": ghi.to_numpy(), "temp_air_c": 15.0}, index=index)
    w = measured_weather(raw, SITE)
    assert tuple(w.columns) == WEATHER_COLUMNS
    zenith = solar_position(SITE, midpoints(index))["zenith"].to_numpy()
    closure = w["dhi"] + w["dni"] * np.cos(np.radians(zenith))
    day = zenith < 85
    np.testing.assert_allclose(closure[day], w["ghi"][day], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError):
        measured_weather(raw.drop(columns="temp_air_c"), SITE)
