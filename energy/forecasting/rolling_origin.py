"""Rolling-origin backtest: forecast each of the last whole days from an origin before it,
using only the values before that origin, and score the forecasts against the weekly seasonal
naive and the daily naive issued at the same origins (:mod:`energy.forecasting.metrics`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from energy.forecasting.grid import day_grid, infer_step, local_midnight
from energy.forecasting.load import (
    Forecast,
    InsufficientHistory,
    LoadModel,
    fit_load_model,
    forecast_load,
)
from energy.forecasting.metrics import mase, nmae
from energy.forecasting.naive import daily_naive, weekly_naive

ForecastFn = Callable[[pd.Series, pd.Timestamp, pd.DatetimeIndex], Forecast]
"""(values before the origin, origin, target interval starts) -> forecast."""


@dataclass(frozen=True)
class Skill:
    """Out-of-sample skill of one method over ``origins`` day-ahead forecasts."""

    method: str
    origins: int
    points: int
    first_day: str | None
    last_day: str | None
    issue_hours_before: float
    mase_week: float | None
    """MAE over the weekly seasonal naive's MAE on the same targets (< 1: better)."""
    mase_day: float | None
    """MAE over the daily naive's MAE on the same targets."""
    nmae: float | None
    nmae_week_naive: float | None
    nmae_day_naive: float | None
    p10_p90_coverage: float | None
    """Share of actuals inside [p10, p90] (0.8 when calibrated)."""
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _finite(x: float) -> float | None:
    return round(float(x), 4) if np.isfinite(x) else None


def backtest(series: pd.Series, forecast_fn: ForecastFn, *, days: int = 28,
             issue_hours_before: float = 12.0, end: pd.Timestamp | None = None,
             step: pd.Timedelta | None = None) -> Skill:
    """Day-ahead backtest over the last ``days`` whole local days before ``end`` (default: the
    series' last whole day): each day is forecast from an origin ``issue_hours_before`` hours
    before its midnight, from the values before that origin only."""
    t0 = time.perf_counter()
    series = series.dropna()
    step = step or infer_step(pd.DatetimeIndex(series.index))
    last_ts = pd.Timestamp(series.index[-1]) + step
    stop = local_midnight(pd.Timestamp(end) if end is not None else last_ts)
    first = local_midnight(pd.Timestamp(series.index[0]))
    n_days = int((stop - first) / pd.Timedelta(days=1)) + 1
    grid = day_grid(series, step, first, n_days)
    per_day = grid.slots
    targets = [stop - pd.Timedelta(days=i) for i in range(days, 0, -1)]
    targets = [d for d in targets if d >= first]
    actual, fc, week, day, lo, hi = ([] for _ in range(6))
    methods: set[str] = set()
    used: list[pd.Timestamp] = []
    for d in targets:
        origin = d - pd.Timedelta(hours=issue_hours_before)
        index = pd.date_range(d, periods=per_day, freq=step)
        row = int((d - first) / pd.Timedelta(days=1))
        y = grid.values[row]
        if np.isnan(y).all():
            continue
        past = series[series.index < origin]
        if len(past) < 2:
            continue
        try:
            f = forecast_fn(past, origin, index)
        except InsufficientHistory:
            continue
        anchor = int((local_midnight(origin) - first) / pd.Timedelta(days=1))
        rows, slots = np.full(per_day, row), np.arange(per_day)
        actual.append(y)
        fc.append(f.p50)
        week.append(weekly_naive(grid, anchor, rows, slots))
        day.append(daily_naive(grid, anchor, slots))
        nan = np.full(per_day, np.nan)
        lo.append(nan if f.p10 is None else f.p10)
        hi.append(nan if f.p90 is None else f.p90)
        methods.add(f.method)
        used.append(d)
    if not used:
        return Skill("; ".join(sorted(methods)) or "none", 0, 0, None, None, issue_hours_before,
                     None, None, None, None, None, None, time.perf_counter() - t0)
    a, f_, w, dn, l_, h_ = (np.concatenate(v) for v in (actual, fc, week, day, lo, hi))
    ok = np.isfinite(a)
    inside = ok & np.isfinite(l_) & np.isfinite(h_)
    coverage = float(np.mean((a[inside] >= l_[inside]) & (a[inside] <= h_[inside]))
                     ) if inside.any() else float("nan")
    return Skill(
        method="; ".join(sorted(methods)), origins=len(used), points=int(ok.sum()),
        first_day=used[0].date().isoformat(), last_day=used[-1].date().isoformat(),
        issue_hours_before=issue_hours_before,
        mase_week=_finite(mase(a, f_, w)), mase_day=_finite(mase(a, f_, dn)),
        nmae=_finite(nmae(a, f_)), nmae_week_naive=_finite(nmae(a, w)),
        nmae_day_naive=_finite(nmae(a, dn)), p10_p90_coverage=_finite(coverage),
        seconds=round(time.perf_counter() - t0, 3))


def load_forecaster(*, refit_every_days: int = 7, lead_days: int = 2,
                    history_days: int = 112) -> ForecastFn:
    """The load model for :func:`backtest`, refitted every ``refit_every_days`` on the values
    before the current origin."""
    state: dict[str, object] = {}

    def fn(past: pd.Series, origin: pd.Timestamp, index: pd.DatetimeIndex) -> Forecast:
        at = state.get("at")
        if at is None or origin - at >= pd.Timedelta(days=refit_every_days):  # type: ignore[operator]
            state["model"] = fit_load_model(past, max_lead_days=lead_days,
                                            history_days=history_days)
            state["at"] = origin
        model = state["model"]
        return forecast_load(past, origin, index, model=model
                             if isinstance(model, LoadModel) else None, fit=False)

    return fn


def naive_forecaster(kind: str = "week") -> ForecastFn:
    """The weekly seasonal naive (``week``) or daily naive (``day``) as a forecaster."""

    def fn(past: pd.Series, origin: pd.Timestamp, index: pd.DatetimeIndex) -> Forecast:
        step = infer_step(pd.DatetimeIndex(past.index))
        first = local_midnight(pd.Timestamp(past.index[0]))
        n_days = int((local_midnight(index[-1]) - first) / pd.Timedelta(days=1)) + 1
        grid = day_grid(past, step, first, n_days)
        anchor = int((local_midnight(origin) - first) / pd.Timedelta(days=1))
        rows, slots = grid.position(index)
        p = (weekly_naive(grid, anchor, rows, slots) if kind == "week"
             else daily_naive(grid, anchor, slots))
        name = "seasonal naive (one week)" if kind == "week" else "daily naive (last whole day)"
        return Forecast(index, p, None, None, name, origin)

    return fn
