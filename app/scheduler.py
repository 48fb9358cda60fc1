"""APScheduler jobs, running in exactly one process of a deployment.

Election: every process that starts the app campaigns for the lead on a dedicated database
connection (not from the pool, with TCP keepalives) with ``pg_try_advisory_lock(LOCK_KEY)``. The
winner records itself in ``scheduler_leader`` and runs a ``BackgroundScheduler``; the others try
again every ``scheduler_retry_seconds``. Works across uvicorn workers and hosts sharing one
database.

Keeping the lead: the leader re-verifies every ``scheduler_check_seconds`` that its connection
still holds the lock (in ``pg_locks``). A verification is good for ``scheduler_lease_seconds``;
when one fails (connection terminated, PostgreSQL restarted) or the lease runs out, the leader
stops its scheduler at once and campaigns again. Before each job run, the executor verifies the
lock once more and skips the run if it is gone.

Taking over: a leader that stepped down clears its name in ``scheduler_leader``. A process that
takes the lock while the row still names another holder (that process lost its connection
without noticing yet) waits out that holder's lease before running jobs; by then the old leader's
own lease has expired, so two processes never lead at the same time.

Jobs that were already running when the lead was lost may still finish: every job is idempotent
per (job, period) through a unique key (``job_runs``, app/services/jobs.py), so a run in the old
and one in the new leader cannot both do the work. Jobs call the same functions as the API.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.repositories import jobs as jobs_repo
from app.repositories.alerts import check_completeness
from app.repositories.readings_store import ReadingsStore, readings_store
from app.services.jobs import once, once_with_lease, runner
from app.services.pv import performance_job
from energy.site import PARK_TZ, PARK_ZONE

LOCK_KEY = 0x7A637061726B  # "zcpark"
CLOSE_MONTH_LEASE_SECONDS = 3600.0
log = logging.getLogger(__name__)


class _SkippedRunFilter(logging.Filter):
    """Drops APScheduler's "skipped: maximum number of running instances reached" warning: every
    job here runs with ``max_instances=1`` on purpose (the scenario worker polls every few
    seconds while a run takes minutes), so a skipped tick is the design, not a problem."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_SkippedRunFilter())


def completeness_job(engine: Engine, lookback_hours: int = 24) -> int:
    """Check the last whole hours (UTC-aligned, which are Asia/Shanghai hours too). Once per
    window end (``job_runs`` key ``completeness`` / ``2026-11-30T13:00Z``); returns new alerts."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=lookback_hours)
    with Session(engine) as session, session.begin():
        opened = once(session, "completeness", f"{end:%Y-%m-%dT%H:%MZ}",
                      lambda: check_completeness(session, start, end))
    return opened or 0


DATA_CHANGES_KEPT = 1000
"""Rows of the data-change log kept by the hourly trim (the answer cache needs none of them:
only their count and largest id, which the trim changes to a value never seen before)."""


def trim_data_changes_job(engine: Engine, keep: int = DATA_CHANGES_KEPT) -> int:
    """Keep the data-change log short, so reading the data version stays cheap. Safe to run
    twice or in two processes: each run only deletes old rows and adds one."""
    from app.repositories.data_version import trim_data_changes

    with engine.begin() as conn:
        deleted = trim_data_changes(conn, keep)
    if deleted:
        log.info("data-change log: %d old rows trimmed", deleted)
    return deleted


def close_month_job(engine: Engine, today: date | None = None,
                    store: ReadingsStore | None = None) -> dict[str, object] | None:
    """Close the previous month's ledgers (``today`` defaults to the local date). Once per month
    (``job_runs`` key ``carbon_close_month`` / ``2026-10``): a month reopened by an operator is
    not closed again by a repeated run; closing itself leaves a closed month as it is.
    ``store``: the scheduler's readings store (detected here when not given)."""
    from app.services.carbon import close_previous_month
    from app.services.carbon_periods import previous_month

    today = today or datetime.now(PARK_ZONE).date()
    label = previous_month(today).label
    store = store or readings_store(engine)
    result = once_with_lease(
        engine, "carbon_close_month", label,
        lambda: close_previous_month(engine, store=store, today=today),
        CLOSE_MONTH_LEASE_SECONDS)
    log.info("monthly carbon close %s: %s", label, result or "closed already, nothing to do")
    return result


def storage_plan_job(engine: Engine, settings: Settings, now: datetime | None = None
                     ) -> dict[str, str]:
    """Publish tomorrow's (Asia/Shanghai) plan of every storage station (same function as
    ``POST /v1/storage/{code}/plan``), once per station and day."""
    from app.services.storage import plan_job

    with Session(engine) as session, session.begin():
        published = plan_job(session, now, settings.storage_max_steps)
    for code, outcome in published.items():
        log.info("storage plan %s: %s", code, outcome)
    return published


def storage_safety_job(engine: Engine, now: datetime | None = None,
                       interval_minutes: int = 15) -> int:
    """Open storage_safety alerts for telemetry of the last 24 h outside the safe window. Once
    per interval slot (``job_runs`` key ``storage_safety`` / ``2026-11-30T13:15Z``)."""
    from app.services.storage_ops import safety_job

    now = now or datetime.now(UTC)
    step = max(int(interval_minutes), 1) * 60
    slot = datetime.fromtimestamp(int(now.timestamp()) // step * step, UTC)
    with Session(engine) as session, session.begin():
        opened = once(session, "storage_safety", f"{slot:%Y-%m-%dT%H:%MZ}",
                      lambda: safety_job(session, now))
    return opened or 0


DR_PLAN_INTERVAL_MINUTES = 5
DR_SETTLEMENT_INTERVAL_MINUTES = 15


def dr_plan_job(engine: Engine, now: datetime | None = None) -> dict[str, str]:
    """Plan every active demand-response event whose current version has no plan yet (same
    function as ``POST /v1/dr/events/{id}/plan``); once per (event, version) (``job_runs`` key
    ``dr_plan`` / ``<id> v<version>``)."""
    from app.services.dr_plans import plan_job

    done = plan_job(lambda: Session(engine), now)
    for event_id, outcome in done.items():
        log.info("dr plan %s: %s", event_id, outcome)
    return done


def dr_settlement_job(engine: Engine, now: datetime | None = None) -> dict[str, str]:
    """Settle every active event ended two hours ago or more whose current version is not
    settled; once per (event, version) (``job_runs`` key ``dr_settlement`` / ``<id> v<n>``)."""
    from app.services.dr_plans import settlement_job

    done = settlement_job(lambda: Session(engine), now)
    for event_id, outcome in done.items():
        log.info("dr settlement %s: %s", event_id, outcome)
    return done


def add_storage_jobs(sched: BackgroundScheduler, engine: Engine, settings: Settings) -> None:
    hour, minute = (int(x) for x in settings.storage_plan_time.split(":"))
    sched.add_job(storage_plan_job, "cron", hour=hour, minute=minute, args=[engine, settings],
                  id="storage_plan", coalesce=True, max_instances=1)
    sched.add_job(storage_safety_job, "interval",
                  minutes=settings.storage_safety_interval_minutes,
                  args=[engine, None, settings.storage_safety_interval_minutes],
                  id="storage_safety", coalesce=True, max_instances=1)


def scenario_queue_job(engine: Engine, settings: Settings,
                       keep_going: Callable[[], bool] | None = None) -> int:
    """Run the queued scenario runs (the worker behind ``POST /v1/scenarios``) while
    ``keep_going()`` (this process still leads); each run is claimed by one worker
    (``FOR UPDATE SKIP LOCKED`` and a lease)."""
    from app.services.scenarios import process_queue

    return process_queue(engine, settings, keep_going=keep_going)


class LeaderOnlyExecutor(ThreadPoolExecutor):
    """A thread pool that runs a job only after ``guard(job_id)`` re-verified the lead."""

    def __init__(self, guard: Callable[[str], bool], max_workers: int = 10) -> None:
        super().__init__(max_workers)
        self._guard = guard

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        guard = self._guard

        def guarded(job: Any, alias: str, run_times: list[datetime], logger_name: str
                    ) -> list[Any]:
            if not guard(job.id):
                return []  # no run: no executed/error event
            return run_job(job, alias, run_times, logger_name)

        def callback(f: Any) -> None:
            exc = f.exception()
            if exc:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, f.result())

        f = self._pool.submit(guarded, job, job._jobstore_alias, run_times, self._logger.name)
        f.add_done_callback(callback)


def _keepalive_args(lease_seconds: float) -> dict[str, Any]:
    """libpq options so that a dead peer breaks the lock connection within about a lease."""
    idle = max(1, int(lease_seconds / 3))
    return {"keepalives": 1, "keepalives_idle": idle, "keepalives_interval": idle,
            "keepalives_count": 3, "tcp_user_timeout": int(lease_seconds * 1000),
            "connect_timeout": max(2, int(lease_seconds)),
            "application_name": "zcpark-scheduler-lock"}


def demo_readings_job(engine: Engine, settings: Settings,
                      store: ReadingsStore | None = None) -> int:
    """``serve --demo``: add the demo meters' readings of the quarter-hours that have ended."""
    from app.demo import add_demo_readings

    return add_demo_readings(engine, settings, store=store)


class SchedulerLeader:
    """Campaigns for the lead, holds it on a health-checked connection, runs the scheduler
    while it leads and steps down as soon as the lead is lost."""

    def __init__(self, engine: Engine, settings: Settings,
                 store: ReadingsStore | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.store = store
        """The app's readings store; None: each job that needs one detects it when it runs."""
        self.check_seconds = float(settings.scheduler_check_seconds)
        self.lease_seconds = float(settings.scheduler_lease_seconds)
        self.retry_seconds = float(settings.scheduler_retry_seconds)
        if self.lease_seconds <= self.check_seconds:
            raise ValueError("scheduler_lease_seconds must be more than scheduler_check_seconds")
        self.identity = f"{runner()}:{uuid.uuid4().hex[:8]}"
        self.scheduler: BackgroundScheduler | None = None
        self.skipped_runs = 0
        """Job runs the executor skipped because the lead was gone."""
        self._conn: Connection | None = None
        self._verified_at: float | None = None  # time.monotonic() when the last check began
        self._lock = threading.RLock()  # one query on the lock connection or transition at once
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock_engine = create_engine(engine.url, poolclass=NullPool,
                                          connect_args=_keepalive_args(self.lease_seconds))
        self._thread = threading.Thread(target=self._run, name="zcpark-scheduler-election",
                                        daemon=True)

    def start(self) -> SchedulerLeader:
        self._thread.start()
        return self

    # --- state ---------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        """True while this process runs the scheduler on a lead verified within the lease."""
        verified = self._verified_at
        return (self.scheduler is not None and verified is not None
                and time.monotonic() - verified < self.lease_seconds)

    @property
    def lock_backend_pid(self) -> int | None:
        """PostgreSQL backend pid of the connection holding the lock (None when not leading)."""
        conn = self._conn
        if conn is None:
            return None
        try:
            return int(conn.connection.dbapi_connection.info.backend_pid)  # type: ignore[union-attr]
        except Exception:
            return None

    # --- campaigning ---------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                if self.scheduler is None:
                    self._try_lead()
                elif not self.verify():
                    self._step_down("the scheduler lock is lost")
            except (DBAPIError, PendingRollbackError) as exc:  # database unreachable: later
                log.warning("scheduler election: database unavailable: %s",
                            str(exc).splitlines()[0])
            except Exception:
                log.exception("scheduler election failed")
            self._wake.wait(self.check_seconds if self.scheduler is not None
                            else self.retry_seconds)

    def _try_lead(self) -> bool:
        """Take the lock if free; then (after waiting out a vanished leader's lease) start the
        scheduler. True when this process now leads."""
        if self.scheduler is not None:
            return True
        conn = self._lock_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if not jobs_repo.try_lock(conn, LOCK_KEY):
                conn.close()
                return False
            previous, lease = jobs_repo.become_leader(conn, self.identity, self.lease_seconds)
            if previous is not None and previous != self.identity:
                wait = float(lease or self.lease_seconds)
                log.warning("scheduler: %s led and did not step down; waiting %.1f s for its "
                            "lease to run out", previous, wait)
                if self._stop.wait(wait):
                    self._release(conn)
                    return False
            started = time.monotonic()
            if not jobs_repo.holds_lock(conn, LOCK_KEY):
                self._release(conn)
                return False
        except Exception:
            self._release(conn)
            raise
        with self._lock:
            if self._stop.is_set():
                self._release(conn)
                return False
            self._conn, self._verified_at = conn, started
            self.scheduler = self._build_scheduler()
            self.scheduler.start()
        log.info("this process (%s) runs the scheduler", self.identity)
        return True

    def _build_scheduler(self) -> BackgroundScheduler:
        s = self.settings
        sched = BackgroundScheduler(timezone=PARK_TZ,
                                    executors={"default": LeaderOnlyExecutor(self._guard)})
        sched.add_job(completeness_job, "interval", minutes=s.completeness_interval_minutes,
                      args=[self.engine], id="completeness", coalesce=True, max_instances=1)
        add_storage_jobs(sched, self.engine, s)
        sched.add_job(dr_plan_job, "interval", minutes=DR_PLAN_INTERVAL_MINUTES,
                      args=[self.engine], id="dr_plan", coalesce=True, max_instances=1)
        sched.add_job(dr_settlement_job, "interval", minutes=DR_SETTLEMENT_INTERVAL_MINUTES,
                      args=[self.engine], id="dr_settlement", coalesce=True, max_instances=1)
        sched.add_job(performance_job, "cron", hour=s.pv_performance_hour, minute=5,
                      args=[self.engine, s.pv_alert_share_of_expected],
                      id="pv_performance", coalesce=True, max_instances=1)
        sched.add_job(scenario_queue_job, "interval", seconds=s.scenario_poll_seconds,
                      args=[self.engine, s, lambda: self.is_leader], id="scenarios",
                      coalesce=True, max_instances=1, next_run_time=datetime.now(UTC))
        sched.add_job(trim_data_changes_job, "cron", minute=7, args=[self.engine],
                      id="trim_data_changes", coalesce=True, max_instances=1)
        sched.add_job(close_month_job, "cron", day=1, hour=2, minute=0,
                      args=[self.engine, None, self.store], id="carbon_close_month",
                      coalesce=True, max_instances=1, misfire_grace_time=6 * 3600)
        if s.demo_readings:
            sched.add_job(demo_readings_job, "cron", minute="0,15,30,45", second=20,
                          args=[self.engine, s, self.store], id="demo_readings", coalesce=True,
                          max_instances=1, misfire_grace_time=600)
        return sched

    # --- keeping the lead ----------------------------------------------------------------
    def verify(self) -> bool:
        """Check on the lock connection that the lock is still held; renews the lease."""
        if not self._lock.acquire(timeout=self.lease_seconds):
            return False  # another check hangs (dead network): the lease decides
        try:
            conn = self._conn
            if conn is None:
                return False
            started = time.monotonic()
            try:
                held = jobs_repo.holds_lock(conn, LOCK_KEY)
            except Exception as exc:
                log.warning("scheduler lock connection failed: %s", str(exc).splitlines()[0])
                held = False
            if held:
                self._verified_at = started
            return held and self.is_leader
        finally:
            self._lock.release()

    def _guard(self, job_id: str) -> bool:
        """Called by the executor before each run: run only on a lead verified just now."""
        if self.verify():
            return True
        self.skipped_runs += 1
        log.warning("job %s not run: this process no longer leads the scheduler", job_id)
        self._wake.set()  # the election thread steps down at once
        return False

    def _step_down(self, reason: str) -> None:
        """Stop the scheduler, drop the lock connection and clear our name as leader."""
        with self._lock:
            sched, conn = self.scheduler, self._conn
            self.scheduler, self._conn, self._verified_at = None, None, None
        if sched is None and conn is None:
            return
        log.warning("this process stops running the scheduler: %s", reason)
        if sched is not None:
            with contextlib.suppress(SchedulerNotRunningError):
                sched.shutdown(wait=False)
            from app.services.scenarios import shutdown_worker_pool

            shutdown_worker_pool()
        if conn is not None:
            self._release(conn)

    def _release(self, conn: Connection) -> None:
        """Clear our name, unlock and close (best effort: a dead connection lost the lock
        already); the name is cleared on a fresh connection if the old one is dead."""
        cleared = False
        try:
            jobs_repo.stepped_down(conn, self.identity)
            cleared = True
            jobs_repo.unlock(conn, LOCK_KEY)
        except Exception:
            log.info("scheduler lock connection is gone; it holds no lock any more")
        with contextlib.suppress(Exception):
            conn.invalidate()
            conn.close()
        if not cleared:
            try:
                with self._lock_engine.connect() as fresh:
                    jobs_repo.stepped_down(fresh, self.identity)
                    fresh.commit()
            except Exception:  # database down: a successor waits out our lease instead
                log.info("could not record the step-down; a successor waits for the lease")

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        self._step_down("shutdown")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.lease_seconds + 5)
        self._lock_engine.dispose()


def start_scheduler(engine: Engine, settings: Settings,
                    store: ReadingsStore | None = None) -> SchedulerLeader:
    return SchedulerLeader(engine, settings, store).start()
