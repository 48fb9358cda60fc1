"""Meter series normalisation: interval grids, cumulative registers, gaps and plausibility.

Everything here is vectorised over many meters at once (pandas groupby/shift, numpy masks); no
Python loop runs per reading. Timestamps are tz-aware UTC; intervals are half-open [start, end).

Quality flags a stored reading may carry (one per reading, the most severe wins, in this order):
``implausible`` > ``rollover`` > ``reset`` > ``after_gap`` > ``estimated`` > ``ok``.

Register semantics (the practice of the Open Energy Dashboard, https://openenergydashboard.org;
Home Assistant's energy statistics, https://www.home-assistant.io/docs/energy/; and emoncms,
https://docs.openenergymonitor.org/emoncms/):
- a cumulative reading at time t closes the interval [t - interval, t);
- a decrease is a *rollover* when the register wrapping at ``rollover_at`` explains it with a step
  shorter than half the register's range (the shorter way round the dial), otherwise a *reset*
  (meter replaced or zeroed: the new reading is the consumption since the reset);
- after a gap the whole delta goes to the interval that ends at t, flagged ``after_gap``, with
  ``covered_minutes`` saying how long it really covers: totals stay right, nothing is invented.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from energy.site import PARK_TZ

QUALITY_ORDER: tuple[str, ...] = (
    "ok",
    "estimated",
    "after_gap",
    "reset",
    "rollover",
    "implausible",
)
"""Quality flags from least to most severe."""

QUALITY_RANK: dict[str, int] = {q: i for i, q in enumerate(QUALITY_ORDER)}

SITE_TZ = PARK_TZ


def off_grid(ts: pd.Series, interval_minutes: int, tz: str = SITE_TZ) -> np.ndarray:
    """True where a timestamp is not on the meter's interval grid.

    The grid is anchored at local midnight in ``tz`` (so a 1-day meter's intervals start at
    00:00 Asia/Shanghai = 16:00 UTC); seconds and sub-seconds must be zero.
    """
    local = pd.DatetimeIndex(ts).tz_convert(tz).tz_localize(None)
    floored = local.floor(f"{int(interval_minutes)}min")
    return np.asarray(local != floored)


def worse_quality(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise the more severe of two quality series."""
    ra = a.map(QUALITY_RANK)
    rb = b.map(QUALITY_RANK)
    return a.where(ra >= rb, b)


def batch_duplicates(
    frame: pd.DataFrame, keys: tuple[str, ...] = ("meter", "ts")
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a batch into (conflicts, deduplicated).

    Rows repeating a key with the *same* value collapse to the first; rows repeating a key with a
    *different* value are conflicts (every such row is returned, so errors can name them all).
    """
    key_list = list(keys)
    dup_all = frame.duplicated(key_list, keep=False)
    if not dup_all.any():
        return frame.iloc[0:0], frame
    dups = frame[dup_all]
    nunique = dups.groupby(key_list, sort=False)["value"].transform("nunique")
    conflicts = dups[nunique > 1]
    deduped = frame[~frame.duplicated(key_list, keep="first")]
    return conflicts, deduped


def cumulative_to_interval(
    frame: pd.DataFrame,
    *,
    interval_minutes: int | Mapping[str, int],
    rollover_at: float | Mapping[str, float | None] | None = None,
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Turn cumulative register readings into interval consumption.

    ``frame``: columns meter, ts (UTC), value (canonical unit), optional row (upload row number)
    and quality. ``previous``: the last stored register reading per meter (meter, ts, value), so
    the first reading of a batch can close an interval; without it a meter's first reading only
    sets the baseline (a stored reading not strictly before the meter's first batch reading is
    ignored). ``interval_minutes`` and ``rollover_at`` may be per meter (a mapping).

    Returns columns meter, start, value, quality, row, covered_minutes, register_value, ts:
    one row per reading that closes an interval.
    """
    cols = ["meter", "ts", "value"]
    cur = frame.copy()
    if "row" not in cur:
        cur["row"] = np.arange(len(cur))
    if "quality" not in cur:
        cur["quality"] = "ok"
    cur["_is_prev"] = False
    if previous is not None and len(previous):
        prev = previous[cols].copy()
        prev["row"] = -1
        prev["quality"] = "ok"
        prev["_is_prev"] = True
        # Only a stored reading strictly before a meter's first batch reading is its predecessor
        # (re-sending the last stored reading must not close a zero-length interval).
        first_ts = cur.groupby("meter")["ts"].min()
        prev = prev[prev["ts"] < prev["meter"].map(first_ts)]
        cur = pd.concat([prev, cur], ignore_index=True)
    cur = cur.sort_values(["meter", "ts", "_is_prev"], ascending=[True, True, False], kind="stable")
    grouped = cur.groupby("meter", sort=False)
    prev_value = grouped["value"].shift()
    prev_ts = grouped["ts"].shift()

    interval = _per_meter(cur["meter"], interval_minutes).astype("int64")
    wrap = _per_meter(cur["meter"], rollover_at).astype("float64")

    delta = cur["value"] - prev_value
    decreased = delta < 0
    wrapped_delta = cur["value"] + wrap - prev_value
    is_rollover = decreased & wrap.notna() & (wrapped_delta < wrap / 2)
    is_reset = decreased & ~is_rollover
    consumption = delta.where(~is_rollover, wrapped_delta).where(~is_reset, cur["value"])

    covered = (cur["ts"] - prev_ts).dt.total_seconds() / 60.0
    after_gap = covered > interval

    quality = cur["quality"].astype(object).copy()
    for mask, flag in ((after_gap, "after_gap"), (is_reset, "reset"), (is_rollover, "rollover")):
        quality = worse_quality(quality, pd.Series(np.where(mask, flag, "ok"), index=cur.index))

    keep = prev_value.notna() & ~cur["_is_prev"]
    out = pd.DataFrame(
        {
            "meter": cur["meter"],
            "start": cur["ts"] - pd.to_timedelta(interval, unit="min"),
            "value": consumption,
            "quality": quality,
            "row": cur["row"],
            "covered_minutes": covered.where(after_gap, interval.astype("float64")),
            "register_value": cur["value"],
            "ts": cur["ts"],
        }
    )[keep]
    return out.reset_index(drop=True)


def gap_mask(frame: pd.DataFrame, interval_minutes: int | Mapping[str, int]) -> np.ndarray:
    """True for interval rows (meter, start) that follow a hole in that meter's sequence.

    Only holes *inside* the rows given are seen; callers add the last stored interval per meter
    to see a hole between batches.
    """
    ordered = frame.sort_values(["meter", "start"], kind="stable")
    prev_start = ordered.groupby("meter", sort=False)["start"].shift()
    interval = _per_meter(ordered["meter"], interval_minutes).astype("int64")
    step = (ordered["start"] - prev_start).dt.total_seconds() / 60.0
    mask = pd.Series(np.asarray(step > interval), index=ordered.index)
    return mask.reindex(frame.index).to_numpy()


def implausible_mask(
    values: pd.Series,
    ceiling_per_interval: float | pd.Series | None,
    covered_intervals: pd.Series | float = 1.0,
) -> np.ndarray:
    """True where a value is negative-free yet above the meter's ceiling × intervals covered.

    ``ceiling_per_interval`` is the most a meter can plausibly register in one interval (from its
    connection size or a carrier-wide setting); None disables the check.
    """
    if ceiling_per_interval is None:
        return np.zeros(len(values), dtype=bool)
    limit = pd.Series(ceiling_per_interval, index=values.index) * covered_intervals
    return np.asarray((values > limit).fillna(False))


def missing_intervals(
    starts: pd.Series, interval_minutes: int, period_start: pd.Timestamp, period_end: pd.Timestamp
) -> pd.DatetimeIndex:
    """The interval starts in [period_start, period_end) that have no reading."""
    expected = pd.date_range(
        period_start, period_end, freq=f"{int(interval_minutes)}min", inclusive="left"
    )
    return expected.difference(pd.DatetimeIndex(starts))


def _per_meter(meters: pd.Series, value: object) -> pd.Series:
    """Broadcast a scalar or a per-meter mapping onto a meter column."""
    if isinstance(value, Mapping):
        return meters.map(value).astype("float64")
    if value is None:
        return pd.Series(np.nan, index=meters.index)
    return pd.Series(float(value), index=meters.index)  # type: ignore[arg-type]
