"""Concurrent uploads through a real uvicorn server, each client on its own connection: identical,
overlapping and crossed batches never answer 5xx, store exact rows, and revisions of one reading
keep a continuous audit chain. TimescaleDB: refreshes of the aggregates never fail."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.repositories.readings import METER_LOCK_NAMESPACE, refresh_aggregates
from tests.conftest import auth
from tests.live_server import live_server

N_CLIENTS = 16


@pytest.fixture(scope="module")
def base_url(app: FastAPI) -> Iterator[str]:
    with live_server(app) as url:
        yield url


def _csv(rows: list[tuple[str, str, float]]) -> bytes:
    return ("meter,ts,value\n" + "".join(f"{m},{t},{v!r}\n" for m, t, v in rows)).encode()


def _at_once(bodies: list[bytes], base_url: str, key: str) -> list[httpx.Response]:
    """POST every body at the same moment, each from its own client (own connection)."""
    start = threading.Barrier(len(bodies))

    def send(body: bytes) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=120) as c:
            start.wait()
            return c.post("/v1/readings", content=body,
                          headers={**auth(key), "content-type": "text/csv"})

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def _stored(engine: Engine, codes: list[str]) -> dict[tuple[str, str], float]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT m.code, r.start_ts, r.value FROM readings r JOIN meters m ON m.id = r.meter_id"
            " WHERE m.code = ANY(:c)"), {"c": codes}).all()
    return {(code, ts.astimezone().isoformat()): v for code, ts, v in rows}


def _key(ts: str) -> str:
    return datetime.fromisoformat(ts).astimezone().isoformat()


def _day(day: str, n: int = 96) -> list[str]:
    """The first ``n`` quarter-hours of an Asia/Shanghai day, ISO 8601 with offset."""
    base = datetime.fromisoformat(f"{day}T00:00:00+08:00")
    return [(base + timedelta(minutes=15 * i)).isoformat() for i in range(n)]


def _no_5xx(answers: list[httpx.Response]) -> None:
    bad = [(r.status_code, r.text[:200]) for r in answers if r.status_code >= 500]
    assert not bad, bad


def test_identical_batches_at_once_one_inserts_the_others_unchanged(
    base_url, engine, operator_key, make_enterprise, make_meter
):
    ent = make_enterprise()["code"]
    meters = [make_meter(ent)["code"] for _ in range(2)]
    rows = [(m, ts, round(1.0 + i * 0.25, 2)) for m in meters
            for i, ts in enumerate(_day("2026-02-03"))]
    answers = _at_once([_csv(rows)] * N_CLIENTS, base_url, operator_key)
    _no_5xx(answers)
    assert [r.status_code for r in answers] == [200] * N_CLIENTS
    counts = sorted((r.json()["inserted"], r.json()["unchanged"], r.json()["revised"])
                    for r in answers)
    assert counts == [(0, len(rows), 0)] * (N_CLIENTS - 1) + [(len(rows), 0, 0)]
    assert _stored(engine, meters) == {(m, _key(ts)): v for m, ts, v in rows}


def test_crossed_overlapping_batches_over_two_meters_never_deadlock(
    base_url, engine, operator_key, make_enterprise, make_meter
):
    ent = make_enterprise()["code"]
    a, b = make_meter(ent)["code"], make_meter(ent)["code"]
    day = _day("2026-02-04")

    def value(meter: str, i: int) -> float:
        return float(i + (1000 if meter == a else 2000))

    bodies, expected = [], {}
    for k in range(N_CLIENTS):
        window = range(4 * k, 4 * k + 24)  # overlaps the next five batches' windows
        part = {m: [(m, day[i], value(m, i)) for i in window] for m in (a, b)}
        # Half the clients send meter a first, the other half meter b first, rows reversed too.
        ordered = part[a] + part[b] if k % 2 == 0 else (part[b] + part[a])[::-1]
        bodies.append(_csv(ordered))
        expected.update({(m, _key(t)): v for m, t, v in ordered})
    answers = _at_once(bodies, base_url, operator_key)
    _no_5xx(answers)
    assert [r.status_code for r in answers] == [200] * N_CLIENTS
    assert sum(r.json()["inserted"] for r in answers) == len(expected)
    assert sum(r.json()["revised"] for r in answers) == 0
    assert _stored(engine, [a, b]) == expected


def test_concurrent_revisions_keep_a_continuous_audit_chain(
    base_url, engine, operator_key, make_enterprise, make_meter
):
    m = make_meter(make_enterprise()["code"])["code"]
    ts = "2026-02-05T10:00:00+08:00"
    with httpx.Client(base_url=base_url, timeout=60) as c:
        first = c.post("/v1/readings", content=_csv([(m, ts, 1.0)]),
                       headers={**auth(operator_key), "content-type": "text/csv"})
        assert first.status_code == 200 and first.json()["inserted"] == 1
    rounds = 30
    start = threading.Barrier(2)

    def revise(client_no: int) -> list[httpx.Response]:
        out = []
        with httpx.Client(base_url=base_url, timeout=120) as c:
            start.wait()
            for k in range(rounds):
                value = float(1000 * (client_no + 1) + k)  # every value differs from every other
                out.append(c.post("/v1/readings", content=_csv([(m, ts, value)]),
                                  headers={**auth(operator_key), "content-type": "text/csv"}))
        return out

    with ThreadPoolExecutor(2) as pool:
        answers = [r for rs in pool.map(revise, range(2)) for r in rs]
    _no_5xx(answers)
    assert all(r.status_code == 200 and r.json()["revised"] == 1 for r in answers), [
        r.text for r in answers if r.status_code != 200 or r.json()["revised"] != 1]
    with httpx.Client(base_url=base_url, timeout=60) as c:
        trail = c.get(f"/v1/meters/{m}/revisions", headers=auth(operator_key)).json()
    assert len(trail) == 2 * rounds
    breaks = [(p["new_value"], q["old_value"]) for p, q in itertools.pairwise(trail)
              if q["old_value"] != p["new_value"]]
    assert breaks == []
    assert trail[0]["old_value"] == 1.0
    assert _stored(engine, [m]) == {(m, _key(ts)): trail[-1]["new_value"]}


def test_upload_blocked_by_a_held_meter_answers_503_with_retry_after(
    make_app, engine, operator_key, make_enterprise, make_meter
):
    m = make_meter(make_enterprise()["code"])["code"]
    with engine.connect() as conn:
        meter_id = conn.execute(text("SELECT id FROM meters WHERE code = :c"), {"c": m}).scalar()
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    app = make_app(upload_lock_timeout_seconds=0.2, upload_attempts=2)
    with psycopg.connect(dsn, autocommit=True) as holder, TestClient(app) as client:
        holder.execute("SELECT pg_advisory_lock(%s, %s)", (METER_LOCK_NAMESPACE, meter_id))
        r = client.post("/v1/readings", content=_csv([(m, "2026-02-06T00:00:00+08:00", 1.0)]),
                        headers={**auth(operator_key), "content-type": "text/csv"})
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert _stored(engine, [m]) == {}
        holder.execute("SELECT pg_advisory_unlock(%s, %s)", (METER_LOCK_NAMESPACE, meter_id))
        r = client.post("/v1/readings", content=_csv([(m, "2026-02-06T00:00:00+08:00", 1.0)]),
                        headers={**auth(operator_key), "content-type": "text/csv"})
        assert r.status_code == 200 and r.json()["inserted"] == 1


def _waiting_locks(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.datname = current_database()")).scalar_one())


def _until(check: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_consecutive_cumulative_batches_at_once_close_the_interval_between_them(
    base_url, engine, operator_key, make_enterprise, make_meter
):
    """Batch B (the later register readings) is checked while batch A is still uncommitted; A
    commits first, and B must still close the interval from A's last reading to its first."""
    m = make_meter(make_enterprise()["code"], register="cumulative")["code"]
    ts = _day("2026-02-07", 9)
    a = [(m, t, 100.0 + 10 * i) for i, t in enumerate(ts[:5])]
    b = [(m, t, 100.0 + 10 * i) for i, t in enumerate(ts) if i >= 5]
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def post(rows: list[tuple[str, str, float]]) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=120) as c:
            return c.post("/v1/readings", content=_csv(rows),
                          headers={**auth(operator_key), "content-type": "text/csv"})

    with psycopg.connect(dsn) as holder, ThreadPoolExecutor(2) as pool:
        # Hold every upload at its batch record, after it has read the stored registers.
        holder.execute("LOCK TABLE ingest_batches IN EXCLUSIVE MODE")
        first = pool.submit(post, a)
        _until(lambda: _waiting_locks(engine) >= 1)
        second = pool.submit(post, b)
        _until(lambda: _waiting_locks(engine) >= 2)
        holder.commit()
        answers = [first.result(), second.result()]
    _no_5xx(answers)
    assert [r.json()["inserted"] for r in answers] == [4, 4], [r.text for r in answers]
    stored = _stored(engine, [m])
    assert stored == {(m, _key(t)): 10.0 for t in ts[:-1]}  # 8 intervals of 10, none missing


REFRESH_SCRIPT = """
import sys
from datetime import datetime, timedelta, timezone
from app.db import make_engine
from app.repositories.readings import refresh_aggregates
engine = make_engine(sys.argv[1])
base = datetime(2026, 1, 1, tzinfo=timezone.utc)
for k in range(int(sys.argv[2])):
    refresh_aggregates(engine, base + timedelta(days=k), base + timedelta(days=60 + k))
"""


@pytest.mark.timescale
def test_concurrent_aggregate_refreshes_never_fail(
    timescale, engine, database_url, client, operator_key, make_enterprise, make_meter
):
    if not timescale:
        pytest.skip("continuous aggregates exist on the TimescaleDB layout only")
    # Readings to materialise: two months of one meter at 15 minutes.
    m = make_meter(make_enterprise()["code"])["code"]
    rows = [(m, t, 1.0) for d in range(1, 29) for t in _day(f"2026-01-{d:02d}")]
    r = client.post("/v1/readings", content=_csv(rows),
                    headers={**auth(operator_key), "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", REFRESH_SCRIPT, database_url, "6"], env=env,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    base = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    errors: list[BaseException] = []

    def refresh(k: int) -> None:
        try:
            refresh_aggregates(engine, base.replace(day=1 + k), base.replace(month=3))
        except BaseException as exc:
            errors.append(exc)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(refresh, range(12)))
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    assert errors == []
    assert [code for code, _ in results] == [0, 0, 0], [err[-2000:] for _, err in results]

