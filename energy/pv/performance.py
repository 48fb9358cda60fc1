"""Measured against expected: daily performance ratio, clear-day detection, underperformance alerts.

Here the daily performance ratio ``pr`` is measured AC energy / expected AC energy from the model
(a performance index: 1.0 = the array does what the model says). Thresholds live in
energy/data/pv_defaults.yaml ('performance').
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import cast

import numpy as np
import pandas as pd

from energy.pv.arrays import PVArray, pv_defaults
from energy.pv.model import estimate_energy_kwh
from energy.site import PARK_TZ, Site
from energy.weather.clearsky import clearsky_irradiance


@dataclass(frozen=True)
class PerformanceAlert:
    """An underperformance alert for one array on one local day."""

    array: str
    day: date
    pr: float
    expected_kwh: float
    measured_kwh: float
    reason: str


def _cfg() -> dict[str, float]:
    return {k: float(v) for k, v in pv_defaults()["performance"].items()}


def clear_days(weather: pd.DataFrame, site: Site, tz: str = PARK_TZ) -> pd.Series:
    """True for local days that were clear: daily GHI / Ineichen GHI ≥ the threshold and a steady
    clear-sky index through the day's bright hours (std ≤ threshold). Index = local day start."""
    cfg = _cfg()
    index = cast(pd.DatetimeIndex, weather.index)
    cs = clearsky_irradiance(site, index)["ghi"].to_numpy()
    ghi = weather["ghi"].to_numpy(float)
    local = index.tz_convert(tz).normalize()
    bright = cs >= cfg["clear_day_min_clearsky_ghi_w_per_m2"]
    k_step = np.where(bright, ghi / np.where(bright, cs, 1.0), np.nan)
    frame = pd.DataFrame({"ghi": ghi, "cs": cs, "k": k_step}, index=local)
    by_day = frame.groupby(level=0)
    k_day = by_day["ghi"].sum() / by_day["cs"].sum()
    std_day = by_day["k"].std().fillna(np.inf)
    return (k_day >= cfg["clear_day_min_clearsky_index"]) & (
        std_day <= cfg["clear_day_max_hourly_index_std"])


def daily_performance(expected_kwh: pd.Series, measured_kwh: pd.Series,
                      tz: str = PARK_TZ) -> pd.DataFrame:
    """Daily ``expected_kwh``, ``measured_kwh`` and ``pr`` (= measured / expected) per local day.
    Inputs are energy per step (kWh) with tz-aware indexes; days missing in either are dropped."""
    exp_d = expected_kwh.tz_convert(tz).resample("1D").sum(min_count=1)
    mea_d = measured_kwh.tz_convert(tz).resample("1D").sum(min_count=1)
    daily = pd.DataFrame({"expected_kwh": exp_d, "measured_kwh": mea_d}).dropna()
    daily["pr"] = daily["measured_kwh"] / daily["expected_kwh"].where(daily["expected_kwh"] > 0)
    return daily


def underperformance_alerts(array: PVArray, daily: pd.DataFrame, clear: pd.Series,
                            share: float | None = None) -> list[PerformanceAlert]:
    """Alerts for clear days when measured < ``share`` × expected (default from the data file).
    ``daily`` from :func:`daily_performance`; ``clear`` from :func:`clear_days`."""
    cfg = _cfg()
    share = cfg["alert_share_of_expected"] if share is None else share
    judged = daily[(daily["expected_kwh"] >= cfg["min_expected_kwh_per_kwp"] * array.capacity_kwp)
                   & clear.reindex(daily.index, fill_value=False)]
    low = judged[judged["measured_kwh"] < share * judged["expected_kwh"]]
    alerts = []
    for day, row in low.iterrows():
        if row["pr"] < cfg["outage_share_of_expected"]:
            reason = "no output on a clear day (inverter or meter down?)"
        else:
            reason = (f"output {row['pr']:.0%} of expected on a clear day, below {share:.0%} "
                      "(soiling, snow, shading or a partial outage?)")
        day_start = pd.Timestamp(cast(pd.Timestamp, day))
        alerts.append(PerformanceAlert(array.code, day_start.date(), float(row["pr"]),
                                       float(row["expected_kwh"]), float(row["measured_kwh"]),
                                       reason))
    return alerts


def check_array(array: PVArray, measured_kwh: pd.Series, weather: pd.DataFrame, site: Site,
                share: float | None = None) -> tuple[pd.DataFrame, list[PerformanceAlert]]:
    """Expected energy from ``weather`` (measured weather preferably), daily PR and alerts for an
    array with a generation meter. ``measured_kwh``: energy per step, tz-aware index."""
    expected = estimate_energy_kwh([array], weather, site, resolution="hour")[array.code]
    daily = daily_performance(expected, measured_kwh)
    return daily, underperformance_alerts(array, daily, clear_days(weather, site), share)
