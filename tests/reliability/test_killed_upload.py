"""A server killed (SIGKILL) in the middle of an upload stores nothing of it, and the same batch
sent again to a restarted server is inserted exactly once: all-or-nothing holds across a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pandas as pd
from sqlalchemy import Engine, text

from tests.conftest import auth
from tests.live_server import free_port

SERVE = ("import sys, uvicorn; from app.main import create_app; from app.config import Settings;"
         " uvicorn.run(create_app(Settings(database_url=sys.argv[1], scheduler_enabled=False)),"
         " host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')")


@contextmanager
def server(database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVE, database_url, str(port)],
                            cwd=os.getcwd())
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _batch(codes: list[str], per_meter: int) -> bytes:
    starts = pd.date_range("2025-01-01", periods=per_meter, freq="15min", tz="Asia/Shanghai")
    stamps = starts.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    lines = ["meter,ts,value"]
    for i, code in enumerate(codes):
        lines += [f"{code},{t},{(i + k) % 97 + 0.5}" for k, t in enumerate(stamps)]
    return ("\n".join(lines) + "\n").encode()


def _stored(engine: Engine, codes: list[str]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM readings r JOIN meters m ON m.id = r.meter_id"
            " WHERE m.code = ANY(:c)"), {"c": codes}).scalar_one())


def test_sigkill_mid_upload_stores_nothing_and_a_resend_inserts_once(
        database_url: str, engine: Engine, make_enterprise: Callable[..., dict[str, Any]],
        make_meter: Callable[..., dict[str, Any]], make_key: Callable[..., str]) -> None:
    ent = make_enterprise()["code"]
    codes = [make_meter(ent)["code"] for _ in range(40)]
    key = make_key("enterprise", ent)
    body = _batch(codes, 30_000)  # 1.2 M rows: several seconds of work for the server
    rows = 40 * 30_000
    headers = {**auth(key), "content-type": "text/csv"}

    with server(database_url) as (proc, base):
        outcome: dict[str, Any] = {}

        def send() -> None:
            try:
                outcome["status"] = httpx.post(base + "/v1/readings", content=body,
                                               headers=headers, timeout=60).status_code
            except httpx.HTTPError as exc:  # the server died under the request
                outcome["error"] = type(exc).__name__

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(1.0)  # the body is in, the server is validating or writing it
        os.kill(proc.pid, signal.SIGKILL)
        sender.join(30)
    assert "error" in outcome, outcome  # no answer: the client cannot believe it stored
    assert _stored(engine, codes) == 0

    with server(database_url) as (_, base):
        first = httpx.post(base + "/v1/readings", content=body, headers=headers, timeout=120)
        assert first.status_code == 200, first.text
        assert (first.json()["inserted"], first.json()["unchanged"]) == (rows, 0)
        again = httpx.post(base + "/v1/readings", content=body, headers=headers, timeout=120)
        assert (again.json()["inserted"], again.json()["unchanged"]) == (0, rows)
    assert _stored(engine, codes) == rows
