"""Event plans and settlements through the API: instructions per resource with deadlines and
alerts, each enterprise sees its own lines, repeated requests and jobs change nothing, and the
settlement's figures follow from what the meters read."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.scheduler import dr_plan_job, dr_settlement_job
from app.services import dr_events
from app.services import dr_plans as plans_svc
from tests.conftest import auth, unique

TZ = ZoneInfo("Asia/Shanghai")
HISTORY_DAYS = 40
CUT_KW = {"A": 100.0, "B": 50.0}


def profile_kw(ts: pd.DatetimeIndex, level: float) -> np.ndarray:
    """The same load every day: a level with a daily swing (kW)."""
    minutes = np.asarray(ts.hour * 60 + ts.minute, dtype=float)
    return level + 0.3 * level * np.sin(2 * np.pi * minutes / 1440)


@pytest.fixture(scope="module")
def world(client, engine, operator_key, make_enterprise, make_meter, make_key) -> dict[str, Any]:
    op = auth(operator_key)
    today = pd.Timestamp.now(tz=TZ).normalize()
    past_day = today - pd.Timedelta(days=2)
    past = (past_day + pd.Timedelta(hours=14), past_day + pd.Timedelta(hours=16))
    w: dict[str, Any] = {"past": past}
    stop = pd.Timestamp.now(tz=TZ).floor("15min") - pd.Timedelta(minutes=15)
    idx = pd.date_range(today - pd.Timedelta(days=HISTORY_DAYS), stop, freq="15min")
    rows = []
    for name, level in (("A", 400.0), ("B", 250.0)):
        ent = make_enterprise(zone=f"{name}区")["code"]
        meter = make_meter(ent)["code"]
        kw = profile_kw(idx, level)
        during = (idx >= past[0]) & (idx < past[1])
        kw[during] -= CUT_KW[name]  # the enterprise sheds during the past event
        rows += [f"{meter},{t.isoformat()},{v / 4:.6f}" for t, v in zip(idx, kw, strict=True)]
        w[name] = {"enterprise": ent, "meter": meter, "key": make_key("enterprise", ent)}
    r = client.post("/v1/readings", content="meter,ts,value\n" + "\n".join(rows),
                    headers={**op, "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    for name, kind, extra in (("A", "curtailable", {"min_notice_minutes": 60}),
                              ("B", "shiftable", {"rebound_fraction": 0.5})):
        body = {"code": unique("FLEX"), "enterprise": w[name]["enterprise"], "kind": kind,
                "meter": w[name]["meter"], "max_reduction_kw": 150.0,
                "cost_yuan_per_kwh": 0.0, **extra}
        r = client.post("/v1/flex/resources", json=body, headers=op)
        assert r.status_code == 201, r.text
        w[name]["resource"] = body["code"]
    # The past event is stored as the grid sent it the day before (intake with that clock),
    # and planned before it began: 300 kW calls both loads at their full 150 kW (shedding load
    # saves its tariff, so the loads come before any station).
    w["past_id"] = unique("DRP")
    before = past[0] - pd.Timedelta(days=1)
    with Session(engine) as session, session.begin():
        dr_events.intake(session, dr_events.EventContent(
            w["past_id"], past[0].to_pydatetime(), past[1].to_pydatetime(), "reduce", 300.0, 3.0,
            before.to_pydatetime()), source="api", now=before.to_pydatetime(),
            grid=dr_events.connection())
        plans_svc.make_plan(session, w["past_id"], before.to_pydatetime())
    return w


def future_event(client, operator_key, days: int, **fields: Any) -> dict[str, Any]:
    start = pd.Timestamp.now(tz=TZ).normalize() + pd.Timedelta(days=days, hours=14)
    body = {"id": unique("DRF"), "start": start.isoformat(),
            "end": (start + pd.Timedelta(hours=2)).isoformat(), "direction": "reduce",
            "target_kw": 120.0, "price_yuan_per_kwh": 3.0,
            "notified_at": datetime.now(UTC).replace(microsecond=0).isoformat(), **fields}
    r = client.post("/v1/dr/events", json=body, headers=auth(operator_key))
    assert r.status_code == 201, r.text
    return body


def count(engine, sql: str, **p: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text(sql), p))


def test_plan_instructs_each_enterprise_once_with_deadline_and_alert(client, engine,
                                                                     operator_key, world):
    op = auth(operator_key)
    ev = future_event(client, operator_key, days=1)
    url = f"/v1/dr/events/{ev['id']}/plan"
    assert client.get(url, headers=op).status_code == 404  # not planned yet
    r = client.post(url, headers=op)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["status"] == "target met" and plan["event_version"] == 1
    assert all(s["delivered_kw"] == pytest.approx(s["required_kw"]) for s in plan["steps"])
    assert len(plan["steps"]) == 8
    again = client.post(url, headers=op)
    assert again.status_code == 200 and again.json()["plan_id"] == plan["plan_id"]
    # Enterprise A sees its own instruction and nothing of anyone else's.
    a = client.get(url, headers=auth(world["A"]["key"])).json()
    assert a["instructions"], a
    assert {i["enterprise"] for i in a["instructions"]} == {world["A"]["enterprise"]}
    assert a["cost_yuan"] is None and a["notes"] == []
    mine = a["instructions"][0]
    assert mine["code"] == world["A"]["resource"]
    assert all(0 < s["power_kw"] <= 150.0 + 1e-6 for s in mine["steps"])
    start = pd.Timestamp(ev["start"])
    # 60 minutes' notice: act by an hour before the first step it is needed in.
    first = min(pd.Timestamp(s["start"]) for s in mine["steps"])
    assert pd.Timestamp(mine["deadline"]) == first - pd.Timedelta(minutes=60)
    assert first >= start
    alerts = client.get("/v1/alerts", headers=auth(world["A"]["key"])).json()
    dr_alerts = [x for x in alerts if x["kind"] == "dr_instruction" and ev["id"] in x["message"]]
    assert len(dr_alerts) == 1 and "需求响应" in dr_alerts[0]["message"]
    b_alerts = client.get("/v1/alerts", headers=auth(world["B"]["key"])).json()
    assert all(world["A"]["resource"] not in x["message"] for x in b_alerts)
    # The job finds the plan made and changes nothing, run twice.
    dr_plan_job(engine)
    dr_plan_job(engine)
    assert count(engine, "SELECT count(*) FROM dr_plans WHERE event_id = :e", e=ev["id"]) == 1
    assert count(engine, "SELECT count(*) FROM alerts WHERE kind = 'dr_instruction' AND "
                 "message LIKE :m", m=f"%{ev['id']}%") == len(
        {i["enterprise"] for i in client.get(url, headers=op).json()["instructions"]
         if i["enterprise"]})


def test_a_modified_event_is_planned_again_by_the_job_once(client, engine, operator_key, world):
    op = auth(operator_key)
    ev = future_event(client, operator_key, days=2)
    dr_plan_job(engine)
    first = client.get(f"/v1/dr/events/{ev['id']}/plan", headers=op).json()
    assert first["event_version"] == 1
    r = client.post("/v1/dr/events", json={**ev, "target_kw": 200.0}, headers=op)
    assert r.status_code == 200 and r.json()["version"] == 2
    stale = client.get(f"/v1/dr/events/{ev['id']}/plan", headers=op).json()
    assert stale["event_version"] == 1 and stale["current_event_version"] == 2
    dr_plan_job(engine)
    dr_plan_job(engine)
    now = client.get(f"/v1/dr/events/{ev['id']}/plan", headers=op).json()
    assert now["event_version"] == 2 and now["target_kw"] == 200.0
    assert now["plan_id"] != first["plan_id"]
    assert count(engine, "SELECT count(*) FROM dr_plans WHERE event_id = :e", e=ev["id"]) == 2
    assert count(engine, "SELECT count(*) FROM dr_plans WHERE event_id = :e AND superseded_at "
                 "IS NULL", e=ev["id"]) == 1


def test_concurrent_plan_requests_make_one_plan(client, engine, operator_key, world):
    op = auth(operator_key)
    ev = future_event(client, operator_key, days=3)
    url = f"/v1/dr/events/{ev['id']}/plan"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.post(url, headers=op), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["plan_id"] for a in answers}) == 1
    assert count(engine, "SELECT count(*) FROM dr_plans WHERE event_id = :e", e=ev["id"]) == 1


def test_settlement_follows_the_meters_and_each_enterprise_sees_its_lines(client, engine,
                                                                          operator_key, world):
    op = auth(operator_key)
    url = f"/v1/dr/events/{world['past_id']}/settlement"
    assert client.get(url, headers=op).status_code == 404
    r = client.post(url, headers=op)
    assert r.status_code == 201, r.text
    s = r.json()
    lines = {(x["level"], x["enterprise"], x["resource"]): x for x in s["lines"]}
    hours = (world["past"][1] - world["past"][0]) / pd.Timedelta(hours=1)
    for name in ("A", "B"):
        ent = world[name]["enterprise"]
        line = lines[("enterprise", ent, None)]
        # Every earlier day read the same: the baseline is that day, the cut is what was shed.
        assert line["status"] == "ok", line
        assert line["delivered_kwh"] == pytest.approx(CUT_KW[name] * hours, abs=1e-3)
        assert len(line["baseline_days"]) >= 3
        res = lines[("resource", ent, world[name]["resource"])]
        assert res["delivered_kwh"] == pytest.approx(CUT_KW[name] * hours, abs=1e-3)
        # Planned at 150 kW, shed less: the line says how far short of its plan it fell.
        assert res["planned_kwh"] == pytest.approx(150.0 * hours, abs=1e-3)
        assert res["shortfall_kwh"] == pytest.approx((150.0 - CUT_KW[name]) * hours, abs=1e-3)
    ents = [x for x in s["lines"] if x["level"] == "enterprise"]
    if all(x["status"] == "ok" for x in ents):
        assert s["delivered_kwh"] == pytest.approx(sum(x["delivered_kwh"] for x in ents))
        assert s["delivery_ratio"] == pytest.approx(s["delivered_kwh"] / (300.0 * hours))
        paid = min(max(s["delivered_kwh"], 0.0), 1.2 * 300.0 * hours)
        assert s["revenue_yuan"] == pytest.approx(3.0 * paid)
        assert sum(x["revenue_yuan"] for x in ents) == pytest.approx(s["revenue_yuan"])
        assert s["shortfall_kwh"] == pytest.approx(max(300.0 * hours - s["delivered_kwh"], 0))
    # Repeated request and job runs change nothing.
    n = count(engine, "SELECT count(*) FROM dr_settlements WHERE event_id = :e",
              e=world["past_id"])
    assert client.post(url, headers=op).status_code == 200
    dr_settlement_job(engine)
    dr_settlement_job(engine)
    assert count(engine, "SELECT count(*) FROM dr_settlements WHERE event_id = :e",
                 e=world["past_id"]) == n
    # B sees its own lines and the park's, nothing of A's.
    b = client.get(url, headers=auth(world["B"]["key"])).json()
    assert {x["enterprise"] for x in b["lines"]} == {world["B"]["enterprise"], None}
    assert [x["level"] for x in b["lines"] if x["enterprise"] is None] == ["park"]
    csv = client.get(url, params={"format": "csv"}, headers=auth(world["B"]["key"]))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    body = csv.text.splitlines()
    assert body[0].startswith("level,enterprise,resource,status")
    assert len(body) == 1 + len(b["lines"]) and world["A"]["enterprise"] not in csv.text


def test_plan_and_settlement_answer_the_park_curves_per_step(client, operator_key, world):
    """The dashboard draws the park's baseline, plan and actual kW per step from these."""
    op = auth(operator_key)
    url = f"/v1/dr/events/{world['past_id']}"
    assert client.post(f"{url}/settlement", headers=op).status_code in (200, 201)
    s = client.get(f"{url}/settlement", headers=op).json()
    start, end = world["past"]
    assert [pd.Timestamp(x["start"]) for x in s["steps"]] == list(
        pd.date_range(start, end, freq="15min", inclusive="left"))
    cut = sum(CUT_KW.values())
    for step in s["steps"]:  # the two enterprises shed their cut against an identical history
        assert step["actual_kw"] == pytest.approx(step["baseline_kw"] - cut, abs=1.0)
        assert step["delivered_kw"] == pytest.approx(cut, abs=1.0)
    assert sum(x["delivered_kw"] for x in s["steps"]) / 4 == pytest.approx(
        s["delivered_kwh"], abs=0.01)
    plan = client.get(f"{url}/plan", headers=op).json()
    # the plan's baseline is the whole park's (every grid meter in this database): a number per
    # step unless the plan says it had too little data
    if plan["baseline"]["status"] == "insufficient data":
        assert all(x["baseline_kw"] is None for x in plan["steps"])
    else:
        assert all(x["baseline_kw"] is not None and x["baseline_kw"] > 0 for x in plan["steps"])
    mine = client.get(f"{url}/settlement", headers=auth(world["A"]["key"])).json()
    assert mine["steps"] == s["steps"]  # the park's curves, as the park line's totals


def test_monthly_summary_counts_the_settled_event(client, operator_key, world):
    month = world["past"][0].strftime("%Y-%m")
    op = auth(operator_key)
    client.post(f"/v1/dr/events/{world['past_id']}/settlement", headers=op)
    s = client.get("/v1/dr/summary", params={"month": month}, headers=op).json()
    row = next(e for e in s["events"] if e["event_id"] == world["past_id"])
    assert row["settled"] is True and row["delivered_kwh"] is not None
    assert s["totals"]["settled"] >= 1
    a = client.get("/v1/dr/summary", params={"month": month},
                   headers=auth(world["A"]["key"])).json()
    assert [e["enterprise"] for e in a["enterprises"]] == [world["A"]["enterprise"]]


def test_refusals_name_the_problem_and_store_nothing(client, engine, operator_key, world):
    op = auth(operator_key)
    assert client.get("/v1/dr/events/NOPE/plan", headers=op).status_code == 404
    assert client.post("/v1/dr/events/NOPE/settlement", headers=op).status_code == 404
    r = client.post(f"/v1/dr/events/{world['past_id']}/plan", headers=op)
    assert r.status_code in (200, 409)  # planned before it began; an ended event is not replanned
    ev = future_event(client, operator_key, days=4)
    r = client.post(f"/v1/dr/events/{ev['id']}/settlement", headers=op)
    assert r.status_code == 409 and "/" in r.json()["detail"]
    assert count(engine, "SELECT count(*) FROM dr_settlements WHERE event_id = :e",
                 e=ev["id"]) == 0
    for month in ("2026-13", "20x6-01", "1999-01", "2999-01", "2026-1\x00"):
        r = client.get("/v1/dr/summary", params={"month": month}, headers=op)
        assert r.status_code == 422, (month, r.text)
    r = client.post(f"/v1/dr/events/{ev['id']}/plan", headers=auth(world["A"]["key"]))
    assert r.status_code == 403
    assert count(engine, "SELECT count(*) FROM dr_plans WHERE event_id = :e", e=ev["id"]) == 0
    r = client.get("/v1/dr/events/" + "x" * 5000 + "/plan", headers=op)
    assert r.status_code == 404


def test_concurrent_settlement_requests_settle_once(client, engine, operator_key, world):
    op = auth(operator_key)
    # Another past event (nobody shed anything), stored here so no earlier job settled it.
    quiet = unique("DRQ")
    q0 = pd.Timestamp.now(tz=TZ).normalize() - pd.Timedelta(days=3, hours=-10)
    with Session(engine) as session, session.begin():
        dr_events.intake(session, dr_events.EventContent(
            quiet, q0.to_pydatetime(), (q0 + pd.Timedelta(hours=1)).to_pydatetime(),
            "reduce", 50.0, 2.0, (q0 - pd.Timedelta(hours=3)).to_pydatetime()), source="api",
            now=(q0 - pd.Timedelta(hours=3)).to_pydatetime(), grid=dr_events.connection())
    url = f"/v1/dr/events/{quiet}/settlement"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.post(url, headers=op), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [
        a.text for a in answers]
    assert len({len(a.json()["lines"]) for a in answers}) == 1
    n = count(engine, "SELECT count(*) FROM dr_settlements WHERE event_id = :e", e=quiet)
    assert n == len(answers[0].json()["lines"])
    # Without a plan every registered resource is settled; nobody shed, so A's line is ~0.
    line = next(x for x in answers[0].json()["lines"]
                if x["level"] == "enterprise" and x["enterprise"] == world["A"]["enterprise"])
    assert line["delivered_kwh"] == pytest.approx(0.0, abs=1e-6)


def test_a_grid_meter_that_never_read_does_not_void_the_settlement(client, engine, operator_key,
                                                                   world, make_meter):
    """An enterprise's second import meter with no readings at all (a historical or daily
    register no longer read) is left out of its total instead of making every day a gap."""
    op = auth(operator_key)
    make_meter(world["A"]["enterprise"])  # never reads
    event_id = unique("DRS")
    q0 = pd.Timestamp.now(tz=TZ).normalize() - pd.Timedelta(days=4, hours=-9)
    notified = (q0 - pd.Timedelta(hours=3)).to_pydatetime()
    with Session(engine) as session, session.begin():
        dr_events.intake(session, dr_events.EventContent(
            event_id, q0.to_pydatetime(), (q0 + pd.Timedelta(hours=1)).to_pydatetime(),
            "reduce", 50.0, 2.0, notified), source="api", now=notified,
            grid=dr_events.connection())
    r = client.post(f"/v1/dr/events/{event_id}/settlement", headers=op)
    assert r.status_code == 201, r.text
    line = next(x for x in r.json()["lines"]
                if x["level"] == "enterprise" and x["enterprise"] == world["A"]["enterprise"])
    assert line["status"] == "ok", line
    assert line["delivered_kwh"] == pytest.approx(0.0, abs=1e-6)
