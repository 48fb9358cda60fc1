"""`zcpark backup FILE` and `zcpark restore FILE`: a restored copy holds every reading (meter,
start, value, quality) and every closed month with the same frozen ledgers and input hashes; the
restore never overwrites a database that holds data unless told to (--force), or goes into a new
one (--into). Run as an operator would: the command line in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import migrate
from app.auth import create_api_key
from app.backup import BackupError, pick_tool
from app.config import Settings
from app.db import make_engine, readings_on_timescale
from app.main import create_app
from app.scratch_db import scratch_database
from tests.carbon_api.carbon_api_helpers import ok, record, upload_readings
from tests.conftest import auth

ROOT = Path(__file__).resolve().parents[2]
CLOSED = ("2026-01", "2026-02")


def zcpark(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line in a new process against ``database_url``."""
    env = {**os.environ, "DATABASE_URL": database_url,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@dataclass
class Source:
    url: str
    engine: Engine
    client: TestClient
    operator: str
    enterprises: list[str]


def _app(url: str, engine: Engine) -> Any:
    settings = Settings(database_url=url, scheduler_enabled=False, aggregate_refresh="sync")
    return create_app(settings, engine=engine)


def _build_park(client: TestClient, operator: str, engine: Engine) -> list[str]:
    """Three enterprises with meters of several carriers, revisions, flags and activity; two
    closed months and one open."""
    codes = []
    for i, zone in enumerate(("A区", "B区", "综合保税区")):
        code = f"ENT-BK-{i}"
        r = client.post("/v1/enterprises", json={"code": code, "name": f"备份企业{i}",
                                                  "zone": zone, "industry": "test"},
                        headers=auth(operator))
        assert r.status_code == 201, r.text
        codes.append(code)
        for carrier, extra in (("electricity_import", {"interval_minutes": 60}),
                               ("natural_gas", {"interval_minutes": 1440}),
                               ("electricity_import", {"interval_minutes": 60,
                                                       "register": "cumulative"})):
            mcode = f"M-BK-{i}-{carrier}-{extra.get('register', 'interval')}"
            r = client.post("/v1/meters", json={"code": mcode, "enterprise": code,
                                                "carrier": carrier, **extra},
                            headers=auth(operator))
            assert r.status_code == 201, r.text
        with Session(engine) as session, session.begin():
            ent_id = session.execute(text("SELECT id FROM enterprises WHERE code = :c"),
                                     {"c": code}).scalar_one()
            key = create_api_key(session, "enterprise", ent_id, label="backup test")
        rows: list[tuple[str, str, float]] = []
        register = 1000.0 * (i + 1)
        for month in (1, 2, 3):
            for day in (3, 17):
                for hour in range(0, 24, 3):
                    ts = f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00+08:00"
                    rows.append((f"M-BK-{i}-electricity_import-interval", ts,
                                 100.0 + 7 * i + hour + day / 10))
                    register += 12.5 + i
                    rows.append((f"M-BK-{i}-electricity_import-cumulative", ts, register))
                rows.append((f"M-BK-{i}-natural_gas-interval",
                             f"2026-{month:02d}-{day:02d}T00:00:00+08:00", 55.5 * (i + 1)))
        upload_readings(client, key, rows)
        # A revision (audit trail) and an estimated reading.
        text_csv = ("meter,ts,value,quality\n"
                    f"M-BK-{i}-electricity_import-interval,2026-01-03T00:00:00+08:00,"
                    f"{999.25 + i},estimated\n")
        r = client.post("/v1/readings", content=text_csv.encode(),
                        headers={**auth(key), "content-type": "text/csv"})
        assert r.status_code == 200 and r.json()["revised"] == 1, r.text
        for month in ("2026-01", "2026-02", "2026-03"):
            ok(record(client, key, [{"period": month, "quantity": "value_added_10k_yuan",
                                     "value": 40 + i}]))
    for month in CLOSED:
        r = client.post(f"/v1/carbon/periods/{month}/close", headers=auth(operator))
        assert r.status_code == 200, r.text
    return codes


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    """A service database of its own (the whole of it is backed up and compared)."""
    with scratch_database(os.environ.get("DATABASE_URL"), "zcpark_backup_src") as url:
        engine = make_engine(url)
        migrate.upgrade(engine, use_timescale=os.environ.get("ZCPARK_TIMESCALE", "auto"))
        with Session(engine) as session, session.begin():
            operator = create_api_key(session, "operator", None, label="backup test")
        with TestClient(_app(url, engine)) as client:
            codes = _build_park(client, operator, engine)
            yield Source(url, engine, client, operator, codes)
        engine.dispose()


@pytest.fixture(scope="module")
def archive(source: Source, tmp_path_factory: pytest.TempPathFactory) -> Path:
    file = tmp_path_factory.mktemp("backup") / "park.dump"
    done = zcpark(source.url, "backup", str(file))
    assert done.returncode == 0, done.stderr
    assert "using pg_dump /" in done.stderr  # which binary was used is said
    assert file.stat().st_size > 0 and not file.with_name("park.dump.partial").exists()
    return file


def readings(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT m.code, r.start_ts, r.value, r.quality, r.register_value "
            "FROM readings r JOIN meters m ON m.id = r.meter_id ORDER BY 1, 2"))]


def frozen(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT f.period, f.scope, f.code, f.input_hash, f.ledger::text, p.status "
            "FROM carbon_frozen_ledgers f JOIN carbon_periods p USING (period) "
            "ORDER BY 1, 2, 3"))]


def revisions(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT m.code, v.start_ts, v.old_value, v.new_value FROM reading_revisions v "
            "JOIN meters m ON m.id = v.meter_id ORDER BY 1, 2, v.id"))]


def _check_copy(source: Source, url: str) -> None:
    """The copy at ``url`` holds the same data, and the service works on it."""
    engine = make_engine(url)
    try:
        original = readings(source.engine)
        assert len(original) > 300  # 9 meters, 3 months
        assert readings(engine) == original
        assert revisions(engine) == revisions(source.engine) and len(revisions(engine)) == 3
        copied = frozen(engine)
        assert copied == frozen(source.engine)
        assert {f[0] for f in copied} == set(CLOSED) and {f[5] for f in copied} == {"closed"}

        migrate.upgrade(engine, use_timescale=os.environ.get("ZCPARK_TIMESCALE", "auto"))
        with TestClient(_app(url, engine)) as client:
            for month in CLOSED:
                before = ok(source.client.get(f"/v1/carbon/periods/{month}",
                                              headers=auth(source.operator)))
                after = ok(client.get(f"/v1/carbon/periods/{month}",
                                      headers=auth(source.operator)))  # keys are restored too
                assert after["status"] == "closed"
                assert after["verification"]["all_same"] is True
                assert after["verification"] == before["verification"]
                hashes = {x["code"]: x["frozen_input_hash"]
                          for x in after["verification"]["ledgers"]}
                assert set(source.enterprises) <= set(hashes)
                for code in source.enterprises:
                    r = ok(client.get("/v1/carbon/ledger", headers=auth(source.operator),
                                      params={"scope": "enterprise", "code": code,
                                              "period": month}))
                    assert r["status"] == "closed" and r["input_hash"] == hashes[code]
            # The copy takes new data (its sequences came along): a new upload inserts.
            csv = "meter,ts,value\nM-BK-0-electricity_import-interval,2026-04-01T00:00:00+08:00,5\n"
            r = client.post("/v1/readings", content=csv.encode(),
                            headers={**auth(source.operator), "content-type": "text/csv"})
            assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    finally:
        engine.dispose()


def test_restored_copy_has_every_reading_and_closed_month(source: Source, archive: Path):
    with scratch_database(os.environ.get("DATABASE_URL"), "zcpark_backup_dst") as target:
        done = zcpark(target, "restore", str(archive))
        assert done.returncode == 0, done.stderr
        assert "using pg_restore /" in done.stderr
        with source.engine.connect() as conn:
            timescale = readings_on_timescale(conn)
            version = conn.execute(text("SELECT extversion FROM pg_extension "
                                        "WHERE extname = 'timescaledb'")).scalar()
        # A TimescaleDB database is restored between pre_restore and post_restore, with the
        # extension at the version of the backup.
        assert ("timescaledb_post_restore() done" in done.stderr) == timescale, done.stderr
        if timescale:
            assert f"TimescaleDB {version}: timescaledb_pre_restore() done" in done.stderr
        _check_copy(source, target)


def test_restore_refuses_a_database_with_data_unless_forced(source: Source, archive: Path):
    before = readings(source.engine)
    refused = zcpark(source.url, "restore", str(archive))
    assert refused.returncode == 1
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    assert readings(source.engine) == before  # nothing touched

    # --into NAME: a new database on the same server, the configured one untouched.
    name = f"zcpark_backup_into_{uuid.uuid4().hex[:10]}"
    into_url = make_url(source.url).set(database=name).render_as_string(hide_password=False)
    try:
        done = zcpark(source.url, "restore", str(archive), "--into", name)
        assert done.returncode == 0, done.stderr
        _check_copy(source, into_url)  # _check_copy adds a reading to the copy
        again = zcpark(into_url, "restore", str(archive))
        assert again.returncode == 1 and "not empty" in again.stderr
        # --force: dropped and re-created, so the extra reading is gone.
        forced = zcpark(into_url, "restore", str(archive), "--force")
        assert forced.returncode == 0, forced.stderr
        assert readings(make_engine(into_url)) == before
    finally:
        admin = create_engine(source.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_file_that_is_no_backup_is_refused(source: Source, tmp_path: Path):
    bogus = tmp_path / "not-a-backup.dump"
    bogus.write_text("meter,ts,value\n")
    with scratch_database(os.environ.get("DATABASE_URL"), "zcpark_backup_dst") as target:
        done = zcpark(target, "restore", str(bogus))
        assert done.returncode == 1 and "not a backup" in done.stderr


def test_no_fitting_pg_dump_is_a_clear_error():
    with pytest.raises(BackupError, match="no pg_dump of PostgreSQL 99 or newer"):
        pick_tool("pg_dump", min_major=99, prefer_major=99)
