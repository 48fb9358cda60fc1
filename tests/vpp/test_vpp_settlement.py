"""Settlement from meters: delivered energy per resource, enterprise and park, ratio, revenue
split by delivered energy, shortfall, and statuses that never claim more than the data."""

import numpy as np
import pandas as pd
import pytest

from energy.vpp.baseline import dr_baseline
from energy.vpp.resources import EventSignal
from energy.vpp.settlement import (
    MeteredResource,
    SettlementRules,
    monthly_summary,
    settle_event,
)

TZ = "Asia/Shanghai"
T0, T1 = pd.Timestamp("2026-06-30 14:00", tz=TZ), pd.Timestamp("2026-06-30 16:00", tz=TZ)
METERS = {"E1": ["E1-main", "E1-chiller"], "E2": ["E2-main"], "E3": ["E3-pv"]}
RESOURCES = [
    MeteredResource("CHILLER", "E1", "E1-chiller"),
    MeteredResource("LINE2", "E2", "E2-main"),
    MeteredResource("PV", "E3", "E3-pv", generation=True),
]


def meters(seed: int = 5) -> pd.DataFrame:
    """Five weeks of 15-min load (kW) with day-to-day noise; PV is generation (kW out)."""
    idx = pd.date_range(pd.Timestamp("2026-05-25", tz=TZ), pd.Timestamp("2026-07-01", tz=TZ),
                        freq="15min", inclusive="left")
    rng = np.random.default_rng(seed)
    slot = idx.hour * 4 + idx.minute // 15
    shape = 1 + 0.4 * np.sin(np.pi * slot / 96)
    out = {}
    for m, level in (("E1-main", 800), ("E1-chiller", 300), ("E2-main", 500), ("E3-pv", 200)):
        out[m] = level * shape * rng.uniform(0.95, 1.05, len(idx))
    return pd.DataFrame(out, index=idx)


def event(target_kw: float, direction: str = "reduce") -> EventSignal:
    return EventSignal(T0, T1, direction, target_kw, 4.0, T0 - pd.Timedelta(days=1))


def cut(load: pd.DataFrame, meter: str, kw: float) -> pd.DataFrame:
    """The event-day reading of ``meter`` is its baseline minus ``kw`` during the event."""
    out = load.copy()
    base = dr_baseline(load[[meter]], T0, T1).baseline_kw[meter]
    out.loc[base.index, meter] = base - kw
    return out


def test_delivered_energy_ratio_revenue_and_split():
    load = cut(cut(meters(), "E1-chiller", 120.0), "E2-main", 40.0)
    s = settle_event(event(200.0), load, RESOURCES, METERS)
    lines = s.lines.set_index(["level", "code"])
    assert lines.loc[("resource", "CHILLER"), "delivered_kwh"] == pytest.approx(120.0 * 2)
    assert lines.loc[("resource", "LINE2"), "delivered_kwh"] == pytest.approx(40.0 * 2)
    # The park's own baseline is computed on its own series; its delivery is that of the meters
    # that moved plus the noise of the others against their baselines.
    # Import at the connection: the loads less the PV generation.
    park_meters = load[["E1-main", "E1-chiller", "E2-main"]].sum(axis=1) - load["E3-pv"]
    own = dr_baseline(park_meters.rename("p"), T0, T1).baseline_kw["p"]
    expected = float((own - park_meters.loc[own.index]).sum() * 0.25)
    assert s.delivered_kwh == pytest.approx(expected)
    assert s.target_kwh == pytest.approx(400.0)
    assert s.delivery_ratio == pytest.approx(expected / 400.0)
    assert s.revenue_yuan == pytest.approx(4.0 * min(max(expected, 0), 1.2 * 400))
    assert s.shortfall_kwh == pytest.approx(max(400.0 - expected, 0.0))
    for level in ("enterprise", "resource"):
        part = s.lines[s.lines["level"] == level]
        assert part["revenue_yuan"].sum() == pytest.approx(s.revenue_yuan)
        pos = part["delivered_kwh"].clip(lower=0)
        assert np.allclose(part["revenue_yuan"], s.revenue_yuan * pos / pos.sum())
    assert s.status == "ok" and s.method["n_days"] == 5


def test_over_delivery_is_paid_only_up_to_the_cap():
    load = cut(meters(), "E1-chiller", 290.0)
    s = settle_event(event(100.0), load, RESOURCES, METERS, rules=SettlementRules(1.2, 0.0))
    assert s.delivery_ratio > 2
    assert s.paid_kwh == pytest.approx(1.2 * 200.0)
    assert s.revenue_yuan == pytest.approx(4.0 * 240.0)
    assert s.shortfall_kwh == 0.0


def test_below_the_minimum_ratio_nothing_is_paid():
    load = cut(meters(), "E1-chiller", 10.0)
    s = settle_event(event(500.0), load, RESOURCES, METERS, rules=SettlementRules(1.2, 0.5))
    assert s.delivery_ratio < 0.5 and s.revenue_yuan == 0.0 and s.paid_kwh == 0.0


def test_increase_event_counts_curtailed_generation():
    load = meters()
    base = dr_baseline(load[["E3-pv"]], T0, T1).baseline_kw["E3-pv"]
    load.loc[base.index, "E3-pv"] = base - 150.0  # PV curtailed by 150 kW
    before = load.copy()
    s = settle_event(event(150.0, "increase"), load, RESOURCES, METERS)
    pd.testing.assert_frame_equal(load, before)  # the caller's readings are left as they were
    pv = s.lines.set_index("code").loc["PV"]
    assert pv["delivered_kwh"] == pytest.approx(150.0 * 2)


def test_missing_readings_make_lines_incomplete_or_insufficient():
    load = cut(meters(), "E2-main", 40.0)
    load.loc[T0 + pd.Timedelta("30min"), "E2-main"] = np.nan
    s = settle_event(event(40.0), load, RESOURCES, METERS)
    lines = s.lines.set_index(["level", "code"])
    assert lines.loc[("resource", "LINE2"), "status"] == "incomplete"
    assert lines.loc[("resource", "LINE2"), "missing_steps"] == 1
    assert lines.loc[("enterprise", "E1"), "status"] == "ok"
    assert s.status == "incomplete"  # the park sums E2 too
    # No history at all: no figures, no revenue.
    fresh = load.loc[pd.Timestamp("2026-06-30", tz=TZ):]
    s2 = settle_event(event(40.0), fresh, RESOURCES, METERS)
    assert s2.status == "insufficient data" and s2.revenue_yuan is None
    assert s2.lines["delivered_kwh"].isna().all()


def test_monthly_summary_adds_events_per_enterprise():
    load = cut(meters(), "E1-chiller", 100.0)
    s1 = settle_event(event(100.0), load, RESOURCES, METERS)
    s2 = settle_event(event(50.0), load, RESOURCES, METERS)
    summ = monthly_summary([s1, s2])
    assert len(summ["events"]) == 2
    e1 = summ["enterprises"].loc["E1"]
    both = [float(s.lines.set_index(["level", "code"]).loc[("enterprise", "E1"), "revenue_yuan"])
            for s in (s1, s2)]
    assert e1["revenue_yuan"] == pytest.approx(sum(both)) and e1["events"] == 2


def test_a_resource_without_a_metered_series_is_refused():
    with pytest.raises(ValueError, match="GHOST"):
        settle_event(event(10.0), meters(), [MeteredResource("GHOST", "E1", "nope")], METERS)
