"""Naive forecasts: the baselines every model is scored against, and the fallback when a series
is too short for a model.

* weekly seasonal naive: the same slot one week earlier (two weeks for leads of a week or more);
* daily naive: the same slot of the last whole day before the forecast's issue day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy.forecasting.grid import DayGrid


def weekly_naive(grid: DayGrid, anchor_row: int, rows: np.ndarray, slots: np.ndarray
                 ) -> np.ndarray:
    """Values one week (or whole weeks) before the targets, always on days before the anchor."""
    lead = rows - anchor_row
    lag = 7 * (lead // 7 + 1)
    src = rows - lag
    out = np.full(len(rows), np.nan)
    ok = src >= 0
    out[ok] = grid.values[src[ok], slots[ok]]
    return out


def daily_naive(grid: DayGrid, anchor_row: int, slots: np.ndarray) -> np.ndarray:
    """Each slot of the last whole day before the anchor day."""
    if anchor_row < 1:
        return np.full(len(slots), np.nan)
    out: np.ndarray = grid.values[anchor_row - 1, slots].copy()
    return out


def seasonal_naive_forecast(load_mw: pd.Series, season: str | pd.Timedelta = "7D") -> pd.Series:
    """Forecast each step of a whole series by the value one season earlier (default: same
    interval last week), for simulations that replay a known year.

    The first season has no history; it takes the value one season *later*, wrapped from the
    end of the series (a stated warm-up, not information from the same step).
    """
    lag = pd.Timedelta(season)
    steps = int(lag / (load_mw.index[1] - load_mw.index[0]))
    values = load_mw.to_numpy(dtype=float)
    if steps >= len(values):
        raise ValueError("series shorter than one season")
    return pd.Series(np.roll(values, steps), index=load_mw.index, name="load_forecast_mw")
