"""DR baseline: the same slots on the most recent similar days, as grid practice computes it."""

import datetime as dt

import chinese_calendar
import numpy as np
import pandas as pd
import pytest

from energy.vpp.baseline import (
    STATUS_INCOMPLETE,
    STATUS_INSUFFICIENT,
    STATUS_OK,
    AdjustmentRule,
    BaselineRules,
    dr_baseline,
    practice,
)

TZ = "Asia/Shanghai"


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz=TZ)


def history(start: str, end: str, columns=("m1",), seed: int = 3) -> pd.DataFrame:
    """15-min load where every day has its own level, so each day's share of a mean shows."""
    idx = pd.date_range(ts(start), ts(end), freq="15min", inclusive="left")
    rng = np.random.default_rng(seed)
    day_level = {d: float(rng.uniform(100, 900)) for d in sorted(set(idx.date))}
    shape = 1 + 0.3 * np.sin(2 * np.pi * (idx.hour * 4 + idx.minute // 15) / 96)
    base = np.array([day_level[d] for d in idx.date]) * shape
    return pd.DataFrame({c: base * (1 + k) for k, c in enumerate(columns)}, index=idx)


def slot_mean(load: pd.Series, days: list[dt.date], t0: pd.Timestamp, t1: pd.Timestamp):
    """The mean of the same local clock times on ``days`` (computed directly with pandas)."""
    out = []
    for d in days:
        a = ts(d.isoformat()) + (t0 - t0.normalize())
        out.append(load[a : a + (t1 - t0) - pd.Timedelta("15min")].to_numpy())
    return np.mean(out, axis=0)


def test_workday_event_after_national_day_uses_workdays_incl_make_up_saturday():
    load = history("2026-08-20", "2026-10-13")
    t0, t1 = ts("2026-10-12 14:00"), ts("2026-10-12 18:00")
    b = dr_baseline(load, t0, t1)
    days = b.days_used["m1"]
    assert len(days) == 5 and b.status["m1"] == STATUS_OK
    assert all(chinese_calendar.is_workday(d) for d in days)
    # The make-up workday of the National Day holiday (Saturday 10 Oct 2026) counts; the holiday
    # week 1-7 Oct does not.
    assert dt.date(2026, 10, 10) in days
    assert not any(dt.date(2026, 10, 1) <= d <= dt.date(2026, 10, 7) for d in days)
    assert days == sorted(days, reverse=True)  # most recent first
    assert np.allclose(b.baseline_kw["m1"].to_numpy(), slot_mean(load["m1"], days, t0, t1))
    assert b.method()["day_type"] == "workday" and b.method()["n_days"] == 5


def test_earlier_event_days_and_days_with_gaps_are_skipped():
    load = history("2026-06-01", "2026-07-01", columns=("m1", "m2"))
    load.loc[ts("2026-06-25 03:00"), "m2"] = np.nan  # one missing interval, far from the event
    load = load.drop(ts("2026-06-24 12:00"))  # an absent interval is a gap too (m1 and m2)
    t0, t1 = ts("2026-06-30 10:00"), ts("2026-06-30 12:00")  # Tuesday
    b = dr_baseline(load, t0, t1, event_days=[dt.date(2026, 6, 29)])
    assert dt.date(2026, 6, 29) in b.skipped_event_days
    for col in ("m1", "m2"):
        assert dt.date(2026, 6, 29) not in b.days_used[col]
        assert dt.date(2026, 6, 24) not in b.days_used[col]
    assert dt.date(2026, 6, 25) in b.days_used["m1"]
    assert dt.date(2026, 6, 25) not in b.days_used["m2"]
    assert len(b.days_used["m2"]) == 5
    assert np.allclose(b.baseline_kw["m2"], slot_mean(load["m2"], b.days_used["m2"], t0, t1))


def test_rest_day_event_uses_rest_days():
    load = history("2026-05-01", "2026-06-15")
    t0, t1 = ts("2026-06-14 19:00"), ts("2026-06-14 21:00")  # Sunday
    b = dr_baseline(load, t0, t1)
    days = b.days_used["m1"]
    assert b.day_type == "rest_day" and len(days) == practice()["baseline"]["n_days_rest_day"]
    assert not any(chinese_calendar.is_workday(d) for d in days)


def test_too_little_history_is_incomplete_and_none_is_insufficient():
    load = history("2026-06-26", "2026-07-01")  # Fri 26 .. Tue 30 June: 3 workdays before 30th
    t0, t1 = ts("2026-06-30 10:00"), ts("2026-06-30 11:00")
    b = dr_baseline(load, t0, t1)
    assert b.status["m1"] == STATUS_INCOMPLETE and len(b.days_used["m1"]) == 2
    assert np.isfinite(b.baseline_kw["m1"]).all()
    b2 = dr_baseline(load.loc[ts("2026-06-30"):], t0, t1)
    assert b2.status["m1"] == STATUS_INSUFFICIENT and b2.baseline_kw["m1"].isna().all()


def test_same_day_adjustment_scales_and_is_capped():
    load = history("2026-06-01", "2026-07-01", columns=("small", "large"))
    t0, t1 = ts("2026-06-30 14:00"), ts("2026-06-30 16:00")
    adj = AdjustmentRule(window_hours=3.0, gap_hours=1.0, cap_fraction=0.2)
    plain = dr_baseline(load, t0, t1)
    # Event-day morning: 'small' runs 10 % above its usual level, 'large' 50 % above.
    window = (load.index >= ts("2026-06-30 10:00")) & (load.index < ts("2026-06-30 13:00"))
    usual = {}
    for col in ("small", "large"):
        days = plain.days_used[col]
        usual[col] = slot_mean(load[col], days, ts("2026-06-30 10:00"), ts("2026-06-30 13:00"))
    load.loc[window, "small"] = usual["small"] * 1.10
    load.loc[window, "large"] = usual["large"] * 1.50
    b = dr_baseline(load, t0, t1, rules=BaselineRules(adjustment=adj))
    assert b.adjustment_factor["small"] == pytest.approx(1.10)
    assert b.adjustment_factor["large"] == pytest.approx(1.20)  # capped
    assert "capped" in b.adjustment_note["large"]
    assert np.allclose(b.baseline_kw["small"], plain.baseline_kw["small"] * 1.10)
    assert b.method()["adjusted"] is True


def test_year_without_official_calendar_says_so():
    load = history("2027-02-01", "2027-03-10")
    b = dr_baseline(load, ts("2027-03-09 10:00"), ts("2027-03-09 11:00"))
    assert b.official_calendar is False
    assert "no official holiday calendar" in b.method()["text"]
    assert all(d.weekday() < 5 for d in b.days_used["m1"])


def test_bad_inputs_are_refused():
    load = history("2026-06-01", "2026-06-10")
    with pytest.raises(ValueError, match="time-zone-aware"):
        dr_baseline(load.tz_localize(None), ts("2026-06-09 10:00"), ts("2026-06-09 11:00"))
    with pytest.raises(ValueError, match="duplicate"):
        dr_baseline(pd.concat([load, load.iloc[:1]]), ts("2026-06-09 10:00"),
                    ts("2026-06-09 11:00"))
    with pytest.raises(ValueError, match="end after"):
        dr_baseline(load, ts("2026-06-09 10:00"), ts("2026-06-09 10:00"))


def test_practice_file_cites_its_sources():
    doc = practice()
    assert doc["version"]
    for src in doc["sources"]:
        assert src["title"] and src["publisher"] and int(src["year"]) > 1990
        assert src["url"].startswith("https://")
