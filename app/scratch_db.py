"""A throw-away database for tests and benchmarks: created fresh, dropped on exit."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.embedded_pg import EmbeddedPostgres, to_sqlalchemy_url


@contextmanager
def scratch_database(server_url: str | None, prefix: str = "zcpark_scratch") -> Iterator[str]:
    """Yield the SQLAlchemy URL of a new, uniquely named database.

    On ``server_url``'s server when given (any database of it serves to connect); otherwise on an
    embedded server started in a temporary folder. On exit the database is dropped (``WITH
    (FORCE)``, so open connections do not block it) and an embedded server is stopped.
    """
    tmp: tempfile.TemporaryDirectory[str] | None = None
    server: EmbeddedPostgres | None = None
    if server_url:
        admin_url = to_sqlalchemy_url(server_url)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="zcpark-pg-")
        server = EmbeddedPostgres(Path(tmp.name))
        admin_url = server.start()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    # pre-ping: the admin connection idles for the whole test session and may have been
    # closed by the server meanwhile; the drop at the end must not depend on it.
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
        if server is not None:
            server.stop()
        if tmp is not None:
            tmp.cleanup()
