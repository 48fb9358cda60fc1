"""Scheduler SQL: the leader's advisory lock and row, and the once-per-period job runs."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

LEADER_ROW = "scheduler"

_LOCK_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND database = (SELECT oid FROM pg_database"
    " WHERE datname = current_database())"
    " AND classid = CAST(:hi AS oid) AND objid = CAST(:lo AS oid) AND objsubid = 1)")


# --- the leader ----------------------------------------------------------------------------
def try_lock(conn: Connection, key: int) -> bool:
    """Take the session-level advisory lock ``key`` on ``conn`` if nobody holds it."""
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())


def holds_lock(conn: Connection, key: int) -> bool:
    """True when ``conn``'s backend holds the advisory lock ``key`` (checked in pg_locks, so a
    connection that was terminated, or a server that restarted, answers False or raises)."""
    hi, lo = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    return bool(conn.execute(_LOCK_HELD, {"hi": hi, "lo": lo}).scalar())


def unlock(conn: Connection, key: int) -> None:
    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def become_leader(conn: Connection, me: str, lease_seconds: float
                  ) -> tuple[str | None, float | None]:
    """Record ``me`` as the leader (call only while holding the lock). Returns the previous
    holder and its lease; holder None means it stepped down cleanly."""
    row = conn.execute(text("""
        WITH old AS (SELECT holder, lease_seconds FROM scheduler_leader WHERE name = :n)
        INSERT INTO scheduler_leader (name, holder, since, lease_seconds)
        VALUES (:n, :me, now(), :lease)
        ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, since = EXCLUDED.since,
                                         lease_seconds = EXCLUDED.lease_seconds
        RETURNING (SELECT holder FROM old), (SELECT lease_seconds FROM old)
    """), {"n": LEADER_ROW, "me": me, "lease": lease_seconds}).one()
    return row[0], row[1]


def stepped_down(conn: Connection, me: str) -> None:
    """Mark that ``me`` no longer runs jobs (a successor need not wait out its lease)."""
    conn.execute(text("UPDATE scheduler_leader SET holder = NULL, since = now()"
                      " WHERE name = :n AND holder = :me"), {"n": LEADER_ROW, "me": me})


def leader(conn: Connection) -> str | None:
    return conn.execute(text("SELECT holder FROM scheduler_leader WHERE name = :n"),
                        {"n": LEADER_ROW}).scalar()


# --- job runs ------------------------------------------------------------------------------
def claim(session: Session, job: str, period_key: str, runner: str) -> bool:
    """Claim (job, period_key) inside the caller's transaction; False if a run has it already.
    A concurrent claimer waits for this transaction: it sees the claim after a commit, and
    claims itself after a rollback."""
    row = session.execute(text(
        "INSERT INTO job_runs (job, period_key, status, runner) VALUES (:j, :p, 'running', :r)"
        " ON CONFLICT (job, period_key) DO NOTHING RETURNING id"),
        {"j": job, "p": period_key, "r": runner}).first()
    return row is not None


def claim_with_lease(conn: Connection, job: str, period_key: str, runner: str,
                     lease_seconds: float) -> bool:
    """Claim (job, period_key) for a run that spans several transactions (commit it at once).
    A failed run, or a running one older than ``lease_seconds`` (its process died), is claimed
    again; a done one never."""
    row = conn.execute(text("""
        INSERT INTO job_runs (job, period_key, status, runner) VALUES (:j, :p, 'running', :r)
        ON CONFLICT (job, period_key) DO UPDATE
            SET status = 'running', runner = EXCLUDED.runner, attempts = job_runs.attempts + 1,
                started_at = clock_timestamp(), finished_at = NULL, result = NULL
            WHERE job_runs.status = 'failed'
               OR (job_runs.status = 'running'
                   AND job_runs.started_at < clock_timestamp() - make_interval(secs => :lease))
        RETURNING id
    """), {"j": job, "p": period_key, "r": runner, "lease": float(lease_seconds)}).first()
    return row is not None


def finish(conn: Connection | Session, job: str, period_key: str, result: Any,
           status: str = "done") -> None:
    conn.execute(text(
        "UPDATE job_runs SET status = :s, finished_at = clock_timestamp(),"
        " result = CAST(:res AS jsonb) WHERE job = :j AND period_key = :p"),
        {"s": status, "j": job, "p": period_key,
         "res": json.dumps(result, default=str, allow_nan=False)})


def runs(conn: Connection | Session, job: str, period_key: str | None = None
         ) -> list[dict[str, Any]]:
    """Recorded runs of ``job`` (optionally of one period), oldest first."""
    where = "job = :j" + (" AND period_key = :p" if period_key is not None else "")
    rows = conn.execute(text(
        f"SELECT job, period_key, status, runner, attempts, started_at, finished_at, result"
        f" FROM job_runs WHERE {where} ORDER BY id"), {"j": job, "p": period_key}).mappings()
    return [dict(r) for r in rows]
