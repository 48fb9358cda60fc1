"""Accounting periods 'YYYY', 'YYYY-Qn', 'YYYY-MM' as Asia/Shanghai calendar spans [start, end)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from app.params import YEAR_MAX, YEAR_MIN

_RE = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")


class PeriodError(ValueError):
    """Not a period of the form YYYY, YYYY-MM or YYYY-Qn."""


@dataclass(frozen=True)
class Period:
    label: str
    year: int
    start: date  # first local day
    end: date  # first local day after the period
    months: int  # 1, 3 or 12

    def month_labels(self) -> list[str]:
        out, m = [], self.start
        while m < self.end:
            out.append(f"{m.year:04d}-{m.month:02d}")
            m = _add_months(m, 1)
        return out


def _add_months(d: date, n: int) -> date:
    k = d.year * 12 + d.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


def parse_period(label: str) -> Period:
    m = _RE.match(label or "")
    if not m:
        raise PeriodError(f"period {label!r}: use YYYY, YYYY-MM or YYYY-Qn")
    year = int(m.group(1))
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise PeriodError(f"period {label!r}: the year must be within {YEAR_MIN}..{YEAR_MAX}")
    if m.group(2):
        start, months = date(year, int(m.group(2)), 1), 1
    elif m.group(3):
        start, months = date(year, 3 * (int(m.group(3)) - 1) + 1, 1), 3
    else:
        start, months = date(year, 1, 1), 12
    return Period(label, year, start, _add_months(start, months), months)


def previous_month(today: date) -> Period:
    first = _add_months(date(today.year, today.month, 1), -1)
    return parse_period(f"{first.year:04d}-{first.month:02d}")
