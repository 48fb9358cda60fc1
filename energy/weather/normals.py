"""Lhasa climate normals (energy/data/lhasa_climate.yaml) and the monthly figures derived from them.

Derivations (documented in the data file): monthly sunshine hours from seasonal totals by
astronomical
day length; monthly GHI from the Angstrom-Prescott relation scaled to the published annual total;
air temperature and wind as smooth annual and diurnal cycles.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pvlib
import yaml

from energy.site import DATA_DIR, Site

SEASON_MONTHS: dict[str, tuple[int, ...]] = {
    "spring": (3, 4, 5), "summer": (6, 7, 8), "autumn": (9, 10, 11), "winter": (12, 1, 2),
}


@cache
def climate() -> dict[str, Any]:
    """The parsed climate data file."""
    data: dict[str, Any] = yaml.safe_load(
        (DATA_DIR / "lhasa_climate.yaml").read_text(encoding="utf-8"))
    return data


def daily_astronomy(site: Site, year: int) -> pd.DataFrame:
    """Per local day of ``year``: astronomical day length ``s0_h`` (h) and extraterrestrial
    horizontal
    irradiation ``h0_kwh_per_m2`` (FAO-56 eq. 21 and 34, declination from
    ``pvlib.solarposition.declination_spencer71``, sun-earth distance from
    ``pvlib.irradiance.get_extra_radiation``)."""
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D", tz=site.tz)
    doy = days.day_of_year.to_numpy()
    delta = pvlib.solarposition.declination_spencer71(doy)
    phi = np.radians(site.latitude_deg)
    omega_s = np.arccos(np.clip(-np.tan(phi) * np.tan(delta), -1.0, 1.0))
    g_on_w_per_m2 = pvlib.irradiance.get_extra_radiation(doy)
    h0_wh = (24.0 / np.pi) * g_on_w_per_m2 * (
        omega_s * np.sin(phi) * np.sin(delta) + np.cos(phi) * np.cos(delta) * np.sin(omega_s))
    return pd.DataFrame({"s0_h": 24.0 / np.pi * omega_s, "h0_kwh_per_m2": h0_wh / 1000.0},
                        index=days)


def monthly_sunshine_hours(site: Site, year: int = 2025) -> pd.Series:
    """Monthly sunshine hours (index 1..12): fixed months from the source, the rest of each season's
    total shared by astronomical day length (data file 'sunshine.monthly_hours')."""
    sun = climate()["sunshine"]
    s0_month = daily_astronomy(site, year)["s0_h"].groupby(lambda t: t.month).sum()
    fixed = {int(k): float(v) for k, v in sun["fixed_month_hours"].items()}
    hours = pd.Series(0.0, index=range(1, 13))
    for season, months in SEASON_MONTHS.items():
        free = [m for m in months if m not in fixed]
        left = float(sun["seasonal_hours"][season]) - sum(fixed.get(m, 0.0) for m in months)
        weights = s0_month[free] / s0_month[free].sum()
        for m in months:
            hours[m] = fixed[m] if m in fixed else left * float(weights[m])
    return hours


def monthly_relative_sunshine(site: Site, year: int = 2025) -> pd.Series:
    """Monthly relative sunshine S/S0 (dimensionless)."""
    s0_month = daily_astronomy(site, year)["s0_h"].groupby(lambda t: t.month).sum()
    return monthly_sunshine_hours(site, year) / s0_month


def monthly_ghi_kwh_per_m2(site: Site, year: int = 2025) -> pd.Series:
    """Monthly GHI (kWh/m², index 1..12): Angstrom-Prescott shape H0·(a + b·S/S0) scaled so the year
    sums to the published annual GHI (data file 'irradiation')."""
    irr = climate()["irradiation"]
    h0_month = daily_astronomy(site, year)["h0_kwh_per_m2"].groupby(lambda t: t.month).sum()
    relative = monthly_relative_sunshine(site, year)
    shape = h0_month * (irr["angstrom_a"] + irr["angstrom_b"] * relative)
    monthly: pd.Series = shape * float(irr["annual_ghi_kwh_per_m2"]) / float(shape.sum())
    return monthly


def _solar_hour(index: pd.DatetimeIndex, site: Site) -> np.ndarray:
    """Approximate local solar time in hours (UTC clock + longitude/15, no equation of time)."""
    utc = index.tz_convert("UTC")
    hours = utc.hour + utc.minute / 60.0 + site.longitude_deg / 15.0
    solar_h: np.ndarray = np.mod(np.asarray(hours, dtype=float), 24.0)
    return solar_h


def air_temperature_c(index: pd.DatetimeIndex, site: Site,
                      range_share: np.ndarray | None = None) -> np.ndarray:
    """Air temperature, °C, at interval midpoints: annual harmonic of the daily mean plus a cosine
    diurnal cycle peaking at ``warmest_solar_hour``; ``range_share`` scales the diurnal range per
    step
    (1 = the normal clear-day range)."""
    t = climate()["temperature"]
    times = index + (index[1] - index[0]) / 2 if len(index) > 1 else index
    doy = np.asarray(times.day_of_year, dtype=float)
    daily_mean = t["annual_mean_c"] + t["amplitude_c"] * np.cos(
        2 * np.pi * (doy - t["warmest_doy"]) / 365.0)
    share = 1.0 if range_share is None else np.asarray(range_share, dtype=float)
    diurnal = 0.5 * t["diurnal_range_c"] * share * np.cos(
        2 * np.pi * (_solar_hour(times, site) - t["warmest_solar_hour"]) / 24.0)
    temperature_c: np.ndarray = daily_mean + diurnal
    return temperature_c


def wind_speed_m_per_s(index: pd.DatetimeIndex, site: Site) -> np.ndarray:
    """Wind speed, m/s: monthly mean (assumption, see data file) with an afternoon peak."""
    w = climate()["wind"]
    monthly = np.asarray(w["monthly_mean_m_per_s"], dtype=float)
    times = index + (index[1] - index[0]) / 2 if len(index) > 1 else index
    base = monthly[np.asarray(times.month) - 1]
    peak_hour = climate()["temperature"]["warmest_solar_hour"]
    speed: np.ndarray = base * (1.0 + w["diurnal_share"] * np.cos(
        2 * np.pi * (_solar_hour(times, site) - peak_hour) / 24.0))
    return speed
