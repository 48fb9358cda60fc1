"""A regular series as a (day × slot-of-day) matrix in local time, the shape every forecaster
here reasons in: slot ``s`` of day ``d`` is the interval starting ``s`` steps after local
midnight of ``d``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy.site import PARK_TZ

TZ = PARK_TZ


@dataclass(frozen=True)
class DayGrid:
    first_day: pd.Timestamp
    """Local midnight (tz-aware) of row 0."""
    step: pd.Timedelta
    values: np.ndarray
    """Shape (days, slots); NaN where no value is known."""

    @property
    def slots(self) -> int:
        return int(self.values.shape[1])

    @property
    def days(self) -> pd.DatetimeIndex:
        return pd.date_range(self.first_day, periods=self.values.shape[0], freq="D")

    def position(self, index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """(day row, slot) of each interval start of ``index``."""
        local = index.tz_convert(self.first_day.tz)
        day = local.normalize()
        rows = ((day - self.first_day) // pd.Timedelta(days=1)).to_numpy()
        slots = ((local - day) // self.step).to_numpy()
        return rows.astype(int), slots.astype(int)


def slots_per_day(step: pd.Timedelta) -> int:
    per_day = pd.Timedelta(days=1) / step
    if per_day != int(per_day) or per_day < 1:
        raise ValueError(f"a step of {step} does not divide a day")
    return int(per_day)


def day_grid(series: pd.Series, step: pd.Timedelta, first_day: pd.Timestamp, n_days: int
             ) -> DayGrid:
    """Lay ``series`` (tz-aware index of interval starts on the ``step`` grid) on ``n_days``
    days from ``first_day`` (a local midnight); values outside the days are dropped."""
    grid = DayGrid(first_day, step, np.full((n_days, slots_per_day(step)), np.nan))
    if len(series):
        rows, slots = grid.position(pd.DatetimeIndex(series.index))
        ok = (rows >= 0) & (rows < n_days) & (slots >= 0) & (slots < grid.slots)
        grid.values[rows[ok], slots[ok]] = series.to_numpy(dtype=float)[ok]
    return grid


def local_midnight(t: pd.Timestamp, tz: str = TZ) -> pd.Timestamp:
    return t.tz_convert(tz).normalize()


def infer_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The smallest spacing of consecutive interval starts (the series' resolution)."""
    if len(index) < 2:
        raise ValueError("need at least two intervals to know the step")
    return pd.Timedelta(np.diff(index.to_numpy()).min())
