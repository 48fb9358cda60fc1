"""Park load per simulated year: synthetic (industry shapes × energy × growth) or a given series."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from energy.weather.frame import year_index
from simulations.scenario import Scenario, SeriesLoad, SyntheticLoad, load_profiles

HOURS_PER_STEP = {"1h": 1.0, "15min": 0.25}


def shape(industry: str, index: pd.DatetimeIndex) -> np.ndarray:
    """Relative load shape of ``industry`` on ``index`` (local time), normalised to mean 1."""
    p = load_profiles()["industries"][industry]
    hours = np.asarray(index.hour)
    months = np.asarray(index.month) - 1
    weekend = np.asarray(index.day_of_week) >= 5
    s = (np.asarray(p["hour_factors"], float)[hours] * np.asarray(p["month_factors"], float)[months]
         * np.where(weekend, float(p["weekend_factor"]), 1.0))
    normalised: np.ndarray = s / s.mean()
    return normalised


@lru_cache(maxsize=8)
def _series_kw(csv: str, column: str) -> np.ndarray:
    frame = pd.read_csv(csv)
    if column not in frame:
        raise ValueError(f"load.csv: no column {column!r} in {csv}")
    values = frame[column].to_numpy(float)
    if np.isnan(values).any() or (values < 0).any():
        raise ValueError(f"load.csv: {column} has missing or negative values")
    return values


def _given_kw(spec: SeriesLoad) -> np.ndarray:
    if spec.values_kw is not None:
        return np.asarray(spec.values_kw, float)
    assert spec.csv is not None
    return _series_kw(spec.csv, spec.column)


def load_mw(scenario: Scenario, year: int, tz: str) -> pd.Series:
    """Park load, MW (mean over each step), on the year's local index at the scenario's step."""
    index = year_index(year, tz, scenario.step)
    dt_h = HOURS_PER_STEP[scenario.step]
    n_years = year - scenario.base_year
    spec = scenario.load
    if isinstance(spec, SyntheticLoad):
        total = np.zeros(len(index))
        for seg in spec.segments:
            energy_mwh = seg.base_energy_mwh * (1 + seg.growth_pct_per_year / 100) ** n_years
            total += shape(seg.industry, index) * energy_mwh / (len(index) * dt_h)
        return pd.Series(total, index=index, name="load_mw")
    values_mw = np.resize(_given_kw(spec), len(index)) / 1000.0
    if spec.base_energy_mwh is not None:
        base_len = len(year_index(scenario.base_year, tz, scenario.step))
        base_mwh = np.resize(_given_kw(spec), base_len).sum() / 1000.0 * dt_h
        values_mw = values_mw * (spec.base_energy_mwh / base_mwh if base_mwh > 0 else 0.0)
    values_mw = values_mw * (1 + spec.growth_pct_per_year / 100) ** n_years
    return pd.Series(values_mw, index=index, name="load_mw")


def base_year_energy_mwh(scenario: Scenario, tz: str) -> float:
    """Park electricity use in the base year (no PV, no storage), MWh."""
    return float(load_mw(scenario, scenario.base_year, tz).sum() * HOURS_PER_STEP[scenario.step])
