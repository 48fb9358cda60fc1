"""`zcpark serve --demo` started again after Ctrl-C starts on its own data, reloading nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.auth import create_api_key
from app.db import make_engine
from app.models import Enterprise
from app.models.readings import IngestBatch
from app.scratch_db import scratch_database
from tests.conftest import auth, unique
from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def _start(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT),
           # the scenario worker is not what this test is about (and costs CPU)
           "ZCPARK_SCHEDULER_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "serve", "--demo",
             "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve --demo exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise AssertionError(f"serve --demo did not answer /health:\n{log.read_text()}")


def _ctrl_c(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_serve_demo_twice_with_ctrl_c_between(database_url, tmp_path):
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database(database_url, "zcpark_demo_restart"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        port = free_port()

        first_log = tmp_path / "first.log"
        first = _start(url, port, first_log)
        _wait_healthy(first, port, first_log, timeout_s=900)
        assert _ctrl_c(first) == 0, first_log.read_text()
        assert "empty database: loading the demo park" in first_log.read_text()
        with engine.connect() as conn:
            last_batch = conn.execute(select(func.max(IngestBatch.id))).scalar_one()

        second_log = tmp_path / "second.log"
        second = _start(url, port, second_log)
        try:
            _wait_healthy(second, port, second_log, timeout_s=300)
            out = second_log.read_text()
            assert "Traceback" not in out
            assert "demo park found in this database: keeping its data" in out, out
            with Session(engine) as session:
                key = create_api_key(session, "operator", label=unique("check"))
                session.commit()
            base = f"http://127.0.0.1:{port}"
            ents = httpx.get(f"{base}/v1/enterprises", headers=auth(key), timeout=30).json()
            assert {"QZ-WATER", "XZ-DATA", "ND-METAL"} <= {e["code"] for e in ents}
            energy = httpx.get(f"{base}/v1/park/energy", headers=auth(key), timeout=60, params={
                "start": "2026-01-01T00:00:00+08:00", "end": "2026-02-01T00:00:00+08:00",
                "by": "zone"})
            assert energy.status_code == 200, energy.text
            assert energy.json()["totals"], energy.text
        finally:
            assert _ctrl_c(second) == 0, second_log.read_text()
        with engine.connect() as conn:
            # nothing was sent again: the second start added at most the quarter-hours that
            # ended since the first one stopped
            resent = conn.execute(select(func.coalesce(func.sum(IngestBatch.unchanged), 0)
                                         + func.coalesce(func.sum(IngestBatch.revised), 0))
                                  .where(IngestBatch.id > last_batch)).scalar_one()
            assert resent == 0
            assert conn.execute(text("SELECT count(*) FROM reading_revisions")).scalar_one() == 0


def test_demo_on_a_database_with_other_data_says_what_it_will_do(engine):
    from app.demo import demo_state

    with Session(engine) as session:
        code = unique("OWN")
        session.add(Enterprise(code=code, name="自有企业", zone="A区", industry="x"))
        session.flush()
        message = demo_state(session).message
        session.rollback()
    assert "not the demo's" in message and "left untouched" in message
    assert "park totals will include both" in message
