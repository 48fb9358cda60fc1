"""Synthetic series of known shape for the forecast tests: a workday and a rest-day profile by
the holiday notice (statutory holidays rest, make-up weekend days work), a slow trend and
multiplicative noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy.forecasting.calendar import day_frame


def load_series(first: str, days: int, seed: int = 0, step_minutes: int = 15,
                base_kwh: float = 500.0) -> pd.Series:
    index = pd.date_range(first, periods=days * 1440 // step_minutes,
                          freq=f"{step_minutes}min", tz="Asia/Shanghai")
    rng = np.random.default_rng(seed)
    local_days = index.normalize().tz_localize(None)
    types = day_frame(pd.DatetimeIndex(local_days.unique()))
    work = types["workday"].reindex(local_days).to_numpy()
    hour = index.hour.to_numpy() + index.minute.to_numpy() / 60.0
    shift = (hour >= 8) & (hour < 20)
    shape = np.where(work, np.where(shift, 1.6, 0.6), np.where(shift, 0.5, 0.4))
    trend = 1.0 + 0.1 * np.arange(len(index)) / len(index)
    return pd.Series(base_kwh * shape * trend * rng.normal(1.0, 0.06, len(index)).clip(0.7, 1.3),
                     index=index)
