"""Customer baseline load of a demand-response event, as grid DR practice computes it.

The baseline of a load (kW, interval means) during an event is the mean of the same time slots on
the N most recent similar days before the event day: workdays for a workday event, rest days for a
rest-day event (Chinese public holidays and make-up workdays from ``chinese-calendar``), skipping
earlier event days and days with any missing interval. An optional same-day adjustment scales it by
the ratio of the event day's actual load to the baseline over a window before the event, capped.
Practice and parameters: data/dr_practice.yaml (GB/T 32127; CAISO 10-in-10 day matching; AEMO
WDR baseline register).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import chinese_calendar
import numpy as np
import pandas as pd
import yaml

from energy.site import PARK_TZ

PRACTICE_FILE = Path(__file__).parent / "data" / "dr_practice.yaml"
DEFAULT_TZ = PARK_TZ
DEFAULT_STEP = pd.Timedelta(minutes=15)
STATUS_OK = "ok"
STATUS_INCOMPLETE = "incomplete"
STATUS_INSUFFICIENT = "insufficient data"


@lru_cache(maxsize=1)
def practice() -> dict[str, Any]:
    """The parsed data/dr_practice.yaml (sources and parameters)."""
    data: dict[str, Any] = yaml.safe_load(PRACTICE_FILE.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class AdjustmentRule:
    """Same-day adjustment: window of ``window_hours`` ending ``gap_hours`` before the event
    start; the multiplicative factor is capped to 1 +/- ``cap_fraction``."""

    window_hours: float
    gap_hours: float
    cap_fraction: float

    def __post_init__(self) -> None:
        if self.window_hours <= 0 or self.gap_hours < 0 or not 0 <= self.cap_fraction < 1:
            raise ValueError("adjustment needs window_hours > 0, gap_hours >= 0, 0 <= cap < 1")


@dataclass(frozen=True)
class BaselineRules:
    """How many similar days, how far back, and whether to adjust on the event day."""

    n_days_workday: int = 5
    n_days_rest_day: int = 3
    max_lookback_days: int = 45
    adjustment: AdjustmentRule | None = None

    def __post_init__(self) -> None:
        if min(self.n_days_workday, self.n_days_rest_day) < 1:
            raise ValueError("a baseline needs at least one day")
        if self.max_lookback_days < max(self.n_days_workday, self.n_days_rest_day):
            raise ValueError("max_lookback_days is shorter than the number of days required")

    @classmethod
    def from_practice(cls, adjust: bool = False) -> BaselineRules:
        """The rules of data/dr_practice.yaml, with or without the same-day adjustment."""
        raw = practice()["baseline"]
        return cls(
            n_days_workday=int(raw["n_days_workday"]),
            n_days_rest_day=int(raw["n_days_rest_day"]),
            max_lookback_days=int(raw["max_lookback_days"]),
            adjustment=AdjustmentRule(**{k: float(v) for k, v in raw["adjustment"].items()})
            if adjust else None,
        )


def day_kind(day: dt.date) -> tuple[bool, bool]:
    """(is a workday, answered by the official calendar). Outside the years that
    ``chinese-calendar`` knows, Monday–Friday are workdays and the second value is False."""
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        return day.weekday() < 5, False


@dataclass
class Baseline:
    """Baseline of each column over the event slots, with the days and method behind it."""

    baseline_kw: pd.DataFrame
    day_type: str  # "workday" | "rest_day"
    n_days_required: int
    days_used: dict[str, list[dt.date]]
    adjustment_factor: dict[str, float]
    adjustment_note: dict[str, str]
    status: dict[str, str]
    skipped_event_days: list[dt.date] = field(default_factory=list)
    official_calendar: bool = True
    adjustment: AdjustmentRule | None = None

    def method(self) -> dict[str, Any]:
        """The method in words and numbers (for answers and audit)."""
        adj = self.adjustment
        kind = "workdays" if self.day_type == "workday" else "rest days"
        text = (f"mean of the same time slots on the {self.n_days_required} most recent {kind} "
                "before the event day, earlier event days and days with gaps skipped")
        zh = (f"事件日前最近{self.n_days_required}个同类型日（"
              f"{'工作日' if self.day_type == 'workday' else '休息日'}）同时段负荷平均，"
              "剔除已响应日和数据不完整日")
        if adj is not None:
            text += (f"; same-day adjustment from the {adj.window_hours:g} h ending "
                     f"{adj.gap_hours:g} h before the event, capped at ±{adj.cap_fraction:.0%}")
            zh += f"；按事件日前时段实测负荷修正，修正幅度不超过±{adj.cap_fraction:.0%}"
        if not self.official_calendar:
            text += "; no official holiday calendar for this year: Monday–Friday taken as workdays"
            zh += "；该年无官方节假日安排，周一至周五按工作日"
        return {
            "name": "similar-day average",
            "text": text,
            "text_zh": zh,
            "day_type": self.day_type,
            "n_days": self.n_days_required,
            "adjusted": adj is not None,
            "official_calendar": self.official_calendar,
            "sources": [s["id"] for s in practice()["sources"]],
            "practice_version": str(practice()["version"]),
        }

    def column(self, code: str) -> dict[str, Any]:
        """One column's baseline with its days, factor and status."""
        return {
            "baseline_kw": self.baseline_kw[code],
            "days_used": self.days_used[code],
            "adjustment_factor": self.adjustment_factor[code],
            "adjustment_note": self.adjustment_note[code],
            "status": self.status[code],
        }


def _local(ts: pd.Timestamp | dt.datetime, tz: str) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        raise ValueError("event times must carry a time zone")
    return t.tz_convert(tz)


def similar_days(
    event_day: dt.date,
    workday: bool,
    event_days: set[dt.date],
    lookback_days: int,
) -> tuple[list[dt.date], list[dt.date], bool]:
    """Candidate days, most recent first: the same kind as the event day, not an event day.
    Returns (candidates, skipped event days, every day answered by the official calendar)."""
    out: list[dt.date] = []
    skipped: list[dt.date] = []
    official = True
    for k in range(1, lookback_days + 1):
        day = event_day - dt.timedelta(days=k)
        is_work, known = day_kind(day)
        official &= known
        if is_work != workday:
            continue
        if day in event_days:
            skipped.append(day)
            continue
        out.append(day)
    return out, skipped, official


def dr_baseline(
    load_kw: pd.DataFrame | pd.Series,
    start: pd.Timestamp | dt.datetime,
    end: pd.Timestamp | dt.datetime,
    *,
    event_days: Iterable[dt.date] = (),
    rules: BaselineRules | None = None,
    tz: str = DEFAULT_TZ,
    step: pd.Timedelta = DEFAULT_STEP,
) -> Baseline:
    """Baseline (kW) of every column of ``load_kw`` for the event [start, end).

    ``load_kw``: interval-mean power on a time-zone-aware index of interval starts at ``step``
    (NaN or an absent interval = a gap), one column per meter/enterprise/park. ``event_days``:
    local dates of earlier DR events (skipped). Columns with fewer similar complete days than
    required are "incomplete" (mean of those found) or "insufficient data" (NaN, none found).
    """
    frame = load_kw.to_frame() if isinstance(load_kw, pd.Series) else load_kw
    rules = rules or BaselineRules()
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise ValueError("load_kw needs a time-zone-aware DatetimeIndex")
    if not frame.index.is_unique:
        raise ValueError("load_kw has duplicate timestamps")
    t0, t1 = _local(start, tz), _local(end, tz)
    if t1 <= t0:
        raise ValueError("the event must end after it starts")
    slots = pd.date_range(t0, t1, freq=step, inclusive="left")
    midnight = t0.normalize()
    offsets = slots - midnight
    event_day = midnight.date()
    workday, official_event = day_kind(event_day)
    n_req = rules.n_days_workday if workday else rules.n_days_rest_day
    days, skipped, official = similar_days(
        event_day, workday, set(event_days), rules.max_lookback_days)
    cols = [str(c) for c in frame.columns]
    # (columns, time): one row per column, contiguous when the frame is one block
    values = np.ascontiguousarray(frame.to_numpy(dtype=float).T)
    # Completeness: every interval of the calendar day and of the event slots (which may run past
    # midnight). The day's own intervals:
    day_steps = int(pd.Timedelta(days=1) / step)
    span_steps = max(day_steps, int(np.ceil((offsets[-1] + step) / step)))
    check_off = pd.timedelta_range(0, periods=span_steps, freq=step)
    slot_pos = np.asarray(offsets // step, dtype=np.int64)
    n_cand, n_cols = len(days), len(cols)
    if n_cand:
        mids = pd.DatetimeIndex([pd.Timestamp(d).tz_localize(tz) for d in days])
        stamps = mids.repeat(span_steps) + pd.TimedeltaIndex(np.tile(check_off, n_cand))
        pos = frame.index.get_indexer(stamps)
        flat = np.full((n_cols, n_cand * span_steps), np.nan)
        hit = pos >= 0
        flat[:, hit] = values[:, pos[hit]]
        cube = flat.reshape(n_cols, n_cand, span_steps)
        complete = ~np.isnan(cube).any(axis=2).T  # (days, cols)
        chosen = complete & (np.cumsum(complete, axis=0) <= n_req)
        count = chosen.sum(axis=0)
        slot_vals = np.nan_to_num(cube[:, :, slot_pos])  # (cols, days, slots)
        with np.errstate(invalid="ignore", divide="ignore"):
            base = ((slot_vals * chosen.T[:, :, None]).sum(axis=1) / count[:, None]).T
    else:
        chosen = np.zeros((0, n_cols), dtype=bool)
        count = np.zeros(n_cols, dtype=int)
        base = np.full((len(slots), n_cols), np.nan)
        cube = np.zeros((n_cols, 0, span_steps))
    factor = np.ones(n_cols)
    notes = ["" for _ in cols]
    adj = rules.adjustment
    if adj is not None:
        factor, notes = _same_day_factor(frame, values, cube, chosen, count, t0, midnight, step,
                                         adj)
    base = base * factor[None, :]
    status = {}
    for j, c in enumerate(cols):
        status[c] = (STATUS_OK if count[j] >= n_req else
                     STATUS_INCOMPLETE if count[j] > 0 else STATUS_INSUFFICIENT)
    days_used = {c: [days[i] for i in np.flatnonzero(chosen[:, j])] for j, c in enumerate(cols)}
    return Baseline(
        baseline_kw=pd.DataFrame(base, index=slots, columns=cols),
        day_type="workday" if workday else "rest_day",
        n_days_required=n_req,
        days_used=days_used,
        adjustment_factor={c: float(factor[j]) for j, c in enumerate(cols)},
        adjustment_note=dict(zip(cols, notes, strict=True)),
        status=status,
        skipped_event_days=skipped,
        official_calendar=official and official_event,
        adjustment=adj,
    )


def _same_day_factor(
    frame: pd.DataFrame,
    values: np.ndarray,
    cube: np.ndarray,
    chosen: np.ndarray,
    count: np.ndarray,
    t0: pd.Timestamp,
    midnight: pd.Timestamp,
    step: pd.Timedelta,
    adj: AdjustmentRule,
) -> tuple[np.ndarray, list[str]]:
    """Capped ratio of the event day's actual load to the baseline over the adjustment window."""
    n_cols = values.shape[0]
    w1 = t0 - pd.Timedelta(hours=adj.gap_hours)
    w0 = w1 - pd.Timedelta(hours=adj.window_hours)
    window = pd.date_range(w0, w1, freq=step, inclusive="left")
    factor = np.ones(n_cols)
    notes = ["" for _ in range(n_cols)]
    if len(window) == 0 or window[0] < midnight:
        return factor, ["adjustment window starts before the event day: not adjusted"] * n_cols
    pos = frame.index.get_indexer(window)
    actual = np.full((len(window), n_cols), np.nan)
    actual[pos >= 0] = values[:, pos[pos >= 0]].T
    wpos = np.asarray((window - midnight) // step, dtype=np.int64)
    lo, hi = 1.0 - adj.cap_fraction, 1.0 + adj.cap_fraction
    for j in range(n_cols):
        if count[j] == 0:
            notes[j] = "no baseline days: not adjusted"
            continue
        if np.isnan(actual[:, j]).any():
            notes[j] = "gap in the adjustment window: not adjusted"
            continue
        base_w = cube[j][chosen[:, j]][:, wpos].mean()
        if base_w <= 0:
            notes[j] = "baseline in the adjustment window is not positive: not adjusted"
            continue
        raw = actual[:, j].mean() / base_w
        factor[j] = float(np.clip(raw, lo, hi))
        notes[j] = f"ratio {raw:.3f}" + (" (capped)" if factor[j] != raw else "")
    return factor, notes
