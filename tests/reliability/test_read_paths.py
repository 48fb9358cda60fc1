"""Read paths under load: ``zcpark serve --workers N`` (one scheduler across the workers, metrics
of all of them), and a ledger's provenance that stays exact after uploads although the batch
list of its months is remembered between requests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, text

from app import migrate
from app.scratch_db import scratch_database
from tests.carbon_api.carbon_api_helpers import ledger, ok, upload_readings
from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_ledger_provenance_and_totals_follow_every_upload(client, make_enterprise, make_meter,
                                                          make_key):
    ent = make_enterprise()
    meter = make_meter(ent["code"])["code"]
    other = make_meter(ent["code"])["code"]
    key = make_key("enterprise", ent["code"])
    first = upload_readings(client, key, [(meter, "2022-05-03T10:00:00+08:00", 100.0)])
    before = ok(ledger(client, key, "2022"))
    assert ok(ledger(client, key, "2022")) == before  # asked again: the same answer
    assert before["provenance"]["reading_batches"] == [first["batch"]]
    assert before["inputs"]["energy"]["electricity_import_kwh"] == 100.0

    # the same reading revised: the first batch no longer holds any reading of the year
    second = upload_readings(client, key, [(meter, "2022-05-03T10:00:00+08:00", 250.0)])
    after = ok(ledger(client, key, "2022"))
    assert after["provenance"]["reading_batches"] == [second["batch"]]
    assert after["inputs"]["energy"]["electricity_import_kwh"] == 250.0
    assert after["input_hash"] != before["input_hash"]

    third = upload_readings(client, key, [(other, "2022-06-01T00:00:00+08:00", 5.0)])
    last = ok(ledger(client, key, "2022"))
    assert last["provenance"]["reading_batches"] == sorted([second["batch"],
                                                            third["batch"]])
    assert last["provenance"]["meters"] == sorted([meter, other])
    assert last["inputs"]["energy"]["electricity_import_kwh"] == 255.0
    june = ok(ledger(client, key, "2022-06"))
    assert june["provenance"]["reading_batches"] == [third["batch"]]


def _workers(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    return [c for c in psutil.Process(proc.pid).children(recursive=True)
            if "resource_tracker" not in " ".join(c.cmdline())]


def _health_count(body: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(
        r'^zcpark_http_request_duration_seconds_count\{[^}]*route="/health"[^}]*\} (\S+)$',
        body, re.M))


def test_serve_with_two_workers_elects_one_scheduler_and_reports_all_workers(database_url):
    with scratch_database(database_url, "zcpark_workers") as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        port = free_port()
        env = {**os.environ, "ZCPARK_DATABASE_URL": url, "DATABASE_URL": url,
               "ZCPARK_SCHEDULER_RETRY_SECONDS": "0.5", "ZCPARK_SCHEDULER_CHECK_SECONDS": "0.5",
               "ZCPARK_SCHEDULER_LEASE_SECONDS": "2",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                           os.environ.get("PYTHONPATH")]))}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                                 "--workers", "2"], env=env, cwd=ROOT, text=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180  # two workers start slowly on a loaded machine
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "zcpark serve --workers 2 did not start"
                time.sleep(0.1)
            # both workers up (each one answers /health once started)
            while len(_workers(proc)) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            pids = {w.pid for w in _workers(proc)}
            assert len(pids) == 2

            # one leader, among the workers, holding the one advisory lock; it stays one
            with engine.connect() as conn:
                for _ in range(3):
                    time.sleep(1.5)
                    holders = conn.execute(text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid ="
                        " l.database WHERE l.locktype = 'advisory' AND l.granted"
                        " AND d.datname = current_database()")).scalar()
                    assert holders == 1
                    leader = conn.execute(text(
                        "SELECT holder FROM scheduler_leader WHERE name = 'scheduler'")).scalar()
                    assert leader is not None and int(leader.rsplit(":", 2)[1]) in pids
                    conn.rollback()

            # every worker's requests are counted, whichever worker answers /metrics
            for _ in range(20):
                httpx.get(f"{base}/health", timeout=5).raise_for_status()
            counted = _health_count(httpx.get(f"{base}/metrics", timeout=5).text)
            assert counted >= 20
        finally:
            proc.terminate()
            code = proc.wait(30)
            engine.dispose()
        assert code == 0
        assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                       for p in pids)
