"""Cumulative registers, interval grids, duplicates, gaps (energy/meter_series.py)."""

import numpy as np
import pandas as pd

from energy.meter_series import (
    batch_duplicates,
    cumulative_to_interval,
    gap_mask,
    implausible_mask,
    missing_intervals,
    off_grid,
)


def utc(*stamps: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps), utc=True))


def test_grid_is_anchored_at_shanghai_midnight():
    ts = utc("2026-03-01T00:15:00+08:00", "2026-03-01T00:20:00+08:00", "2026-03-01T00:15:01+08:00")
    assert off_grid(ts, 15).tolist() == [False, True, True]
    # a daily meter's intervals start at local midnight, which is 16:00 UTC
    daily = utc("2026-03-01T16:00:00Z", "2026-03-01T00:00:00Z")
    assert off_grid(daily, 1440).tolist() == [False, True]


def test_cumulative_register_closes_the_interval_that_ends_at_its_time():
    frame = pd.DataFrame(
        {
            "meter": ["m1"] * 4,
            "ts": utc(
                "2026-01-01T00:00+08:00",
                "2026-01-01T00:15+08:00",
                "2026-01-01T00:30+08:00",
                "2026-01-01T00:45+08:00",
            ),
            "value": [100.0, 104.0, 110.5, 111.0],
        }
    )
    out = cumulative_to_interval(frame, interval_minutes=15)
    # first reading is the baseline; then 104-100, 110.5-104, 111-110.5
    assert out["value"].tolist() == [4.0, 6.5, 0.5]
    assert out["start"].iloc[0] == pd.Timestamp("2026-01-01T00:00+08:00")
    assert (out["quality"] == "ok").all()


def test_previous_stored_reading_closes_the_first_interval_of_a_batch():
    frame = pd.DataFrame({"meter": ["m1"], "ts": utc("2026-01-01T01:00Z"), "value": [50.0]})
    prev = pd.DataFrame({"meter": ["m1"], "ts": utc("2026-01-01T00:45Z"), "value": [42.0]})
    out = cumulative_to_interval(frame, interval_minutes=15, previous=prev)
    assert out["value"].tolist() == [8.0]
    # re-sending the stored reading itself must not produce a zero interval
    same = pd.DataFrame({"meter": ["m1"], "ts": utc("2026-01-01T00:45Z"), "value": [42.0]})
    assert cumulative_to_interval(same, interval_minutes=15, previous=prev).empty


def test_rollover_and_reset_are_told_apart():
    frame = pd.DataFrame(
        {
            "meter": ["wrap"] * 3 + ["swap"] * 3,
            "ts": utc(*(["2026-01-01T00:00Z", "2026-01-01T00:15Z", "2026-01-01T00:30Z"] * 2)),
            "value": [99_990.0, 5.0, 12.0, 5_000.0, 3.0, 9.0],
        }
    )
    out = cumulative_to_interval(
        frame, interval_minutes=15, rollover_at={"wrap": 100_000.0, "swap": 100_000.0}
    ).set_index(["meter", "start"])
    wrap = out.loc["wrap"]
    # 99,990 -> 5 on a 100,000 dial: 10 to the top, then 5 => 15, not -99,985
    assert wrap["value"].tolist() == [15.0, 7.0]
    assert wrap["quality"].tolist() == ["rollover", "ok"]
    swap = out.loc["swap"]
    # 5,000 -> 3: the short way round the dial is 95,003, so a meter change: consumption 3
    assert swap["value"].tolist() == [3.0, 6.0]
    assert swap["quality"].tolist() == ["reset", "ok"]


def test_a_gap_keeps_the_energy_and_flags_it():
    frame = pd.DataFrame(
        {
            "meter": ["m"] * 3,
            "ts": utc("2026-01-01T00:00Z", "2026-01-01T00:15Z", "2026-01-01T01:15Z"),
            "value": [0.0, 1.0, 9.0],
        }
    )
    out = cumulative_to_interval(frame, interval_minutes=15)
    assert out["value"].sum() == 9.0
    assert out["quality"].tolist() == ["ok", "after_gap"]
    assert out["covered_minutes"].tolist() == [15.0, 60.0]


def test_batch_duplicates_collapse_same_values_and_report_conflicts():
    frame = pd.DataFrame(
        {
            "meter": ["a", "a", "b", "b", "c"],
            "ts": utc(
                "2026-01-01T00:00Z",
                "2026-01-01T00:00Z",
                "2026-01-01T00:00Z",
                "2026-01-01T00:00Z",
                "2026-01-01T00:00Z",
            ),
            "value": [1.0, 1.0, 2.0, 3.0, 4.0],
            "row": [1, 2, 3, 4, 5],
        }
    )
    conflicts, deduped = batch_duplicates(frame)
    assert conflicts["row"].tolist() == [3, 4]
    assert deduped["row"].tolist() == [1, 3, 5]


def test_gaps_implausible_and_missing():
    starts = utc("2026-01-01T00:00Z", "2026-01-01T00:15Z", "2026-01-01T01:00Z")
    frame = pd.DataFrame({"meter": ["m"] * 3, "start": starts})
    assert gap_mask(frame, 15).tolist() == [False, False, True]
    assert implausible_mask(pd.Series([1.0, 50.0]), 10.0).tolist() == [False, True]
    assert not implausible_mask(pd.Series([1.0]), None).any()
    missing = missing_intervals(
        starts, 15, pd.Timestamp("2026-01-01T00:00Z"), pd.Timestamp("2026-01-01T01:15Z")
    )
    assert [t.strftime("%H:%M") for t in missing] == ["00:30", "00:45"]


def test_many_meters_are_vectorised_in_one_call():
    n_meters, n = 200, 96
    ts = pd.date_range("2026-01-01", periods=n, freq="15min", tz="UTC")
    rng = np.random.default_rng(0)
    steps = rng.uniform(0, 5, size=(n_meters, n))
    frame = pd.DataFrame(
        {
            "meter": np.repeat([f"m{i}" for i in range(n_meters)], n),
            "ts": np.tile(ts, n_meters),
            "value": steps.cumsum(axis=1).ravel(),
        }
    )
    out = cumulative_to_interval(frame, interval_minutes=15)
    assert len(out) == n_meters * (n - 1)
    got = out.groupby("meter")["value"].sum()
    expected = pd.Series(steps[:, 1:].sum(axis=1), index=[f"m{i}" for i in range(n_meters)])
    assert np.allclose(got.loc[expected.index].to_numpy(), expected.to_numpy())
