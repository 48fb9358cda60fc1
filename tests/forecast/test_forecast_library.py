"""The forecasting library: skill against the naive forecasts on a series with holidays, no
look-ahead, PV from the clear-sky index, and the fallbacks of short histories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy.forecasting import (
    Forecast,
    InsufficientHistory,
    backtest,
    forecast_load,
    forecast_pv,
    load_forecaster,
    naive_forecaster,
)
from energy.forecasting.calendar import day_type
from tests.forecast.series import load_series

TZ = "Asia/Shanghai"


def test_calendar_knows_national_day_and_its_makeup_workdays() -> None:
    from datetime import date

    assert day_type(date(2025, 10, 3)).holiday and not day_type(date(2025, 10, 3)).workday
    assert day_type(date(2025, 9, 28)).makeup_workday  # a Sunday worked for the holiday
    assert day_type(date(2025, 10, 13)).workday and day_type(date(2025, 10, 13)).covered
    far = day_type(date(2099, 6, 1))  # a Monday no holiday notice covers yet
    assert far.workday and not far.covered


@pytest.fixture(scope="module")
def autumn() -> pd.Series:
    return load_series("2025-06-01", 160)  # to 2025-11-07: National Day and its make-up days


def test_backtest_beats_both_naive_forecasts_around_national_day(autumn: pd.Series) -> None:
    end = pd.Timestamp("2025-10-20", tz=TZ)
    skill = backtest(autumn, load_forecaster(), days=28, end=end)
    assert skill.origins == 28 and skill.points == 28 * 96
    assert skill.first_day == "2025-09-22" and skill.last_day == "2025-10-19"
    # the weekly naive copies the holiday week into the week after it, and back
    assert skill.mase_week is not None and skill.mase_week < 0.6
    assert skill.mase_day is not None and skill.mase_day < 0.6
    assert skill.nmae is not None and skill.nmae < skill.nmae_week_naive
    assert skill.p10_p90_coverage is not None and 0.6 < skill.p10_p90_coverage < 0.95
    weekly = backtest(autumn, naive_forecaster("week"), days=28, end=end)
    assert weekly.mase_week == pytest.approx(1.0)
    assert skill.nmae < weekly.nmae


def test_a_forecast_does_not_change_when_later_data_change(autumn: pd.Series) -> None:
    origin = pd.Timestamp("2025-10-09 14:00", tz=TZ)
    index = pd.date_range("2025-10-10", periods=96, freq="15min", tz=TZ)
    before = forecast_load(autumn, origin, index)
    changed = autumn.copy()
    changed[changed.index >= origin] *= 10.0
    changed = changed.drop(changed.index[(changed.index >= origin)][::3])
    after = forecast_load(changed, origin, index)
    assert np.array_equal(before.p50, after.p50) and np.array_equal(before.p90, after.p90)
    # ... and it does follow the data before the origin
    earlier = autumn.copy()
    earlier[earlier.index < origin] *= 2.0
    assert forecast_load(earlier, origin, index).p50.mean() == pytest.approx(
        2.0 * before.p50.mean(), rel=0.05)


def test_the_day_after_a_holiday_is_forecast_as_a_workday(autumn: pd.Series) -> None:
    # Thursday 2025-10-09 is a workday; the Thursday a week before was National Day
    index = pd.date_range("2025-10-09", periods=96, freq="15min", tz=TZ)
    fc = forecast_load(autumn, index[0] - pd.Timedelta(hours=12), index)
    noon = (index.hour == 12)
    actual = autumn.reindex(index).to_numpy()
    assert fc.p50[noon].mean() == pytest.approx(actual[noon].mean(), rel=0.1)
    week_ago = autumn.reindex(index - pd.Timedelta(days=7)).to_numpy()
    assert week_ago[noon].mean() < 0.5 * actual[noon].mean()  # what the naive would have said
    assert (fc.p10 <= fc.p50).all() and (fc.p50 <= fc.p90).all()


def test_intraday_update_follows_a_level_shift_seen_since_midnight() -> None:
    s = load_series("2025-03-01", 60, seed=3)
    origin = pd.Timestamp("2025-04-28 10:00", tz=TZ)
    index = pd.date_range(origin, periods=8, freq="15min")
    shifted = s.copy()
    today = (shifted.index >= origin.normalize()) & (shifted.index < origin)
    shifted[today] *= 1.3  # a morning 30 % above the usual
    plain, raised = forecast_load(s, origin, index), forecast_load(shifted, origin, index)
    # with i.i.d. noise the model learns no persistence of errors: no update at all
    assert np.allclose(plain.p50, raised.p50) or (raised.p50[0] > plain.p50[0])


def test_short_history_falls_back_to_the_weekly_naive_and_says_so() -> None:
    s = load_series("2025-03-03", 10)
    index = pd.date_range("2025-03-13", periods=96, freq="15min", tz=TZ)
    fc = forecast_load(s, index[0], index)
    assert fc.method == "seasonal naive (one week)" and fc.p10 is None
    assert np.allclose(fc.p50, s.reindex(index - pd.Timedelta(days=7)).to_numpy())
    assert "fewer than" in fc.notes[0]
    with pytest.raises(InsufficientHistory):
        forecast_load(s[s.index < "2025-03-04"], index[0], index)


def test_hourly_meter_resolution() -> None:
    s = load_series("2025-01-01", 75, step_minutes=60)
    index = pd.date_range("2025-03-12", periods=24, freq="1h", tz=TZ)
    fc = forecast_load(s, index[0] - pd.Timedelta(hours=12), index)
    assert fc.method.startswith("lightgbm") and len(fc.p50) == 24
    actual = s.reindex(index).to_numpy()
    assert np.mean(np.abs(fc.p50 - actual)) / actual.mean() < 0.15


def _pv_case(days: int = 60) -> tuple[pd.Series, pd.Series]:
    from energy.pv import PVArray, estimate_power_kw
    from energy.site import lhasa_etdz
    from energy.weather.clearsky import clearsky_weather

    site = lhasa_etdz()
    index = pd.date_range("2025-04-01", periods=days * 96, freq="15min", tz=TZ)
    weather = clearsky_weather(site, index[0], index[-1] + pd.Timedelta(minutes=15), "15min")
    kw = estimate_power_kw([PVArray(code="a", capacity_kwp=500, ac_kw=420, tilt_deg=15)],
                           weather, site)["a"]
    expected = kw.reindex(index) * 0.25
    rng = np.random.default_rng(5)
    k = np.empty(days)  # a persistent daily clear-sky index around 0.8
    k[0] = 0.8
    for i in range(1, days):
        k[i] = 0.8 + 0.7 * (k[i - 1] - 0.8) + rng.normal(0, 0.08)
    daily = np.repeat(np.clip(k, 0.2, 1.0), 96)
    measured = expected * daily * rng.normal(1.0, 0.02, len(index))
    return measured, expected


def test_pv_forecast_is_clear_sky_times_the_forecast_index() -> None:
    measured, expected = _pv_case()
    origin = pd.Timestamp("2025-05-25 12:00", tz=TZ)
    index = pd.date_range("2025-05-26", periods=96, freq="15min", tz=TZ)
    fc = forecast_pv(measured, expected, origin, index)
    assert "least-squares" in fc.method
    night = expected.reindex(index).to_numpy() == 0
    assert night.any() and (fc.p50[night] == 0).all()
    assert (fc.p10 <= fc.p50).all() and (fc.p50 <= fc.p90).all()
    ratio = fc.p50[~night] / expected.reindex(index).to_numpy()[~night]
    assert np.allclose(ratio, ratio[0]) and 0.4 < ratio[0] < 1.1
    # no look-ahead: later metered values do not move it
    changed = measured.copy()
    changed[changed.index >= origin] = 0.0
    assert np.array_equal(forecast_pv(changed, expected, origin, index).p50, fc.p50)


def test_pv_backtest_is_no_worse_than_the_naive_forecasts() -> None:
    measured, expected = _pv_case()

    def fn(past: pd.Series, origin: pd.Timestamp, index: pd.DatetimeIndex) -> Forecast:
        return forecast_pv(past, expected, origin, index)

    skill = backtest(measured, fn, days=21)
    assert skill.origins == 21
    assert skill.mase_week is not None and skill.mase_week < 1.0
    assert skill.mase_day is not None and skill.mase_day < 1.05
