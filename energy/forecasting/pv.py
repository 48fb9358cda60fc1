"""PV forecasts per array: the pvlib output of the array under clear sky × a forecast daily
clear-sky index.

The clear-sky index of a day is its metered energy over the clear-sky expected energy. The
forecast index of a target day is the last whole day's index (persistence) corrected by a
least-squares line fitted on the history's pairs at the same lag (a learned correction: it
pulls an unusually dull or bright day back toward the site's usual sky). p10/p90 take the 10 %
and 90 % quantiles of that line's residuals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy.forecasting.grid import day_grid, infer_step, local_midnight
from energy.forecasting.load import Forecast, InsufficientHistory

MIN_PV_DAYS = 10
"""Fewer usable days (clear-sky energy > 0 and the day complete): persistence alone, no line."""
MAX_INDEX = 1.3
"""Clear-sky indices above this are clipped (reflections, a metering fault)."""


def clearsky_expected(arrays_kw: pd.Series, step: pd.Timedelta) -> pd.Series:
    """Clear-sky energy per interval (kWh) from mean power (kW)."""
    return arrays_kw * (step / pd.Timedelta(hours=1))


def daily_index(measured: pd.Series, expected: pd.Series, step: pd.Timedelta
                ) -> pd.Series:
    """Clear-sky index per local day over the days of ``measured`` that are complete in daylight
    (no missing daylight interval)."""
    first = local_midnight(pd.Timestamp(expected.index[0]))
    n_days = int((local_midnight(pd.Timestamp(expected.index[-1])) - first)
                 / pd.Timedelta(days=1)) + 1
    m = day_grid(measured, step, first, n_days).values
    e = day_grid(expected, step, first, n_days).values
    daylight = np.nan_to_num(e) > 0
    complete = ~(daylight & np.isnan(m)).any(axis=1) & np.isfinite(m).any(axis=1)
    e_sum = np.nansum(np.where(daylight, e, 0.0), axis=1)
    m_sum = np.nansum(np.where(daylight, m, 0.0), axis=1)
    with np.errstate(all="ignore"):
        k = np.where(complete & (e_sum > 0), m_sum / e_sum, np.nan)
    days = pd.date_range(first, periods=n_days, freq="D")
    return pd.Series(np.clip(k, 0.0, MAX_INDEX), index=days)


def forecast_pv(measured: pd.Series, expected: pd.Series, origin: pd.Timestamp,
                index: pd.DatetimeIndex, *, history_days: int = 90) -> Forecast:
    """Forecast the array's energy per interval of ``index`` (≥ ``origin``) from its metered
    ``measured`` values before ``origin`` and its clear-sky ``expected`` energy (covering the
    history and ``index``, same unit)."""
    origin = pd.Timestamp(origin)
    if len(index) and index[0] < origin:
        raise ValueError("the forecast's first interval starts before its origin")
    past = measured[(measured.index < origin)
                    & (measured.index >= origin - pd.Timedelta(days=history_days))].dropna()
    if len(past) < 2:
        raise InsufficientHistory("no metered PV values before the origin")
    step = infer_step(pd.DatetimeIndex(past.index))
    anchor = local_midnight(origin)
    k = daily_index(past, expected[(expected.index >= past.index[0])
                                   & (expected.index < anchor)], step)
    k = k[k.index < anchor]
    last = k.dropna()
    if not len(last):
        raise InsufficientHistory("no whole day of metered PV before the origin's day")
    lead = np.asarray((index.tz_convert(anchor.tz).normalize() - anchor)
                       // pd.Timedelta(days=1))
    persist = float(last.iloc[-1])
    if (anchor - last.index[-1]) > pd.Timedelta(days=1):
        lead = lead + int((anchor - last.index[-1]) / pd.Timedelta(days=1)) - 1
    fc = {"p50": np.full(len(index), persist), "p10": None, "p90": None}
    method = "clear-sky pvlib × persistence of the last whole day's clear-sky index"
    notes: list[str] = []
    values = k.to_numpy()
    lags = np.unique(lead + 1)
    lines: dict[int, tuple[float, float, float, float]] = {}
    for lag in lags:
        x, y = values[:-lag], values[lag:]
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < MIN_PV_DAYS:
            continue
        slope, intercept = np.polyfit(x[ok], y[ok], 1)
        resid = y[ok] - (intercept + slope * x[ok])
        lines[int(lag)] = (float(intercept), float(slope), float(np.quantile(resid, 0.1)),
                           float(np.quantile(resid, 0.9)))
    if lines and len(lines) == len(lags):
        p10, p50, p90 = (np.empty(len(index)) for _ in range(3))
        for lag, (a, b, q10, q90) in lines.items():
            sel = lead + 1 == lag
            mid = a + b * persist
            p50[sel], p10[sel], p90[sel] = mid, mid + q10, mid + q90
        fc = {"p50": p50, "p10": p10, "p90": p90}
        method += " + least-squares correction by lead (p10/p90 from its residuals)"
    else:
        notes.append(f"fewer than {MIN_PV_DAYS} usable days: persistence without correction "
                     "or interval")
    e = expected.reindex(index).to_numpy(dtype=float)
    out = {n: None if v is None else np.clip(v, 0.0, MAX_INDEX) * np.nan_to_num(e)
           for n, v in fc.items()}
    return Forecast(index, out["p50"], out["p10"], out["p90"], method, origin,  # type: ignore[arg-type]
                    notes)
