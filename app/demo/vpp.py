"""The demo park's virtual power plant: flexible loads of a few enterprises, two demand-response
events in the week before the demo was loaded (planned the day before, settled from the demo's
readings) and one tomorrow (planned now), so ``serve --demo`` shows the whole cycle.

Everything goes through the services (registration, event intake, plan, settlement) as an
operator would; the dates are relative to the demo's end. Loaded once: a restart finds the demo's
events and adds nothing. The readings are the demo's synthetic ones, which do not react to the
events, so the settlements show what the meters read (a small or negative delivery) rather than
an invented response.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from app.demo.common import TZ, DemoContext
from app.schemas.vpp import FlexResourceIn
from app.services import dr_events, dr_plans
from app.services import vpp as vpp_svc
from energy.vpp.baseline import day_kind

EVENT_PREFIX = "DEMO-DR-"
"""Ids of the demo's events: the prefix and the event's local start (YYYYMMDDHHMM)."""

RESOURCES: list[FlexResourceIn] = [
    FlexResourceIn(code="ND-MATL-MILL", enterprise="ND-MATL", kind="curtailable",
                   meter="ND-MATL-electricity_import", max_reduction_kw=300.0,
                   min_notice_minutes=60, max_duration_minutes=240, max_events_per_month=8,
                   cost_yuan_per_kwh=0.1),
    FlexResourceIn(code="ND-METAL-FURNACE", enterprise="ND-METAL", kind="shiftable",
                   meter="ND-METAL-electricity_import", max_reduction_kw=200.0,
                   min_notice_minutes=120, max_duration_minutes=180, max_events_per_month=6,
                   rebound_fraction=0.6, cost_yuan_per_kwh=0.05),
    FlexResourceIn(code="GY-BEER-CHILLER", enterprise="GY-BEER", kind="shiftable",
                   meter="GY-BEER-electricity_import", max_reduction_kw=80.0,
                   min_notice_minutes=30, max_duration_minutes=120, max_events_per_month=10,
                   rebound_fraction=0.8, cost_yuan_per_kwh=0.05),
    FlexResourceIn(code="XZ-DATA-COOLING", enterprise="XZ-DATA", kind="curtailable",
                   meter="XZ-DATA-electricity_import", max_reduction_kw=250.0,
                   min_notice_minutes=60, max_duration_minutes=120, max_events_per_month=4,
                   cost_yuan_per_kwh=0.15),
]
"""Flexible loads behind the enterprises' import meters (kW, minutes, yuan/kWh: illustrative)."""


@dataclass(frozen=True)
class DemoEvent:
    day: int
    """Negative: the n-th most recent workday before the day the demo is loaded (the grid calls
    events on workdays, and a workday baseline is the common case); positive: days ahead."""
    start: str
    """Local start time HH:MM; events last ``hours``."""
    hours: float
    target_kw: float
    price_yuan_per_kwh: float


EVENTS: list[DemoEvent] = [
    DemoEvent(-4, "14:00", 2.0, 600.0, 3.0),
    DemoEvent(-2, "10:00", 1.5, 400.0, 2.5),
    DemoEvent(1, "14:00", 2.0, 800.0, 3.0),
]
"""Two past events on recent workdays (inside the week of the storage station's demo plans) and
one tomorrow; all 'reduce' (less draw at the afternoon or morning peak). Prices illustrative."""

NOTICE = pd.Timedelta(hours=20)
"""An event is notified the afternoon before (day-ahead demand response)."""


def event_id(start: pd.Timestamp) -> str:
    return f"{EVENT_PREFIX}{start.tz_convert(TZ):%Y%m%d%H%M}"


def demo_events(end: pd.Timestamp) -> list[tuple[str, pd.Timestamp, pd.Timestamp, DemoEvent]]:
    """(id, start, end, spec) of the demo's events for a demo loaded at ``end``."""
    today = end.tz_convert(TZ).normalize()
    workdays = [d for d in (today - pd.Timedelta(days=n) for n in range(1, 15))
                if day_kind(d.date())[0]]
    out = []
    for e in EVENTS:
        when = workdays[-e.day - 1] if e.day < 0 else today + pd.Timedelta(days=e.day)
        day = when.strftime("%Y-%m-%d")
        start = pd.Timestamp(f"{day} {e.start}", tz=TZ)
        out.append((event_id(start), start, start + pd.Timedelta(hours=e.hours), e))
    return out


def load_vpp_demo(ctx: DemoContext) -> None:
    """Resources, events, plans and settlements, once (a restart finds the demo's events)."""
    session = ctx.session
    if any(ev.id.startswith(EVENT_PREFIX) for ev in dr_events.list_events(session, None, None)):
        return
    for body in RESOURCES:
        vpp_svc.register_resource(session, ctx.principal, body)
    session.commit()
    grid = dr_events.connection(ctx.settings.grid_import_limit_kw)
    now = ctx.end.to_pydatetime()
    for eid, start, end, spec in demo_events(ctx.end):
        notified = start - NOTICE
        received = min(notified, ctx.end).to_pydatetime()
        content = dr_events.EventContent(
            eid, start.to_pydatetime(), end.to_pydatetime(), "reduce", spec.target_kw,
            spec.price_yuan_per_kwh, received)
        dr_events.intake(session, content, source="api", now=received, grid=grid,
                         key_id=ctx.principal.key_id, detail={"demo": True})
        dr_plans.make_plan(session, eid, received)
        session.commit()
        if end <= ctx.end:
            dr_plans.make_settlement(session, eid, now)
            session.commit()
