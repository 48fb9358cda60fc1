"""Day types of the mainland China working calendar: workdays, statutory holidays and the
make-up workdays (调休) that move a weekend day into the working week.

Source: the State Council's annual holiday notice (国务院办公厅关于节假日安排的通知), as
packaged by the ``chinese-calendar`` library. Years the library does not cover fall back to the
plain week (Monday–Friday workdays) and are reported as not covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DayType:
    workday: bool
    holiday: bool
    """A statutory holiday falling on a weekday (or any day of a named holiday period)."""
    makeup_workday: bool
    """A Saturday or Sunday that is a workday by the holiday notice."""
    covered: bool
    """Whether the holiday notice of that year is known (else the plain week)."""


@lru_cache(maxsize=8192)
def day_type(day: date) -> DayType:
    import chinese_calendar

    weekend = day.weekday() >= 5
    try:
        holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return DayType(workday=not weekend, holiday=False, makeup_workday=False, covered=False)
    workday = not holiday
    return DayType(workday=workday, holiday=bool(holiday and name is not None),
                   makeup_workday=workday and weekend, covered=True)


def day_frame(days: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per local calendar day of ``days`` (normalised, tz-naive or aware): columns
    ``workday``, ``holiday``, ``makeup_workday``, ``covered`` (bool) and ``dow`` (0 = Monday)."""
    types = [day_type(d.date()) for d in days]
    return pd.DataFrame({
        "workday": np.fromiter((t.workday for t in types), bool, len(types)),
        "holiday": np.fromiter((t.holiday for t in types), bool, len(types)),
        "makeup_workday": np.fromiter((t.makeup_workday for t in types), bool, len(types)),
        "covered": np.fromiter((t.covered for t in types), bool, len(types)),
        "dow": days.day_of_week.to_numpy(),
    }, index=days)
