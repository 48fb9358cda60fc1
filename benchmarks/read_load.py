"""Reads under load: 16 concurrent clients against a separately running ``zcpark serve``.

The demo park is loaded into a scratch database once. Then, for each pair of runs, ``zcpark serve
--workers 2`` and ``zcpark serve --workers 1`` (the reference) are started in turn as separate
processes on 127.0.0.1 (the order alternates between pairs); each is warmed with every route once,
then a load generator in its own process runs ``--clients`` asyncio clients (httpx), each looping
over the four routes, for ``--seconds`` (or at most ``--max-requests`` requests). Reported per
route: p50/p95/p99 latency and requests/s, the median over the runs of each side, with the load
average. The scheduler is off in both servers so that no job runs during a measurement.

The year's park ledger with provenance is also timed on its own (one client, in-process, the
median of ``--repeat`` calls): as served (remembered per data version: a hit costs the version
query and a copy) against computing it afresh (what the first answer after an upload costs) and
against a raw-readings sum of the same year (the reference of benchmarks/carbon_api_bench.py).

Run (from the repository root):
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python benchmarks/read_load.py [--pairs 3] [--seconds 20] [--write]
(``ZCPARK_TIMESCALE=off`` for plain partitions.) ``--write`` writes benchmarks/RESULTS_reads.md
and the row of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
METER = "LS-PHARMA-electricity_import"
ROUTES: dict[str, tuple[str, dict[str, str]]] = {
    "GET /v1/overview (day)": ("/v1/overview", {"period": "day", "date": "2026-06-15"}),
    "GET /v1/park/energy (year, by zone)": (
        "/v1/park/energy", {"start": "2026-01-01T00:00:00+08:00",
                            "end": "2027-01-01T00:00:00+08:00", "by": "zone"}),
    "GET /v1/meters/{code}/readings (a week, raw)": (
        f"/v1/meters/{METER}/readings", {"start": "2026-06-08T00:00:00+08:00",
                                         "end": "2026-06-15T00:00:00+08:00",
                                         "resolution": "raw"}),
    "GET /v1/carbon/ledger (park, 2026, provenance)": (
        "/v1/carbon/ledger", {"scope": "park", "period": "2026"}),
}
GOALS_MS = {"GET /v1/carbon/ledger (park, 2026, provenance)": ("p50", 100.0)}
DEFAULT_GOAL = ("p99", 200.0)


# ---- load generator (own process) ------------------------------------------------------------
async def _client(http: Any, i: int, deadline: float, budget: list[int],
                  out: dict[str, list[float]], errors: list[str]) -> None:
    names = list(ROUTES)
    k = i % len(names)
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        name = names[k % len(names)]
        k += 1
        path, params = ROUTES[name]
        t0 = time.perf_counter()
        r = await http.get(path, params=params)
        dt = time.perf_counter() - t0
        if r.status_code != 200:
            errors.append(f"{name}: {r.status_code} {r.text[:200]}")
            continue
        out[name].append(dt)


async def _load(base: str, key: str, clients: int, seconds: float, max_requests: int
                ) -> dict[str, Any]:
    import httpx

    out: dict[str, list[float]] = {n: [] for n in ROUTES}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {key}"},
                                 limits=limits, timeout=60.0) as http:
        t0 = time.perf_counter()
        budget = [max_requests]
        await asyncio.gather(*(_client(http, i, t0 + seconds, budget, out, errors)
                               for i in range(clients)))
        wall = time.perf_counter() - t0
    return {"latencies": out, "wall_s": wall, "errors": errors[:5], "n_errors": len(errors)}


def _load_process(conn: Any, base: str, key: str, clients: int, seconds: float,
                  max_requests: int) -> None:
    conn.send(asyncio.run(_load(base, key, clients, seconds, max_requests)))
    conn.close()


def run_load(base: str, key: str, clients: int, seconds: float, max_requests: int
             ) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_load_process,
                       args=(child, base, key, clients, seconds, max_requests))
    proc.start()
    child.close()
    if not parent.poll(seconds + 120):
        proc.kill()
        raise TimeoutError("load generator did not finish")
    res = parent.recv()
    proc.join()
    return res


# ---- server ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = _free_port()
    env = {**os.environ, "ZCPARK_DATABASE_URL": url, "DATABASE_URL": url,
           "ZCPARK_SCHEDULER_ENABLED": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", str(workers)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"zcpark serve exited with {proc.returncode}")
        time.sleep(0.1)
    proc.kill()
    raise TimeoutError("zcpark serve did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def warm(base: str, key: str, workers: int) -> None:
    """Every route answered at least once by every worker (connections are not kept, so the
    requests spread over the workers)."""
    import httpx

    for _ in range(3 * workers):
        for path, params in ROUTES.values():
            httpx.get(base + path, params=params, headers={"authorization": f"Bearer {key}"},
                      timeout=60.0).raise_for_status()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def summarize(res: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for name, lat in res["latencies"].items():
        ms = [1000 * v for v in lat]
        out[name] = {"p50": pct(ms, 50), "p95": pct(ms, 95), "p99": pct(ms, 99),
                     "rps": len(ms) / res["wall_s"], "n": len(ms)}
    total = sum(len(v) for v in res["latencies"].values())
    out["all routes"] = {"p50": pct([1000 * v for lat in res["latencies"].values()
                                     for v in lat], 50),
                         "p95": pct([1000 * v for lat in res["latencies"].values()
                                     for v in lat], 95),
                         "p99": pct([1000 * v for lat in res["latencies"].values()
                                     for v in lat], 99),
                         "rps": total / res["wall_s"], "n": total}
    return out


# ---- the ledger on its own -------------------------------------------------------------------
def ledger_paths(url: str, repeat: int) -> dict[str, list[float]]:
    """Seconds of the park-year ledger: as served (remembered per data version, so every call
    after the first is a hit), computed afresh (what an answer costs after an upload: the
    rollups, the batch provenance and the carbon library), and a raw-readings sum."""
    from sqlalchemy import text

    from app.db import make_engine
    from app.repositories.readings_store import readings_store
    from app.services import carbon as svc
    from app.services.carbon_periods import parse_period

    raw_sql = text(
        "SELECT m.carrier, sum(r.value), count(*) FROM readings r JOIN meters m"
        " ON m.id = r.meter_id WHERE r.start_ts >= CAST(:a AS timestamp) AT TIME ZONE"
        " 'Asia/Shanghai' AND r.start_ts < CAST(:b AS timestamp) AT TIME ZONE 'Asia/Shanghai'"
        " GROUP BY 1 ORDER BY 1")
    engine = make_engine(url)
    park, period = svc.Entity("park", "park"), parse_period("2026")
    times: dict[str, list[float]] = {"today": [], "computed": [], "raw": []}
    answers = {}
    try:
        with engine.connect() as conn:
            store = readings_store(conn)
            for i in range(repeat + 1):
                order = ("today", "computed", "raw") if i % 2 else ("raw", "computed", "today")
                for side in order:
                    t0 = time.perf_counter()
                    if side == "raw":
                        conn.execute(raw_sql, {"a": period.start, "b": period.end}).all()
                    elif side == "today":
                        answers[side] = svc.ledger(conn, park, period, store=store)
                    else:
                        answers[side] = svc._apply_basis(svc._ledger(
                            conn, park, period, store=store, use_frozen=True,
                            with_batches=True, version=None), svc.Basis())
                    if i:  # the first round warms every path
                        times[side].append(time.perf_counter() - t0)
                    conn.rollback()
    finally:
        engine.dispose()
    assert answers["today"] == answers["computed"], "the remembered ledger differs"
    return times


# ---- main ------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--max-requests", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from app import migrate
    from app.config import Settings
    from app.db import make_engine, readings_on_timescale
    from app.scratch_db import scratch_database

    load_start = os.getloadavg()
    stack = ExitStack()
    url = stack.enter_context(scratch_database(args.database_url, "zcpark_reads"))
    try:
        settings = Settings(database_url=url, aggregate_refresh="sync")
        engine = make_engine(url)
        migrate.upgrade(engine, use_timescale=settings.timescale)
        from app.demo import load_demo_park
        from app.repositories.readings import refresh_aggregates

        with Session(engine) as s:
            key = load_demo_park(s, engine=engine, settings=settings)
            s.commit()
        with engine.connect() as c:
            ts = readings_on_timescale(c)
            n_readings = c.execute(text("SELECT count(*) FROM readings")).scalar()
        if ts:
            refresh_aggregates(engine, datetime(2025, 1, 1, tzinfo=UTC),
                               datetime(2027, 1, 1, tzinfo=UTC))
        engine.dispose()
        layout = "TimescaleDB" if ts else "plain partitions"
        print(f"{layout}; {n_readings:,} readings; {args.clients} clients, {args.seconds:.0f} s"
              f" per run, {args.pairs} pairs", flush=True)

        runs: dict[int, list[dict[str, dict[str, float]]]] = {args.workers: [], 1: []}
        errors = 0
        for i in range(args.pairs):
            order = (args.workers, 1) if i % 2 == 0 else (1, args.workers)
            for w in order:
                proc, base = start_server(url, w)
                try:
                    warm(base, key, w)
                    load = os.getloadavg()[0]
                    res = run_load(base, key, args.clients, args.seconds, args.max_requests)
                finally:
                    stop_server(proc)
                errors += res["n_errors"]
                if res["n_errors"]:
                    print("  errors:", res["errors"], flush=True)
                s = summarize(res)
                s["load"] = {"start": load, "end": os.getloadavg()[0]}
                runs[w].append(s)
                print(f"  pair {i + 1}, --workers {w}: " + "; ".join(
                    f"{n.split(' (')[0]} p50 {v['p50']:.0f} p99 {v['p99']:.0f} ms"
                    for n, v in s.items() if n != "load")
                    + f"; {s['all routes']['rps']:.0f} req/s", flush=True)
        ledger = ledger_paths(url, args.repeat)
    finally:
        stack.close()
    load_end = os.getloadavg()
    report = render(args, layout, n_readings, runs, ledger, errors, load_start, load_end)
    print(report)
    if args.write:
        write(report, layout, runs[args.workers], runs[1], ledger, args)


def _med(runs: list[dict[str, dict[str, float]]], route: str, field: str,
         digits: int | None = None) -> str:
    vals = [r[route][field] for r in runs]
    if digits is None:
        digits = 1 if field == "rps" else 0
    return (f"{statistics.median(vals):.{digits}f} ({min(vals):.{digits}f}–"
            f"{max(vals):.{digits}f})")


def render(args: argparse.Namespace, layout: str, n_readings: int,
           runs: dict[int, list[dict[str, dict[str, float]]]], ledger: dict[str, list[float]],
           errors: int, load_start: tuple[float, float, float],
           load_end: tuple[float, float, float]) -> str:
    from harness import machine_line

    lines = [f"Layout: {layout}; demo park, {n_readings:,} readings. {args.clients} concurrent"
             f" clients (asyncio + httpx, one process), {args.seconds:.0f} s per run,"
             f" {args.pairs} paired runs (order alternating); median (min–max) over the runs."
             f" Non-200 answers: {errors}.",
             f"Load average (1 min) at start {load_start[0]:.2f}, at end {load_end[0]:.2f}.",
             machine_line(), "",
             "| route | workers | p50 ms | p95 ms | p99 ms | req/s | goal |"
             " load average (1 min) at run start / end, median (min–max) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for route in [*ROUTES, "all routes"]:
        goal_f, goal_ms = GOALS_MS.get(route, DEFAULT_GOAL)
        for w in (args.workers, 1):
            r = runs[w]
            met = statistics.median(x[route][goal_f] for x in r) <= goal_ms
            goal = "" if route == "all routes" else (
                f"{goal_f} ≤ {goal_ms:.0f} ms: {'met' if met else 'NOT met'}")
            lines.append(f"| {route} | {w} | {_med(r, route, 'p50')} | {_med(r, route, 'p95')} |"
                         f" {_med(r, route, 'p99')} | {_med(r, route, 'rps')} | {goal} |"
                         f" {_med(r, 'load', 'start', 1)} / {_med(r, 'load', 'end', 1)} |")
    lines += ["", "Park ledger for 2026 with provenance, one client, in-process, median (min–max)"
              f" of {args.repeat} calls (order alternating, one warm-up round):", "",
              "| path | ms |", "| --- | --- |"]
    for side, label in (("today", "ledger as served, remembered per data version"),
                        ("computed", "ledger computed afresh (first answer after an upload)"),
                        ("raw", "raw-readings sum of the year (reference)")):
        v = [1000 * x for x in ledger[side]]
        lines.append(f"| {label} | {statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f}) |")
    return "\n".join(lines)


def write(report: str, layout: str, ours: list[dict[str, dict[str, float]]],
          ref: list[dict[str, dict[str, float]]], ledger: dict[str, list[float]],
          args: argparse.Namespace) -> None:
    env = "ZCPARK_TIMESCALE=off " if layout.startswith("plain") else ""
    cmd = (f"DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres {env}python"
           f" benchmarks/read_load.py --pairs {args.pairs} --seconds {args.seconds:.0f} --write")
    path = HERE / "RESULTS_reads.md"
    old = path.read_text(encoding="utf-8") if path.exists() else (
        "# Reads under load\n\n`zcpark serve --workers N` against `--workers 1`, 16 concurrent"
        " clients on the demo park (benchmarks/read_load.py).\n")
    section = f"## {layout}\n\n```bash\n{cmd}\n```\n\n{report}\n"
    pattern = re.compile(rf"## {re.escape(layout)}\n.*?(?=\n## |\Z)", re.S)
    new = pattern.sub(section.rstrip("\n"), old) if pattern.search(old) else \
        old.rstrip("\n") + "\n\n" + section
    path.write_text(new.rstrip("\n") + "\n", encoding="utf-8")

    def p(runs: list[dict[str, dict[str, float]]], route: str, f: str) -> float:
        return statistics.median(r[route][f] for r in runs)

    worst_p99 = max(p(ours, r, "p99") for r in ROUTES if r not in GOALS_MS)
    led = next(iter(GOALS_MS))
    row = (f"| reads under load | 16 clients on overview, park energy, a week of raw"
           f" readings, park-year ledger; `serve --workers {args.workers}` vs `--workers 1`"
           f" ({layout}) | worst p99 of the three **{worst_p99:.0f} ms**, ledger p50"
           f" **{p(ours, led, 'p50'):.0f} ms**; {p(ours, 'all routes', 'rps'):.0f} vs"
           f" {p(ref, 'all routes', 'rps'):.0f} req/s; ledger alone"
           f" {1000 * statistics.median(ledger['today']):.0f} ms remembered,"
           f" {1000 * statistics.median(ledger['computed']):.0f} ms computed afresh"
           f" | p99 ≤ 200 ms; ledger p50 ≤ 100 ms | [RESULTS_reads.md](RESULTS_reads.md) |")
    results = HERE / "RESULTS.md"
    text = results.read_text(encoding="utf-8")
    tag = f"| reads under load | 16 clients on overview, park energy, a week of raw" \
          f" readings, park-year ledger; `serve --workers {args.workers}` vs `--workers 1`" \
          f" ({layout})"
    kept = [ln for ln in text.splitlines() if not ln.startswith(tag)]
    at = next(i for i, ln in enumerate(kept) if ln.startswith("| area |"))
    while at < len(kept) and kept[at].startswith("| "):
        at += 1
    kept.insert(at, row)
    text = "\n".join(kept) + "\n"
    if cmd not in text:
        text = text.replace("```bash\n", f"```bash\n{cmd}\n", 1)
    results.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
