"""APScheduler jobs, running in exactly one process of a deployment.

Election: each process that starts the app opens one dedicated database connection and tries
``pg_try_advisory_lock(LOCK_KEY)``. The one that gets it runs a ``BackgroundScheduler`` and keeps
the connection (and so the lock) for its lifetime; the others run no jobs. If the leader dies,
its connection closes, PostgreSQL frees the lock, and a process that retries (every
``RETRY_SECONDS``) takes over. Works across uvicorn workers and hosts sharing one database.
Jobs call the same repository functions as the API (e.g. ``POST /v1/alerts/check``).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.repositories.alerts import check_completeness
from app.services.pv import performance_job

LOCK_KEY = 0x7A637061726B  # "zcpark"
RETRY_SECONDS = 60
log = logging.getLogger(__name__)


class _SkippedRunFilter(logging.Filter):
    """Drops APScheduler's "skipped: maximum number of running instances reached" warning: every
    job here runs with ``max_instances=1`` on purpose (the scenario worker polls every few
    seconds while a run takes minutes), so a skipped tick is the design, not a problem."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_SkippedRunFilter())


def completeness_job(engine: Engine, lookback_hours: int = 24) -> int:
    """Check the last whole hours (UTC-aligned, which are Asia/Shanghai hours too)."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=lookback_hours)
    with Session(engine) as session, session.begin():
        return check_completeness(session, start, end)


def close_month_job(engine: Engine) -> dict[str, object] | None:
    """Close the previous month's ledgers (monthly; a closed month is left as it is)."""
    from app.db import readings_on_timescale
    from app.services.carbon import close_previous_month

    with engine.connect() as conn:
        timescale = readings_on_timescale(conn)
    result = close_previous_month(engine, timescale=timescale)
    log.info("monthly carbon close: %s", result or "previous month closed already")
    return result


def storage_plan_job(engine: Engine, settings: Settings, now: datetime | None = None
                     ) -> dict[str, str]:
    """Publish tomorrow's (Asia/Shanghai) plan of every storage station (same function as
    ``POST /v1/storage/{code}/plan``)."""
    from app.services.storage import plan_job

    with Session(engine) as session, session.begin():
        published = plan_job(session, now, settings.storage_max_steps)
    for code, outcome in published.items():
        log.info("storage plan %s: %s", code, outcome)
    return published


def storage_safety_job(engine: Engine, now: datetime | None = None) -> int:
    """Open storage_safety alerts for telemetry of the last 24 h outside the safe window."""
    from app.services.storage_ops import safety_job

    with Session(engine) as session, session.begin():
        return safety_job(session, now)


def add_storage_jobs(sched: BackgroundScheduler, engine: Engine, settings: Settings) -> None:
    hour, minute = (int(x) for x in settings.storage_plan_time.split(":"))
    sched.add_job(storage_plan_job, "cron", hour=hour, minute=minute, args=[engine, settings],
                  id="storage_plan", coalesce=True, max_instances=1)
    sched.add_job(storage_safety_job, "interval",
                  minutes=settings.storage_safety_interval_minutes, args=[engine],
                  id="storage_safety", coalesce=True, max_instances=1)


def scenario_queue_job(engine: Engine, settings: Settings) -> int:
    """Run the queued scenario runs (the worker behind ``POST /v1/scenarios``)."""
    from app.services.scenarios import process_queue

    return process_queue(engine, settings)


def demo_readings_job(engine: Engine, settings: Settings) -> int:
    """``serve --demo``: add the demo meters' readings of the quarter-hours that have ended."""
    from app.demo import add_demo_readings

    return add_demo_readings(engine, settings)


class SchedulerLeader:
    """Holds the advisory lock and the scheduler when elected."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.scheduler: BackgroundScheduler | None = None
        self._conn = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zcpark-scheduler-election",
                                        daemon=True)

    def start(self) -> SchedulerLeader:
        self._thread.start()
        return self

    def _try_lead(self) -> bool:
        conn = self.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        conn.commit()
        if not got:
            conn.close()
            return False
        self._conn = conn
        sched = BackgroundScheduler(timezone=self.settings.timezone)
        sched.add_job(completeness_job, "interval",
                      minutes=self.settings.completeness_interval_minutes,
                      args=[self.engine], id="completeness", coalesce=True, max_instances=1)
        add_storage_jobs(sched, self.engine, self.settings)
        sched.add_job(performance_job, "cron", hour=self.settings.pv_performance_hour, minute=5,
                      args=[self.engine, self.settings.pv_alert_share_of_expected],
                      id="pv_performance", coalesce=True, max_instances=1)
        sched.add_job(scenario_queue_job, "interval", seconds=self.settings.scenario_poll_seconds,
                      args=[self.engine, self.settings], id="scenarios", coalesce=True,
                      max_instances=1, next_run_time=datetime.now(UTC))
        sched.add_job(close_month_job, "cron", day=1, hour=2, minute=0, args=[self.engine],
                      id="carbon_close_month", coalesce=True, max_instances=1,
                      misfire_grace_time=6 * 3600)
        if self.settings.demo_readings:
            sched.add_job(demo_readings_job, "cron", minute="0,15,30,45", second=20,
                          args=[self.engine, self.settings], id="demo_readings", coalesce=True,
                          max_instances=1, misfire_grace_time=600)
        sched.start()
        self.scheduler = sched
        log.info("this process runs the scheduler")
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._try_lead():
                    return
            except Exception:  # database not ready yet: retry later
                log.exception("scheduler election failed")
            self._stop.wait(RETRY_SECONDS)

    @property
    def is_leader(self) -> bool:
        return self.scheduler is not None

    def shutdown(self) -> None:
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
            from app.services.scenarios import shutdown_worker_pool

            shutdown_worker_pool()
        if self._conn is not None:
            # Unlock explicitly, so another process can lead at once (closing a connection
            # frees the lock only when the server has reaped the backend); then close the DBAPI
            # connection itself, not back to the pool.
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self._conn.commit()
            except Exception:  # a dead connection has released its lock anyway
                log.warning("scheduler lock: explicit unlock failed; closing the connection")
            self._conn.invalidate()
            self._conn.close()
            self._conn = None


def start_scheduler(engine: Engine, settings: Settings) -> SchedulerLeader:
    return SchedulerLeader(engine, settings).start()
