"""Forecast skill: MAE, nMAE and the MAE ratio against a naive forecast of the same targets.

``mase`` here is scaled *out of sample*: the model's MAE over the backtest's targets divided by
the MAE of the naive forecast (e.g. the value one week earlier) over the very same targets and
origins, so 1.0 means "as good as the naive", below 1 better (Hyndman & Koehler 2006 scale by the
in-sample naive; on a year of 15-minute data the two scales agree within a few per cent).
"""

from __future__ import annotations

import numpy as np


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    ok = np.isfinite(actual) & np.isfinite(forecast)
    return float(np.mean(np.abs(actual[ok] - forecast[ok]))) if ok.any() else float("nan")


def nmae(actual: np.ndarray, forecast: np.ndarray) -> float:
    """MAE divided by the mean absolute actual (a share, 0.05 = 5 %)."""
    ok = np.isfinite(actual) & np.isfinite(forecast)
    scale = float(np.mean(np.abs(actual[ok]))) if ok.any() else 0.0
    return mae(actual, forecast) / scale if scale > 0 else float("nan")


def mase(actual: np.ndarray, forecast: np.ndarray, naive: np.ndarray) -> float:
    """MAE of ``forecast`` over MAE of ``naive``, both on the targets where all three exist."""
    ok = np.isfinite(actual) & np.isfinite(forecast) & np.isfinite(naive)
    if not ok.any():
        return float("nan")
    denom = float(np.mean(np.abs(actual[ok] - naive[ok])))
    return float(np.mean(np.abs(actual[ok] - forecast[ok]))) / denom if denom > 0 else float("nan")
