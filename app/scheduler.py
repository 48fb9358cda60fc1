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

LOCK_KEY = 0x7A637061726B  # "zcpark"
RETRY_SECONDS = 60
log = logging.getLogger(__name__)


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
        sched.add_job(close_month_job, "cron", day=1, hour=2, minute=0, args=[self.engine],
                      id="carbon_close_month", coalesce=True, max_instances=1,
                      misfire_grace_time=6 * 3600)
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
        if self._conn is not None:
            # Close the DBAPI connection itself (not back to the pool), which frees the lock.
            self._conn.invalidate()
            self._conn.close()
            self._conn = None


def start_scheduler(engine: Engine, settings: Settings) -> SchedulerLeader:
    return SchedulerLeader(engine, settings).start()
