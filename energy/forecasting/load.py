"""Day-ahead and intraday load forecasts: gradient-boosted trees (LightGBM) on calendar and
profile features, with p10/p90 from quantile models.

A forecast is *issued* at ``origin`` and uses only values before it. Its features come from the
whole days before the origin's local day (the *anchor*): the same slot's mean over the last three
workdays and the last three non-workdays, the same slot a week earlier and on the last whole day,
scaled by the mean of the last seven days; the target day's slot, weekday, lead in days, day of
year and its day type from the holiday notice (workday, statutory holiday, make-up workday; see
:mod:`energy.forecasting.calendar`). Trees predict the value over that scale, so a level shift
carries over (the scale is the mean of the last three workdays, which a holiday week does not
drag down). Intraday, the relative error of the steps already seen since the anchor decays
into the next steps with the residuals' lag-one autocorrelation, learned in fitting.

LightGBM (Ke et al. 2017, https://github.com/microsoft/LightGBM) was chosen over statsforecast's
MSTL/AutoETS: it fits a year of 15-minute data in well under a second without a JIT warm-up,
takes holidays and make-up workdays as features, and its quantile objective gives the interval
(benchmarks/RESULTS_forecast.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy.forecasting.calendar import day_frame
from energy.forecasting.grid import DayGrid, day_grid, infer_step, local_midnight
from energy.forecasting.naive import daily_naive, weekly_naive

FEATURES = ("slot", "dow", "workday", "holiday", "makeup_workday", "lead_days", "doy_sin",
            "doy_cos", "profile_same", "profile_other", "week_ago", "last_day",
            "last_day_workday")
MIN_HISTORY_DAYS = 21
"""Fewer whole days before the anchor: no model, a naive forecast stands in."""
PROFILE_DAYS = 3
SCALE_DAYS = 7
WARMUP_DAYS = 14
"""Whole days a training anchor needs before it (two weeks: a week-ago value at every lead)."""
QUANTILES = {"p50": None, "p10": 0.1, "p90": 0.9}
PARAMS: dict[str, object] = {"learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 40,
                             "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1,
                             "num_threads": 1, "verbose": -1, "seed": 7, "deterministic": True}
ROUNDS = 200


@dataclass(frozen=True)
class Forecast:
    """Points at the interval starts ``index`` with the 10 % and 90 % quantiles (None when the
    method gives no interval), in the unit of the series."""

    index: pd.DatetimeIndex
    p50: np.ndarray
    p10: np.ndarray | None
    p90: np.ndarray | None
    method: str
    origin: pd.Timestamp
    notes: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        nan = np.full(len(self.index), np.nan)
        return pd.DataFrame({"p50": self.p50,
                             "p10": nan if self.p10 is None else self.p10,
                             "p90": nan if self.p90 is None else self.p90}, index=self.index)


@dataclass
class _Days:
    """Per-day quantities of one grid: day types, scale, and the profiles seen from each anchor."""

    grid: DayGrid
    types: pd.DataFrame
    scale: np.ndarray
    profile_work: np.ndarray
    profile_off: np.ndarray

    @classmethod
    def of(cls, grid: DayGrid) -> _Days:
        y = grid.values
        types = day_frame(grid.days.tz_localize(None))
        work = types["workday"].to_numpy()
        known = np.isfinite(y)
        counts = known.sum(axis=1)
        sums = np.where(known, y, 0.0).sum(axis=1)
        day_mean = pd.Series(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))
        # scale seen from anchor a: the mean of the last three workdays' profile (a holiday week
        # does not drag it down), else the mean of days a-7..a-1; nothing of day a itself
        profile_work, profile_off = _profile(y, work), _profile(y, ~work)
        recent = day_mean.rolling(SCALE_DAYS, min_periods=3).mean().shift(1).to_numpy()
        known = np.isfinite(profile_work)
        work_mean = np.where(known.any(axis=1), np.where(known, profile_work, 0.0).sum(axis=1)
                             / np.maximum(known.sum(axis=1), 1), np.nan)
        scale = np.where(np.isfinite(work_mean), work_mean, recent)
        scale = np.where(np.abs(scale) > 1e-9, scale, np.nan)
        return cls(grid, types, scale, profile_work, profile_off)


def _profile(y: np.ndarray, of_type: np.ndarray) -> np.ndarray:
    """Row a: the mean per slot of the last PROFILE_DAYS days of the type before day a."""
    rows = np.flatnonzero(of_type)
    out = np.full_like(y, np.nan)
    if not len(rows):
        return out
    rolled = pd.DataFrame(y[rows]).rolling(PROFILE_DAYS, min_periods=1).mean().to_numpy()
    before = np.searchsorted(rows, np.arange(len(y)))  # type-days strictly before a
    ok = before >= 1
    out[ok] = rolled[before[ok] - 1]
    return out


def _features(days: _Days, anchor: np.ndarray, rows: np.ndarray, slots: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """(features, scale) for targets (day ``rows``, ``slots``) seen from ``anchor`` rows."""
    y = days.grid.values
    t = days.types
    work = t["workday"].to_numpy()
    scale = days.scale[anchor]
    same = np.where(work[rows], days.profile_work[anchor, slots], days.profile_off[anchor, slots])
    other = np.where(work[rows], days.profile_off[anchor, slots], days.profile_work[anchor, slots])
    lead = rows - anchor
    week_src = rows - 7 * (lead // 7 + 1)
    week = np.where(week_src >= 0, y[np.maximum(week_src, 0), slots], np.nan)
    last = np.where(anchor >= 1, y[np.maximum(anchor - 1, 0), slots], np.nan)
    doy = days.grid.days[rows].day_of_year.to_numpy()
    x = np.column_stack([
        slots, t["dow"].to_numpy()[rows], work[rows], t["holiday"].to_numpy()[rows],
        t["makeup_workday"].to_numpy()[rows], lead,
        np.sin(2 * np.pi * doy / 365.25), np.cos(2 * np.pi * doy / 365.25),
        same / scale, other / scale, week / scale, last / scale,
        work[np.maximum(anchor - 1, 0)],
    ]).astype(float)
    return x, scale


@dataclass
class LoadModel:
    """Fitted quantile boosters (p50, p10, p90) for one series and its intraday persistence."""

    step: pd.Timedelta
    boosters: dict[str, Any]
    phi: float
    max_lead_days: int
    trained_days: int

    @property
    def method(self) -> str:
        return "lightgbm (calendar + profile features, quantile p10/p50/p90)"


def _grid_for(history: pd.Series, step: pd.Timedelta, last: pd.Timestamp) -> DayGrid:
    first = local_midnight(pd.Timestamp(history.index[0]))
    n_days = int((local_midnight(last) - first) / pd.Timedelta(days=1)) + 1
    return day_grid(history, step, first, n_days)


def fit_load_model(history: pd.Series, *, max_lead_days: int = 2, history_days: int = 112,
                   step: pd.Timedelta | None = None) -> LoadModel | None:
    """Fit on ``history`` (tz-aware interval starts, NaN or absent where unknown), its last
    ``history_days`` days at most. ``None`` when it holds fewer than MIN_HISTORY_DAYS days."""
    import lightgbm as lgb

    history = history.dropna()
    if len(history) < 2:
        return None
    step = step or infer_step(pd.DatetimeIndex(history.index))
    end = pd.Timestamp(history.index[-1])
    start = local_midnight(end) - pd.Timedelta(days=history_days)
    history = history[history.index >= start]
    grid = _grid_for(history, step, end)
    n_days = grid.values.shape[0]
    if n_days - 1 < MIN_HISTORY_DAYS:
        return None
    days = _Days.of(grid)
    anchors = np.arange(WARMUP_DAYS, n_days)
    mesh = np.meshgrid(anchors, np.arange(max_lead_days), np.arange(grid.slots), indexing="ij")
    a, k, s = (m.ravel() for m in mesh)
    keep = a + k < n_days
    a, rows, s = a[keep], (a + k)[keep], s[keep]
    x, scale = _features(days, a, rows, s)
    target = grid.values[rows, s] / scale
    ok = np.isfinite(target)
    if ok.sum() < 7 * grid.slots:
        return None
    x, target = x[ok], target[ok]
    boosters: dict[str, Any] = {}
    for name, alpha in QUANTILES.items():
        params = {**PARAMS, "objective": "quantile", "alpha": alpha} if alpha is not None else {
            **PARAMS, "objective": "regression_l1"}
        data = lgb.Dataset(x, target, feature_name=list(FEATURES), free_raw_data=True)
        boosters[name] = lgb.train(params, data, num_boost_round=ROUNDS)
    # lag-one autocorrelation of same-day relative errors (lead 0) for the intraday update
    lead0 = (rows[ok] == a[ok])
    err = target[lead0] - boosters["p50"].predict(x[lead0])
    phi = 0.0
    if len(err) > 2 * grid.slots:
        e0, e1 = err[:-1], err[1:]
        same_day = np.diff(s[ok][lead0]) == 1
        if same_day.sum() > 10 and np.std(e0[same_day]) > 0 and np.std(e1[same_day]) > 0:
            phi = float(np.clip(np.corrcoef(e0[same_day], e1[same_day])[0, 1], 0.0, 0.99))
    return LoadModel(step=step, boosters=boosters, phi=phi, max_lead_days=max_lead_days,
                     trained_days=n_days)


def forecast_load(history: pd.Series, origin: pd.Timestamp, index: pd.DatetimeIndex,
                  model: LoadModel | None = None, *, fit: bool = True) -> Forecast:
    """Forecast ``index`` (interval starts at or after ``origin``) issued at ``origin`` from the
    values of ``history`` before ``origin`` (later values are ignored). ``model``: a model fitted
    earlier (e.g. by a backtest); else one is fitted here (``fit``) or the naive stands in."""
    origin = pd.Timestamp(origin)
    if len(index) and index[0] < origin:
        raise ValueError("the forecast's first interval starts before its origin")
    past = history[history.index < origin].dropna()
    step = model.step if model is not None else (
        infer_step(pd.DatetimeIndex(past.index)) if len(past) >= 2 else pd.Timedelta(minutes=15))
    anchor_day = local_midnight(origin)
    lead_days = int((local_midnight(index[-1]) - anchor_day) / pd.Timedelta(days=1)) + 1
    if model is None and fit:
        model = fit_load_model(past, max_lead_days=max(lead_days, 1), step=step)
    if not len(past):
        raise ValueError("no values before the origin")
    grid = _grid_for(past, step, max(pd.Timestamp(index[-1]), anchor_day))
    anchor = int((anchor_day - grid.first_day) / pd.Timedelta(days=1))
    rows, slots = grid.position(index)
    if model is None:
        return _naive(grid, anchor, rows, slots, index, origin)
    days = _Days.of(grid)
    x, scale = _features(days, np.full(len(rows), anchor), rows, slots)
    pred = {n: b.predict(x) for n, b in model.boosters.items()}
    notes: list[str] = []
    if not np.isfinite(scale).all():
        return _naive(grid, anchor, rows, slots, index, origin,
                      "no values in the week before the origin's day")
    # intraday: decay the relative error of the last steps seen since the anchor
    seen = past[past.index >= anchor_day]
    if len(seen) and model.phi > 0:
        srows, sslots = grid.position(pd.DatetimeIndex(seen.index[-4:]))
        sx, sscale = _features(days, np.full(len(srows), anchor), srows, sslots)
        err = float(np.mean(seen.to_numpy()[-4:] / sscale - model.boosters["p50"].predict(sx)))
        ahead = ((index - seen.index[-1]) // model.step).to_numpy().astype(float)
        for n in pred:
            pred[n] = pred[n] + err * model.phi ** ahead
        notes.append(f"intraday update from {seen.index[-1].isoformat()} (phi {model.phi:.2f})")
    p10, p50, p90 = np.sort(np.column_stack([pred["p10"], pred["p50"], pred["p90"]]), axis=1).T
    return Forecast(index, p50 * scale, p10 * scale, p90 * scale, model.method, origin, notes)


def _naive(grid: DayGrid, anchor: int, rows: np.ndarray, slots: np.ndarray,
           index: pd.DatetimeIndex, origin: pd.Timestamp, why: str | None = None) -> Forecast:
    week = weekly_naive(grid, anchor, rows, slots)
    note = why or f"fewer than {MIN_HISTORY_DAYS} days of history before the origin"
    if np.isfinite(week).all():
        return Forecast(index, week, None, None, "seasonal naive (one week)", origin, [note])
    day = daily_naive(grid, anchor, slots)
    if np.isfinite(day).all():
        return Forecast(index, day, None, None, "daily naive (last whole day)", origin, [note])
    filled = np.where(np.isfinite(week), week, day)
    if np.isfinite(filled).all():
        return Forecast(index, filled, None, None, "seasonal naive, daily naive where missing",
                        origin, [note])
    raise InsufficientHistory(f"{note}; no value a week or a day before every step")


class InsufficientHistory(ValueError):
    """Too few values before the origin for any forecast of the requested steps."""
