"""Demand-response events through POST /v1/dr/events: idempotent intake, versions with an audit
trail, refusals naming the field (nothing stored), concurrency."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from energy.grid_connection import lhasa_etdz_connection
from tests.conftest import auth, unique

_slots = itertools.count(40)


def free_slot() -> datetime:
    """A future day no other test of this module uses (events may not overlap)."""
    day = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    return day + timedelta(days=next(_slots))


def event(start: datetime, **fields: Any) -> dict[str, Any]:
    body = {"id": unique("DR"), "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(), "direction": "reduce",
            "target_kw": 5000.0, "price_yuan_per_kwh": 3.5,
            "notified_at": datetime.now(UTC).replace(microsecond=0).isoformat()}
    body.update(fields)
    return body


def stored(engine, event_id: str) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.scalar(text("SELECT count(*) FROM dr_events WHERE id = :i"), {"i": event_id}),
                conn.scalar(text("SELECT count(*) FROM dr_event_versions WHERE event_id = :i"),
                            {"i": event_id}))


def test_same_event_twice_changes_nothing_and_a_change_is_a_new_version(client, operator_key,
                                                                        engine):
    op = auth(operator_key)
    body = event(free_slot())
    r = client.post("/v1/dr/events", json=body, headers=op)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["version"] == 1 and first["changed"] is True
    again = client.post("/v1/dr/events", json=body, headers=op)
    assert again.status_code == 200 and again.json()["changed"] is False
    assert again.json()["updated_at"] == first["updated_at"]
    assert stored(engine, body["id"]) == (1, 1)
    moved = client.post("/v1/dr/events", json={**body, "target_kw": 7000.0}, headers=op)
    assert moved.status_code == 200 and moved.json()["changed"] is True
    assert moved.json()["version"] == 2 and moved.json()["target_kw"] == 7000.0
    one = client.get(f"/v1/dr/events/{body['id']}", headers=op).json()
    assert [(v["version"], v["target_kw"]) for v in one["versions"]] == [(1, 5000.0), (2, 7000.0)]
    listed = [e["id"] for e in client.get("/v1/dr/events", headers=op, params={
        "start": body["start"], "end": body["end"]}).json()]
    assert listed == [body["id"]]


def test_overlapping_events_are_refused_with_the_field(client, operator_key, engine):
    op = auth(operator_key)
    start = free_slot()
    first = event(start)
    assert client.post("/v1/dr/events", json=first, headers=op).status_code == 201
    clash = event(start + timedelta(hours=1))
    r = client.post("/v1/dr/events", json=clash, headers=op)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "start" and first["id"] in r.text
    assert stored(engine, clash["id"]) == (0, 0)
    after = event(start + timedelta(hours=2))  # touching, not overlapping
    assert client.post("/v1/dr/events", json=after, headers=op).status_code == 201


def test_moving_an_event_onto_another_is_refused_and_keeps_its_version(client, operator_key,
                                                                      engine):
    op = auth(operator_key)
    a, b = event(free_slot()), event(free_slot())
    for body in (a, b):
        assert client.post("/v1/dr/events", json=body, headers=op).status_code == 201
    r = client.post("/v1/dr/events", json={**b, "start": a["start"], "end": a["end"]},
                    headers=op)
    assert r.status_code == 409
    assert client.get(f"/v1/dr/events/{b['id']}", headers=op).json()["version"] == 1
    assert stored(engine, b["id"]) == (1, 1)


def _far() -> str:
    return (datetime.now(UTC) + timedelta(days=800)).replace(minute=0, second=0,
                                                             microsecond=0).isoformat()


@pytest.mark.parametrize("change,field", [
    (lambda b: {"start": "2020-01-01T00:00:00+08:00", "end": "2020-01-01T02:00:00+08:00",
                "notified_at": "2019-12-31T00:00:00+08:00"}, "start"),
    (lambda b: {"end": b["start"]}, "end"),
    (lambda b: {"end": (datetime.fromisoformat(b["start"]) + timedelta(days=3)).isoformat()},
     "end"),
    (lambda b: {"start": _far(), "end": _far().replace(":00:00", ":45:00")}, "start"),
    (lambda b: {"start": "9999-01-01T00:00:00+08:00"}, "start"),
    (lambda b: {"start": b["start"].replace(":00:00", ":07:00")}, "start"),
    (lambda b: {"target_kw": lhasa_etdz_connection().import_limit_kw + 1}, "target_kw"),
    (lambda b: {"target_kw": 1e308}, "target_kw"),
    (lambda b: {"target_kw": -5}, "target_kw"),
    (lambda b: {"price_yuan_per_kwh": "Infinity"}, "price_yuan_per_kwh"),
    (lambda b: {"direction": "sideways"}, "direction"),
    (lambda b: {"id": "evil\u0000id"}, "id"),
    (lambda b: {"id": "x" * 129}, "id"),
    (lambda b: {"notified_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
     "notified_at"),
    (lambda b: {"start": "2026-03-02T00:00:00"}, "start"),
])
def test_bad_events_are_refused_naming_the_field_and_store_nothing(client, operator_key, engine,
                                                                   change, field):
    body = event(free_slot())
    body.update(change(body))
    with engine.connect() as conn:
        before = conn.scalar(text("SELECT count(*) FROM dr_event_versions"))
    r = client.post("/v1/dr/events", json=body, headers=auth(operator_key))
    assert r.status_code in (409, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.text
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM dr_event_versions")) == before


def test_only_operators_send_events_and_anyone_reads_them(client, operator_key, make_key,
                                                          make_enterprise):
    key = auth(make_key("enterprise", enterprise=make_enterprise()["code"]))
    body = event(free_slot())
    assert client.post("/v1/dr/events", json=body, headers=key).status_code == 403
    assert client.post("/v1/dr/events", json=body, headers=auth(make_key("planner"))
                       ).status_code == 403
    assert client.post("/v1/dr/events", json=body, headers=auth(operator_key)).status_code == 201
    assert client.get(f"/v1/dr/events/{body['id']}", headers=key).status_code == 200
    assert client.get("/v1/dr/events/no-such-event", headers=key).status_code == 404


def test_concurrent_posts_of_one_event_store_it_once(client, operator_key, engine):
    body = event(free_slot())
    op = auth(operator_key)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: client.post("/v1/dr/events", json=body,
                                                    headers=op).status_code, range(8)))
    assert sorted(codes) == [200] * 7 + [201]
    assert stored(engine, body["id"]) == (1, 1)


def test_concurrent_overlapping_events_store_one(client, operator_key, engine):
    start = free_slot()
    bodies = [event(start + timedelta(minutes=15 * i)) for i in range(6)]
    op = auth(operator_key)
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda b: client.post("/v1/dr/events", json=b,
                                                    headers=op).status_code, bodies))
    assert sorted(codes) == [201] + [409] * 5
    assert sum(stored(engine, b["id"])[0] for b in bodies) == 1
