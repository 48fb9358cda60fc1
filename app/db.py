"""Engine and session factory (psycopg 3), and detection of the TimescaleDB extension."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.embedded_pg import to_sqlalchemy_url

POOL_SIZE = 10
"""Connections a process keeps open. Requests run in a thread pool, so up to this many run their
queries at once without opening a connection (an overflow connection is closed on return, and
opening one costs a server process each time)."""
MAX_OVERFLOW = 10
PING_AFTER_IDLE_S = 1.0
"""A pooled connection idle for longer is pinged before use (the server may have dropped it);
one handed back moments ago is not, which spares a round trip per request under load."""


def make_engine(url: str) -> Engine:
    """A pooled engine for ``url`` (any postgres URL form; the psycopg 3 driver is forced)."""
    engine = create_engine(to_sqlalchemy_url(url), pool_size=POOL_SIZE,
                           max_overflow=MAX_OVERFLOW)
    event.listen(engine, "checkin", _checked_in)
    dialect = engine.dialect

    def ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        """Pre-ping for connections idle longer than :data:`PING_AFTER_IDLE_S`: a dead one is
        replaced by the pool (DisconnectionError) before the request uses it."""
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any driver error: the connection is unusable
            raise DisconnectionError(str(exc)) from exc

    event.listen(engine, "checkout", ping_if_idle)
    return engine


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (routers return them)."""
    return sessionmaker(engine, expire_on_commit=False)


def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session; commit on success, roll back on error."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def timescaledb_available(conn: Connection) -> bool:
    """True when ``CREATE EXTENSION timescaledb`` could succeed on this server."""
    row = conn.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
             " AND current_setting('shared_preload_libraries') LIKE '%timescaledb%'")
    ).first()
    return row is not None


def has_timescaledb(conn: Connection) -> bool:
    """True when the timescaledb extension is installed in the current database."""
    row = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first()
    return row is not None


def timescale_license(conn: Connection) -> str | None:
    """'timescale' (community, has compression and continuous aggregates), 'apache', or None."""
    return conn.execute(text("SELECT current_setting('timescaledb.license', true)")).scalar()


def readings_on_timescale(conn: Connection) -> bool:
    """True when the migration built the Timescale layout (hypertable + continuous aggregates)."""
    return conn.execute(text("SELECT to_regclass('readings_daily') IS NOT NULL")).scalar() is True


def check_violation_name(exc: IntegrityError) -> str | None:
    """The name of the CHECK constraint that refused a row (SQLSTATE 23514), else None (a
    duplicate key or another integrity error)."""
    orig = exc.orig
    name = getattr(getattr(orig, "diag", None), "constraint_name", None)
    if getattr(orig, "sqlstate", None) != "23514" or not name:
        return None
    return str(name)
