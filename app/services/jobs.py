"""Scheduled jobs run once per period: a unique (job, period key) row in ``job_runs``.

A job whose work is one transaction claims its period in that transaction (:func:`once`): the
work and the claim commit together or not at all, and a second run for the same period, in
this process or another, finds the claim and does nothing. A job spanning several transactions
claims first with a lease and records the outcome after (:func:`once_with_lease`).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.repositories import jobs as repo

T = TypeVar("T")
log = logging.getLogger(__name__)


def runner() -> str:
    """This process, as recorded on the runs it does (host:pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def once(session: Session, job: str, period_key: str, work: Callable[[], T]) -> T | None:
    """Run ``work`` in ``session``'s transaction unless (job, period_key) was run already
    (then None). Call inside the transaction that does the work."""
    if not repo.claim(session, job, period_key, runner()):
        log.info("job %s for %s ran already: skipped", job, period_key)
        return None
    result = work()
    repo.finish(session, job, period_key, result)
    return result


def once_with_lease(engine: Engine, job: str, period_key: str, work: Callable[[], T],
                    lease_seconds: float) -> T | None:
    """Claim (job, period_key) in its own transaction, run ``work`` (which commits itself), then
    record done or failed. None when the period is done already or claimed by a live run."""
    with engine.begin() as conn:
        if not repo.claim_with_lease(conn, job, period_key, runner(), lease_seconds):
            log.info("job %s for %s ran already (or is running): skipped", job, period_key)
            return None
    try:
        result = work()
    except BaseException as exc:
        try:  # a failed run may be claimed again; if even this fails, its lease runs out
            with engine.begin() as conn:
                repo.finish(conn, job, period_key, {"error": f"{type(exc).__name__}: {exc}"},
                            status="failed")
        except Exception:
            log.exception("job %s for %s: could not record its failure", job, period_key)
        raise
    with engine.begin() as conn:
        repo.finish(conn, job, period_key, result)
    return result
