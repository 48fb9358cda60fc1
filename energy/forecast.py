"""Simple forecasters for rolling-horizon planning: seasonal-naive load, PV with AR(1) error."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter


def seasonal_naive_forecast(load_mw: pd.Series, season: str | pd.Timedelta = "7D") -> pd.Series:
    """Forecast each step by the value one season earlier (default: same hour last week).

    The first season has no history; it takes the value one season *later*, wrapped from the
    end of the series (a stated warm-up, not information from the same step).
    """
    lag = pd.Timedelta(season)
    steps = int(lag / (load_mw.index[1] - load_mw.index[0]))
    values = load_mw.to_numpy(dtype=float)
    if steps >= len(values):
        raise ValueError("series shorter than one season")
    out = np.roll(values, steps)
    return pd.Series(out, index=load_mw.index, name="load_forecast_mw")


def pv_forecast_with_error(
    pv_expected_mw: pd.Series,
    sigma: float = 0.25,
    phi: float = 0.8,
    seed: int = 0,
) -> pd.Series:
    """PV forecast = expected PV (e.g. pvlib output) x exp(AR(1) error - sigma^2/2).

    The log-error e_t = phi e_{t-1} + sqrt(1 - phi^2) sigma z_t is stationary with std ``sigma``
    and the multiplier has mean 1 (unbiased), so errors persist for hours like cloud passages.
    Seeded for reproducibility.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(len(pv_expected_mw)) * sigma * np.sqrt(1.0 - phi**2)
    e = lfilter([1.0], [1.0, -phi], z)
    factor = np.exp(e - 0.5 * sigma**2)
    return pd.Series(
        np.maximum(pv_expected_mw.to_numpy(dtype=float), 0.0) * factor,
        index=pv_expected_mw.index,
        name="pv_forecast_mw",
    )
