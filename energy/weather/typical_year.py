"""A typical meteorological year for Lhasa, built offline from published normals.

Recipe (all inputs in energy/data/lhasa_climate.yaml, with sources):

1. Monthly sunshine and GHI normals (:mod:`energy.weather.normals`).
2. Daily relative sunshine ``s_d`` per local day: Beta law with the month's mean, AR(1) Gaussian
   copula for
   day-to-day persistence, seeded per year (deterministic); rescaled so each month keeps its mean.
3. Daily clear-sky index ``k_d`` against Ineichen: proportional to the Angstrom-Prescott factor
   ``a + b·s_d`` and normalised so each month's GHI equals its normal (sunshine-consistent
   cloudiness).
4. Intraday GHI = Ineichen clear-sky GHI (shipped Linke turbidity, site pressure) × ``k_d``.
5. DNI/DHI from ``pvlib.irradiance.dirint`` at the site pressure
   (:mod:`energy.weather.decomposition`).
6. Air temperature with a diurnal cycle whose range shrinks on cloudy days; wind with an afternoon
   peak.

Hourly by default; ``freq='15min'`` re-evaluates clear sky and geometry at 15-minute midpoints with
the
same daily cloudiness (not a plain interpolation of hourly values).
"""

from __future__ import annotations

from functools import lru_cache
from typing import cast

import numpy as np
import pandas as pd
from scipy import signal, stats

from energy.site import Site
from energy.weather.clearsky import clearsky_irradiance
from energy.weather.decomposition import decompose_ghi
from energy.weather.frame import midpoints, solar_position, year_index
from energy.weather.normals import (
    air_temperature_c,
    climate,
    daily_astronomy,
    monthly_ghi_kwh_per_m2,
    monthly_relative_sunshine,
    wind_speed_m_per_s,
)


def _draw_relative_sunshine(site: Site, year: int, days: pd.DatetimeIndex) -> np.ndarray:
    cloud = climate()["daily_cloudiness"]
    rng = np.random.default_rng([int(cloud["seed"]), year])
    phi = float(cloud["ar1_lag1_correlation"])
    eps = rng.standard_normal(len(days))
    z = signal.lfilter([np.sqrt(1.0 - phi**2)], [1.0, -phi], eps)
    z[0] = eps[0]
    month_mean = monthly_relative_sunshine(site, year)
    months = np.asarray(days.month)
    mean_d = month_mean.reindex(months).to_numpy()
    kappa = float(cloud["beta_concentration"])
    s_d = np.asarray(stats.beta.ppf(stats.norm.cdf(z), kappa * mean_d, kappa * (1.0 - mean_d)),
                     dtype=float)
    for _ in range(8):  # keep each month's mean relative sunshine (clip at 0..1 and rescale)
        drawn = pd.Series(s_d).groupby(months).transform("mean").to_numpy()
        s_d = np.clip(s_d * mean_d / drawn, 0.0, 1.0)
    return s_d


def typical_days(site: Site, year: int) -> pd.DataFrame:
    """Per local day: ``relative_sunshine`` (S/S0), ``sunshine_h`` (h), ``clearsky_index`` (daily
    GHI over Ineichen GHI), ``clearsky_ghi_kwh_per_m2`` and ``ghi_kwh_per_m2`` (kWh/m²).
    Cached; returns a copy."""
    return _typical_days(site, year).copy()


@lru_cache(maxsize=16)
def _typical_days(site: Site, year: int) -> pd.DataFrame:
    irr = climate()["irradiation"]
    index = year_index(year, site.tz, "1h")
    cs_ghi = clearsky_irradiance(site, index)["ghi"]
    cs_day_series = cs_ghi.groupby(index.normalize()).sum() / 1000.0  # 1-h steps: W/m² → kWh/m²
    astro = daily_astronomy(site, year)
    days = cast(pd.DatetimeIndex, astro.index)
    cs_day = cs_day_series.reindex(days).to_numpy()
    months = np.asarray(days.month)
    s_d = _draw_relative_sunshine(site, year, days)
    target_month = monthly_ghi_kwh_per_m2(site, year).reindex(months).to_numpy()  # kWh/m²/month
    g = irr["angstrom_a"] + irr["angstrom_b"] * s_d
    k_max = float(irr["max_daily_clearsky_index"])
    k_d = np.zeros_like(g)
    free = np.ones_like(g, dtype=bool)
    for _ in range(10):  # normalise per month, pin days that reach the clear-sky ceiling
        fixed_energy = pd.Series(np.where(free, 0.0, k_d * cs_day)).groupby(months).transform("sum")
        free_energy = pd.Series(np.where(free, g * cs_day, 0.0)).groupby(months).transform("sum")
        scale = (target_month - fixed_energy.to_numpy()) / free_energy.to_numpy()
        k_d = np.where(free, g * scale, k_d)
        over = free & (k_d > k_max)
        if not over.any():
            break
        k_d[over] = k_max
        free &= ~over
    return pd.DataFrame({
        "relative_sunshine": s_d,
        "sunshine_h": s_d * astro["s0_h"].to_numpy(),
        "clearsky_index": k_d,
        "clearsky_ghi_kwh_per_m2": cs_day,
        "ghi_kwh_per_m2": k_d * cs_day,
    }, index=days)


@lru_cache(maxsize=16)
def _typical_year(site: Site, year: int, freq: str) -> pd.DataFrame:
    index = year_index(year, site.tz, freq)
    daily = _typical_days(site, year)
    solpos = solar_position(site, midpoints(index))
    cs = clearsky_irradiance(site, index, solpos=solpos)
    day_of_step = index.normalize()
    k = daily["clearsky_index"].reindex(day_of_step).to_numpy()
    ghi = pd.Series(cs["ghi"].to_numpy() * k, index=index)
    split = decompose_ghi(ghi, site, solar_zenith_deg=solpos["zenith"].to_numpy())
    overcast = float(climate()["temperature"]["overcast_range_share"])
    share_by_day = overcast + (1.0 - overcast) * daily["relative_sunshine"]
    share = (share_by_day / share_by_day.mean()).reindex(day_of_step).to_numpy()
    frame = pd.DataFrame({
        "ghi": ghi.to_numpy(),
        "dni": split["dni"].to_numpy(),
        "dhi": split["dhi"].to_numpy(),
        "temp_air": air_temperature_c(index, site, range_share=share),
        "wind_speed": wind_speed_m_per_s(index, site),
    }, index=index)
    frame.attrs["source"] = "typical_year"
    return frame


def typical_year(site: Site, year: int, freq: str = "1h") -> pd.DataFrame:
    """The typical meteorological year for ``site`` laid on calendar ``year`` at ``freq`` ('1h' or
    '15min'). Weather frame: index = interval starts (tz = site.tz); ``ghi``, ``dni``, ``dhi`` W/m²;
    ``temp_air`` °C; ``wind_speed`` m/s. Cached per (site, year, freq); returns a copy."""
    if pd.Timedelta(freq) not in (pd.Timedelta("1h"), pd.Timedelta("15min"),
                                  pd.Timedelta("30min")):
        raise ValueError("freq must be '1h', '30min' or '15min'")
    return _typical_year(site, year, freq).copy()
