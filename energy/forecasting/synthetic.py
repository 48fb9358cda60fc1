"""Synthetic forecast errors for simulations that replay a known year (no model fitted)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter


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
