"""Readings uploads read in small chunks (512-byte CSV blocks, 5-record JSON chunks): what one
chunk cannot see alone (a later bad row, a key repeated in another chunk, a hole or a register
reading across a boundary, a dropped client or database connection) still gives the answer a
whole-body read gives, and nothing is stored unless all of it is."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.conftest import auth
from tests.live_server import live_server

STARTS = pd.date_range("2026-01-05", periods=400, freq="15min", tz="Asia/Shanghai")


def stamp(t: pd.Timestamp) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S+08:00")


@pytest.fixture(scope="module")
def small_chunks(make_app: Callable[..., FastAPI]) -> Iterator[FastAPI]:
    yield make_app(upload_chunk_bytes=512, upload_chunk_rows=5)


@pytest.fixture(scope="module")
def chunked(small_chunks: FastAPI) -> Iterator[TestClient]:
    with TestClient(small_chunks) as c:
        yield c


@pytest.fixture()
def site(make_enterprise: Callable[..., dict[str, Any]], make_meter: Callable[..., dict[str, Any]],
         make_key: Callable[..., str]) -> dict[str, Any]:
    ent = make_enterprise()["code"]
    return {"meters": [make_meter(ent)["code"] for _ in range(3)],
            "key": make_key("enterprise", ent), "enterprise": ent}


def csv_body(rows: list[tuple[str, str, object]]) -> bytes:
    return ("meter,ts,value\n" + "".join(f"{m},{t},{v}\n" for m, t, v in rows)).encode()


def post(client: Any, key: str, body: bytes, kind: str = "text/csv") -> Any:
    return client.post("/v1/readings", content=body, headers={**auth(key), "content-type": kind})


def stored(engine: Engine, codes: list[str]) -> list[tuple[str, pd.Timestamp, float]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT m.code, r.start_ts, r.value FROM readings r JOIN meters m ON m.id = r.meter_id"
            " WHERE m.code = ANY(:c) ORDER BY m.code, r.start_ts"), {"c": codes}).all()]


def batches(engine: Engine, enterprise: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM ingest_batches b JOIN enterprises e ON e.id = b.enterprise_id"
            " WHERE e.code = :e"), {"e": enterprise}).scalar_one())


def test_a_batch_over_many_chunks_is_stored_whole_with_holes_across_boundaries(
        chunked: TestClient, engine: Engine, site: dict[str, Any]) -> None:
    m1, m2, _ = site["meters"]
    # 2 x 300 rows of ~50 bytes: about 60 chunks of 512 bytes; m1 misses 3 intervals mid-way.
    rows = [(m, stamp(t), round(1 + i * 0.25, 2)) for m in (m1, m2)
            for i, t in enumerate(STARTS[:300]) if not (m == m1 and 150 <= i < 153)]
    body = csv_body(rows)
    assert len(body) > 40 * 512
    r = post(chunked, site["key"], body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["rows"], answer["inserted"], answer["unchanged"]) == (597, 597, 0)
    assert [(g["meter"], g["missing_intervals"]) for g in answer["gaps"]] == [(m1, 3)]
    assert pd.Timestamp(answer["gaps"][0]["after"]) == STARTS[149]
    got = stored(engine, [m1, m2])
    assert [(c, v) for c, _, v in got] == [(m, v) for m, _, v in sorted(
        rows, key=lambda r: (r[0], r[1]))]
    # The same body again: every row unchanged, nothing written.
    again = post(chunked, site["key"], body).json()
    assert (again["inserted"], again["unchanged"], again["revised"]) == (0, 597, 0)


def test_a_bad_row_in_the_last_chunk_rejects_the_batch_and_stores_nothing(
        chunked: TestClient, engine: Engine, site: dict[str, Any]) -> None:
    m1 = site["meters"][0]
    rows: list[tuple[str, str, object]] = [(m1, stamp(t), 1.5) for t in STARTS[:200]]
    rows.append((m1, stamp(STARTS[200]), "1e400"))
    before = batches(engine, site["enterprise"])
    r = post(chunked, site["key"], csv_body(rows))
    assert r.status_code == 422, r.text
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(201, "value")]
    assert stored(engine, [m1]) == []
    assert batches(engine, site["enterprise"]) == before
    # Errors in several chunks are all named, with their row numbers in the whole body.
    rows[10] = (m1, "not-a-time", 1.0)
    rows[120] = ("NO-SUCH-METER", stamp(STARTS[120]), 1.0)
    r = post(chunked, site["key"], csv_body(rows))
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [
        (11, "ts"), (121, "meter"), (201, "value")]
    assert stored(engine, [m1]) == []


def test_a_key_repeated_in_another_chunk(chunked: TestClient, engine: Engine,
                                         site: dict[str, Any]) -> None:
    m1, m2, _ = site["meters"]
    rows: list[tuple[str, str, object]] = [(m1, stamp(t), 2.0) for t in STARTS[:100]]
    rows += [(m2, stamp(t), 3.0) for t in STARTS[:100]]
    # Same value, many chunks later: stored once, counted once.
    rows.append((m1, stamp(STARTS[3]), 2.0))
    r = post(chunked, site["key"], csv_body(rows))
    assert r.status_code == 200, r.text
    assert (r.json()["rows"], r.json()["inserted"]) == (201, 200)
    assert len(stored(engine, [m1, m2])) == 200
    # A different value: both rows named, nothing stored of the batch.
    m3 = site["meters"][2]
    rows = [(m3, stamp(t), 4.0) for t in STARTS[:100]] + [(m3, stamp(STARTS[5]), 9.0)]
    r = post(chunked, site["key"], csv_body(rows))
    assert r.status_code == 422, r.text
    named = [(e["row"], e["field"], e["message"]) for e in r.json()["errors"]]
    assert named == [(6, "value", "same meter and ts as row 6 with a different value"),
                     (101, "value", "same meter and ts as row 6 with a different value")]
    assert stored(engine, [m3]) == []


def test_json_in_chunks_names_rows_of_the_whole_body(chunked: TestClient, engine: Engine,
                                                     site: dict[str, Any]) -> None:
    m1 = site["meters"][0]
    records: list[dict[str, Any]] = [{"meter": m1, "ts": stamp(t), "value": i + 0.5}
                                     for i, t in enumerate(STARTS[:23])]
    records[17]["value"] = -1
    r = post(chunked, site["key"], json.dumps({"readings": records}).encode(),
             "application/json")
    assert r.status_code == 422, r.text
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(18, "value")]
    records[17]["value"] = 17.5
    r = post(chunked, site["key"], json.dumps(records).encode(), "application/json")
    assert (r.status_code, r.json()["inserted"]) == (200, 23), r.text
    assert [v for _, _, v in stored(engine, [m1])] == [i + 0.5 for i in range(23)]


def test_cumulative_register_closes_intervals_across_chunks(
        chunked: TestClient, engine: Engine, make_meter: Callable[..., dict[str, Any]],
        site: dict[str, Any]) -> None:
    reg = make_meter(site["enterprise"], register="cumulative")["code"]
    # Register readings in reverse time order over many chunks: each interval is the difference
    # of two readings that sit in different chunks.
    rows = [(reg, stamp(t), 1000 + 2 * i) for i, t in enumerate(STARTS[:120])][::-1]
    r = post(chunked, site["key"], csv_body(rows))
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 119
    got = stored(engine, [reg])
    assert len(got) == 119 and {v for _, _, v in got} == {2.0}
    assert got[0][1] == STARTS[0].tz_convert("UTC")  # interval [t0, t1) closed by the t1 reading


def _half_sent(base: str, key: str, body: bytes) -> None:
    """Send the headers and half the body, then close the socket."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        head = (f"POST /v1/readings HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: text/csv\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        sock.sendall(head + body[: len(body) // 2])
        time.sleep(0.3)


def test_a_client_dropping_mid_body_stores_nothing_and_holds_no_connection(
        small_chunks: FastAPI, engine: Engine, site: dict[str, Any]) -> None:
    m1 = site["meters"][0]
    body = csv_body([(m1, stamp(t), 1.0) for t in STARTS[:300]])
    with live_server(small_chunks) as base:
        for _ in range(12):  # more than the pool holds, were a dropped upload to keep one
            _half_sent(base, site["key"], body)
        time.sleep(0.5)
        assert stored(engine, [m1]) == []
        r = httpx.post(base + "/v1/readings", content=body, timeout=60,
                       headers={**auth(site["key"]), "content-type": "text/csv"})
        assert (r.status_code, r.json()["inserted"]) == (200, 300), r.text


def test_a_database_connection_dropped_mid_stream_answers_503_and_stores_nothing(
        make_app: Callable[..., FastAPI], engine: Engine, site: dict[str, Any]) -> None:
    m1, m2, m3 = site["meters"]
    starts = pd.date_range("2025-11-01", periods=20_000, freq="15min", tz="Asia/Shanghai")
    stamps = [stamp(t) for t in starts]
    body = csv_body([(m, s, 1.25) for m in (m1, m2, m3) for s in stamps])
    app = make_app(upload_chunk_bytes=64 << 10)  # ~1,300 rows a chunk: many COPYs
    killed: list[int] = []

    def kill_the_stage_copy() -> None:
        deadline = time.monotonic() + 60
        with engine.connect() as conn:
            while not killed and time.monotonic() < deadline:
                pids = conn.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY reading_stage%'"
                    " AND pid <> pg_backend_pid() AND datname = current_database()"
                )).scalars().all()
                for pid in pids:
                    conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                    killed.append(pid)
                conn.commit()
                time.sleep(0.005)

    with live_server(app) as base:
        killer = threading.Thread(target=kill_the_stage_copy)
        killer.start()
        r = httpx.post(base + "/v1/readings", content=body, timeout=120,
                       headers={**auth(site["key"]), "content-type": "text/csv"})
        killer.join()
        assert killed, "the upload finished before its connection could be dropped"
        assert r.status_code == 503 and "retry-after" in r.headers, r.text
        assert stored(engine, [m1, m2, m3]) == []
        again = httpx.post(base + "/v1/readings", content=body, timeout=120,
                           headers={**auth(site["key"]), "content-type": "text/csv"})
        assert (again.status_code, again.json()["inserted"]) == (200, 60_000), again.text


def test_a_header_with_a_bare_carriage_return_is_malformed_csv_not_a_server_error(
        client, operator_key):
    # found by the schema fuzzer: a stray CR inside the header line
    body = b'6\xf3\xa5\x9d\xa4,\r\xc3\x99"\xc3\x97s\xf1\xa2\x87\xbf\xc3\xa1'
    r = client.post("/v1/readings", content=body,
                    headers={"Authorization": f"Bearer {operator_key}",
                             "content-type": "text/csv"})
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/malformed-csv")
