"""Upload timestamps live in a window (2000-01-01 .. now + 1 day), a batch touches at most 36
months, and partitions are made only for the months that receive rows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.conftest import auth


def _post(client: TestClient, key: str, rows: list[tuple[str, str, float]]) -> Any:
    body = "meter,ts,value\n" + "".join(f"{m},{t},{v}\n" for m, t, v in rows)
    return client.post("/v1/readings", content=body.encode(),
                       headers={**auth(key), "content-type": "text/csv"})


def _partitions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'readings'::regclass AND c.relname LIKE 'readings\\_%'"
        )).scalars())


def _stored(engine: Engine, meter: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM readings r JOIN meters m ON m.id = r.meter_id"
            " WHERE m.code = :c"), {"c": meter}).scalar_one())


def _quarter_hour(t: datetime) -> str:
    """``t`` floored to the 15-minute grid, in Asia/Shanghai."""
    return pd.Timestamp(t).tz_convert("Asia/Shanghai").floor("15min").isoformat()


def _ts_errors(r: Any) -> list[tuple[int, str, str]]:
    return [(e["row"], e["field"], e["message"]) for e in r.json()["errors"]]


@pytest.mark.parametrize("late", ["two days ahead", "9999-12-31T23:45:00+08:00"])
def test_future_readings_are_rejected_and_nothing_is_stored(
    client, engine, operator_key, make_enterprise, make_meter, late
):
    m = make_meter(make_enterprise()["code"])["code"]
    if late == "two days ahead":
        late = _quarter_hour(datetime.now(UTC) + timedelta(days=2))
    before = _partitions(engine)
    r = _post(client, operator_key, [(m, "2026-03-01T00:00:00+08:00", 1.0), (m, late, 2.0)])
    assert r.status_code == 422 and r.headers["content-type"].startswith(
        "application/problem+json")
    [(row, field, message)] = _ts_errors(r)
    assert (row, field) == (2, "ts")
    assert "future reading" in message and "未来时间的读数" in message
    assert _stored(engine, m) == 0
    assert _partitions(engine) == before


def test_window_bounds_earliest_and_tolerance(
    client, engine, operator_key, make_enterprise, make_meter
):
    m = make_meter(make_enterprise()["code"])["code"]
    r = _post(client, operator_key, [(m, "1999-12-31T23:45:00+08:00", 1.0),
                                     (m, "2000-01-01T00:00:00+08:00", 1.0)])
    assert r.status_code == 422 and [(e[0], e[1]) for e in _ts_errors(r)] == [(1, "ts")]
    assert _stored(engine, m) == 0
    # Within the clock tolerance (now + 1 day) is accepted: a meter's clock may run ahead.
    soon = _quarter_hour(datetime.now(UTC) + timedelta(hours=20))
    r = _post(client, operator_key, [(m, "2000-01-01T00:00:00+08:00", 1.0), (m, soon, 2.0)])
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 2


def test_batch_over_more_than_36_months_is_rejected(
    client, engine, operator_key, make_enterprise, make_meter
):
    m = make_meter(make_enterprise()["code"])["code"]
    months = pd.date_range("2003-01-01", periods=37, freq="MS", tz="Asia/Shanghai") + pd.Timedelta(
        days=14)  # mid-month: UTC and Asia/Shanghai months agree
    before = _partitions(engine)
    r = _post(client, operator_key, [(m, t.isoformat(), 1.0) for t in months])
    assert r.status_code == 422
    [(row, field, message)] = _ts_errors(r)
    assert (row, field) == (37, "ts") and "37" in message and "36" in message
    assert _stored(engine, m) == 0 and _partitions(engine) == before
    r = _post(client, operator_key, [(m, t.isoformat(), 1.0) for t in months[:36]])
    assert r.status_code == 200 and r.json()["inserted"] == 36


def test_partitions_only_for_months_that_receive_rows(
    client, engine, timescale, operator_key, make_enterprise, make_meter
):
    m = make_meter(make_enterprise()["code"])["code"]
    before = _partitions(engine)
    r = _post(client, operator_key, [(m, "2008-01-15T00:00:00+08:00", 1.0),
                                     (m, "2010-06-15T00:00:00+08:00", 2.0)])
    assert r.status_code == 200 and r.json()["inserted"] == 2
    if timescale:
        return  # chunks are TimescaleDB's; there are no monthly partitions
    assert _partitions(engine) - before == {"readings_2008_01", "readings_2010_06"}


def test_a_new_month_does_not_wait_for_an_open_upload_transaction(
    client, engine, timescale, operator_key, make_enterprise, make_meter
):
    if timescale:
        pytest.skip("chunks are TimescaleDB's; there are no monthly partitions")
    m, other_meter = (make_meter(make_enterprise()["code"])["code"] for _ in range(2))
    assert _post(client, operator_key, [(m, "2026-03-01T00:00:00+08:00", 1.0)]).status_code == 200
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as busy, ThreadPoolExecutor(1) as pool:
        # Another upload's transaction, still open, holding its locks on readings.
        busy.execute("UPDATE readings SET value = value WHERE meter_id ="
                     " (SELECT id FROM meters WHERE code = %s)", (m,))
        answer = pool.submit(_post, client, operator_key,
                             [(other_meter, "2007-05-15T00:00:00+08:00", 1.0)])
        try:
            r = answer.result(timeout=30)
        finally:
            busy.rollback()
    assert r.status_code == 200 and r.json()["inserted"] == 1
    assert "readings_2007_05" in _partitions(engine)
