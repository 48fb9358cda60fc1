"""Exactly one process runs the scheduled jobs, also when the leader's connection is killed or the
database drops every connection; a job run twice for the same period does its work once.

Two SchedulerLeader instances on two engines stand for two app processes sharing the database.
Connections are killed with pg_terminate_backend (the shared server is never restarted).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.db import make_engine
from app.scheduler import (
    LOCK_KEY,
    SchedulerLeader,
    close_month_job,
    storage_plan_job,
    storage_safety_job,
)
from tests.conftest import auth, unique

FAST = {"scheduler_check_seconds": 0.2, "scheduler_lease_seconds": 2.0,
        "scheduler_retry_seconds": 0.2, "scenario_executor": "inline",
        "scenario_poll_seconds": 3600.0}
BOUND_S = 15.0  # a new leader must be running within this after the old one lost its lock
DAY_READ = "2031-03-03"  # the plan for 2031-03-10 forecasts from the same weekday a week before
NOW = datetime.fromisoformat("2031-03-09T17:00:00+08:00")  # plans 2031-03-10
CLOSE_TODAY = date(2021, 10, 10)  # closes 2021-09, a month no other test uses


def wait_for(cond: Callable[[], bool], timeout: float = BOUND_S) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def lock_holders(engine: Engine) -> list[int]:
    """Backend pids holding the scheduler's advisory lock in the test database (pg_locks)."""
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = CAST(:hi AS oid) AND objid = CAST(:lo AS oid) AND objsubid = 1"),
            {"hi": LOCK_KEY >> 32, "lo": LOCK_KEY & 0xFFFFFFFF}).scalars())


def terminate(engine: Engine, pids: list[int]) -> None:
    with engine.connect() as conn:
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})


def drop_every_connection(engine: Engine) -> None:
    """What a database restart does to the service: every client connection to its database
    is closed at once (including the lock connection and every pooled one)."""
    with engine.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname ="
            " current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"))


class LeaderSampler(threading.Thread):
    """Reads is_leader of every instance every few milliseconds; counts samples with two."""

    def __init__(self, leaders: list[SchedulerLeader]) -> None:
        super().__init__(daemon=True)
        self.leaders, self.samples, self.two_at_once = leaders, 0, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            if sum(x.is_leader for x in self.leaders) > 1:
                self.two_at_once += 1
            self.samples += 1
            time.sleep(0.002)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@pytest.fixture
def instances(database_url: str, settings: Settings
              ) -> Iterator[tuple[list[SchedulerLeader], list[Engine]]]:
    """Two "processes": each its own engine and SchedulerLeader, with short intervals."""
    engines = [make_engine(database_url) for _ in range(2)]
    fast = settings.model_copy(update=FAST)
    leaders = [SchedulerLeader(e, fast) for e in engines]
    yield leaders, engines
    for x in leaders:
        x.shutdown()
    for e in engines:
        e.dispose()


def only_leader(leaders: list[SchedulerLeader]) -> SchedulerLeader | None:
    leading = [x for x in leaders if x.is_leader]
    return leading[0] if len(leading) == 1 else None


def test_a_leader_that_loses_its_connection_steps_down_and_exactly_one_takes_over(
        instances, engine):
    leaders, _ = instances
    a, b = leaders
    a.start()
    assert wait_for(lambda: a.is_leader), "the first instance never led"
    b.start()
    sampler = LeaderSampler(leaders)
    sampler.start()
    try:
        time.sleep(1.0)
        assert a.is_leader and not b.is_leader
        (old_pid,) = lock_holders(engine)
        old_scheduler = a.scheduler
        terminate(engine, [old_pid])
        # the old leader stops its scheduler; one instance leads on a new lock connection
        assert wait_for(lambda: not old_scheduler.running), "the old leader kept scheduling"
        assert wait_for(lambda: only_leader(leaders) is not None
                        and len(lock_holders(engine)) == 1 and old_pid not in lock_holders(engine))
        assert lock_holders(engine) == [only_leader(leaders).lock_backend_pid]
        time.sleep(1.0)  # and it stays so (the sampler watches for two)
        assert wait_for(lambda: only_leader(leaders) is not None)
        # a database restart drops every connection: twice in a row, one leader again each time
        for _ in range(2):
            leader = only_leader(leaders)
            assert leader is not None
            before, (pid,) = leader.scheduler, lock_holders(engine)
            drop_every_connection(engine)
            assert wait_for(lambda before=before: not before.running)
            assert wait_for(lambda pid=pid: only_leader(leaders) is not None
                            and len(lock_holders(engine)) == 1 and pid not in lock_holders(engine))
            time.sleep(1.0)
            assert wait_for(lambda: only_leader(leaders) is not None and sum(
                x.scheduler is not None and x.scheduler.running for x in leaders) == 1)
    finally:
        sampler.stop()
    assert sampler.samples > 500
    assert sampler.two_at_once == 0, f"{sampler.two_at_once} of {sampler.samples} samples " \
                                     "saw two leaders"


def test_a_job_does_not_run_once_the_lock_is_lost(database_url, settings, engine):
    # The periodic check is slow here (30 s): it is the check before each run that notices.
    slow = settings.model_copy(update={**FAST, "scheduler_check_seconds": 30.0,
                                       "scheduler_lease_seconds": 60.0})
    eng = make_engine(database_url)
    leader = SchedulerLeader(eng, slow).start()
    runs: list[float] = []
    try:
        assert wait_for(lambda: leader.is_leader)
        leader.scheduler.add_job(lambda: runs.append(time.monotonic()), "interval",
                                 seconds=0.1, id="probe")
        assert wait_for(lambda: len(runs) >= 3)
        probing, (old_pid,) = leader.scheduler, lock_holders(engine)
        killed_at = time.monotonic()
        terminate(engine, [old_pid])
        time.sleep(1.5)
        assert [t for t in runs if t > killed_at + 0.2] == []
        assert getattr(leader, "skipped_runs", 0) >= 1
        # it stepped down at once (the scheduler with the probe is stopped); it may lead again,
        # but only on a new lock connection
        assert not probing.running
        assert old_pid not in lock_holders(engine)
    finally:
        leader.shutdown()
        eng.dispose()


def test_a_successor_waits_out_the_lease_of_a_leader_that_vanished(database_url, settings,
                                                                   engine):
    # A leader whose host froze: it holds the lock, named in scheduler_leader, then its
    # connection dies without it ever stepping down (it might still be running a job).
    from app.repositories import jobs as jobs_repo

    lease = FAST["scheduler_lease_seconds"]
    ghost_engine = create_engine(engine.url, poolclass=NullPool)
    with ghost_engine.connect() as ghost:
        ghost = ghost.execution_options(isolation_level="AUTOCOMMIT")
        assert jobs_repo.try_lock(ghost, LOCK_KEY)
        jobs_repo.become_leader(ghost, "frozen-host:1:0", lease)
        ghost_pid = ghost.execute(text("SELECT pg_backend_pid()")).scalar()
        terminate(engine, [ghost_pid])
    eng = make_engine(database_url)
    successor = SchedulerLeader(eng, settings.model_copy(update=FAST))
    try:
        started = time.monotonic()
        successor.start()
        # it takes the lock at once, but runs no job until the frozen leader's lease is over
        assert wait_for(lambda: len(lock_holders(engine)) == 1)
        assert not successor.is_leader
        assert wait_for(lambda: successor.is_leader)
        assert time.monotonic() - started >= lease
    finally:
        successor.shutdown()
        eng.dispose()
        ghost_engine.dispose()
    with engine.connect() as conn:  # a clean shutdown leaves no name behind
        assert jobs_repo.leader(conn) is None


def _upload_day(client, key: str, imp: str, pv: str) -> None:
    lines = ["meter,ts,value"]
    for q in range(96):
        ts = f"{DAY_READ}T{q // 4:02d}:{q % 4 * 15:02d}:00+08:00"
        lines.append(f"{imp},{ts},5000")
        lines.append(f"{pv},{ts},{1000 if 40 <= q < 64 else 0}")
    r = client.post("/v1/readings", content="\n".join(lines) + "\n",
                    headers={**auth(key), "content-type": "text/csv"})
    assert r.status_code == 200, r.text


def _station(client, operator_key, make_enterprise, make_meter) -> dict[str, Any]:
    ent = make_enterprise(zone="B区")["code"]
    imp = make_meter(ent, "electricity_import", unit="kWh")["code"]
    pv = make_meter(ent, "pv_generation", unit="kWh")["code"]
    _upload_day(client, operator_key, imp, pv)
    r = client.post("/v1/storage", json={"code": unique("BESS"), "name": "测试储能电站",
                                         "zone": "B区", "enterprise": ent},
                    headers=auth(operator_key))
    assert r.status_code == 201, r.text
    return r.json()


def _plans(engine: Engine, code: str, day: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT p.* FROM storage_plans p JOIN storage_assets a ON a.id = p.asset_id"
            " WHERE a.code = :c AND p.day = CAST(:d AS date) ORDER BY p.id"),
            {"c": code, "d": day}).mappings()]


def test_the_plan_job_in_two_processes_at_once_publishes_one_plan_per_station(
        instances, engine, settings, client, operator_key, make_enterprise, make_meter):
    _, engines = instances
    station = _station(client, operator_key, make_enterprise, make_meter)
    code = station["code"]
    barrier = threading.Barrier(2)
    results: list[dict[str, str]] = []
    errors: list[BaseException] = []

    def run(eng: Engine) -> None:
        try:
            barrier.wait()
            results.append(storage_plan_job(eng, settings, now=NOW))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # both ran the job for the same day: one published, the other found it done
    outcomes = sorted(r[code] for r in results)
    assert outcomes[0].isdigit() and outcomes[1] == "published already", outcomes
    # a third run, later, for the same day: nothing
    assert storage_plan_job(engines[0], settings, now=NOW)[code] == "published already"
    plans = _plans(engine, code, "2031-03-10")
    assert [p["id"] for p in plans] == [int(outcomes[0])]
    r = client.get(f"/v1/storage/{code}/plan", params={"day": "2031-03-10"},
                   headers=auth(operator_key))
    assert r.status_code == 200 and r.json()["id"] == int(outcomes[0])
    with engine.connect() as conn:
        (run_row,) = conn.execute(text(
            "SELECT status, result FROM job_runs WHERE job = 'storage_plan'"
            " AND period_key = :k"), {"k": f"2031-03-10 {code}"}).all()
    assert run_row.status == "done" and run_row.result == outcomes[0]


def test_an_operator_republish_supersedes_and_one_plan_stays_current(
        engine, client, operator_key, make_enterprise, make_meter):
    code = _station(client, operator_key, make_enterprise, make_meter)["code"]

    def publish(_: int) -> int:
        r = client.post(f"/v1/storage/{code}/plan", params={"day": "2031-03-10"},
                        headers=auth(operator_key))
        assert r.status_code == 201, r.text
        return r.json()["id"]

    first = publish(0)
    with ThreadPoolExecutor(4) as pool:  # four operators re-publish at the same moment
        others = list(pool.map(publish, range(4)))
    plans = _plans(engine, code, "2031-03-10")
    assert sorted(p["id"] for p in plans) == sorted([first, *others])  # all kept as history
    current = [p["id"] for p in plans if p["superseded_at"] is None]
    assert len(current) == 1 and current[0] in others
    r = client.get(f"/v1/storage/{code}/plan", params={"day": "2031-03-10"},
                   headers=auth(operator_key))
    assert r.json()["id"] == current[0]
    # the database itself refuses a second current plan for the station and day
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO storage_plans (asset_id, day, start_ts, step_minutes, strategy,"
            " objective, kpis, schedule, inputs, battery) SELECT asset_id, day, start_ts,"
            " step_minutes, strategy, objective, kpis, schedule, inputs, battery"
            " FROM storage_plans WHERE id = :id"), {"id": current[0]})


def test_a_job_run_twice_for_the_same_period_does_nothing_the_second_time(
        engine, client, operator_key):
    first = close_month_job(engine, today=CLOSE_TODAY)
    assert first is not None and first["period"] == "2021-09"
    # an operator reopens the month to correct it; the job running again must not close it
    r = client.post("/v1/carbon/periods/2021-09/reopen", json={"reason": "late meter data"},
                    headers=auth(operator_key))
    assert r.status_code == 200, r.text
    assert close_month_job(engine, today=CLOSE_TODAY) is None
    detail = client.get("/v1/carbon/periods/2021-09", headers=auth(operator_key)).json()
    assert detail["status"] == "open"
    assert [e["action"] for e in detail["events"]].count("close") == 1
    # the safety check, twice for the same slot: one recorded run
    now = datetime.fromisoformat("2031-03-09T12:07:00+08:00")
    storage_safety_job(engine, now=now)
    assert storage_safety_job(engine, now=now) == 0
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT period_key FROM job_runs WHERE job IN"
                                 " ('storage_safety', 'carbon_close_month')"
                                 " AND period_key IN ('2031-03-09T04:00Z', '2021-09')"
                                 " ORDER BY period_key")).scalars().all()
    assert keys == ["2021-09", "2031-03-09T04:00Z"]
