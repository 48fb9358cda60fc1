"""A 2xx is sent only after the transaction committed; a failed commit is an error answer; a
database that cannot be reached answers 503 with Retry-After. Through a real uvicorn server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text

from tests.conftest import auth, unique
from tests.live_server import live_server


@pytest.fixture(scope="module")
def base_url(app: FastAPI) -> Iterator[str]:
    with live_server(app) as url:
        yield url


def _dsn(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _enterprise(code: str) -> dict[str, Any]:
    return {"code": code, "name": "读写一致", "zone": "A区", "industry": "test"}


def test_read_your_writes_200_times(base_url: str, engine: Engine, operator_key: str) -> None:
    """POST answered 201 → the row is visible at once to a fresh connection, every time."""
    missing_in_db = missing_via_api = 0
    with httpx.Client(base_url=base_url, headers=auth(operator_key), timeout=30) as writer, \
            psycopg.connect(_dsn(engine), autocommit=True) as db:
        for _ in range(200):
            code = unique("RYW")
            r = writer.post("/v1/enterprises", json=_enterprise(code))
            assert r.status_code == 201, r.text
            found = db.execute("SELECT 1 FROM enterprises WHERE code = %s", (code,)).fetchone()
            missing_in_db += found is None
            with httpx.Client(base_url=base_url, headers=auth(operator_key)) as reader:
                missing_via_api += reader.get(f"/v1/enterprises/{code}").status_code != 200
    assert (missing_in_db, missing_via_api) == (0, 0)


@pytest.fixture()
def failing_commit(engine: Engine) -> Iterator[Callable[[str], str]]:
    """A deferred constraint trigger that fails at COMMIT for enterprise codes with a prefix,
    raising the given SQLSTATE (e.g. 40001 serialization failure, 23514 check violation)."""
    names: list[str] = []

    def _install(sqlstate: str) -> str:
        prefix = unique("FAILC").replace("-", "")
        fn, trg = f"zz_fail_{prefix}".lower(), f"zz_fail_trg_{prefix}".lower()
        with engine.begin() as conn:
            conn.execute(text(f"""
                CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.code LIKE '{prefix}%' THEN
                    RAISE EXCEPTION 'induced commit failure' USING ERRCODE = '{sqlstate}';
                  END IF;
                  RETURN NULL;
                END $$;
                CREATE CONSTRAINT TRIGGER {trg} AFTER INSERT ON enterprises
                  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {fn}();"""))
        names.append((fn, trg))  # type: ignore[arg-type]
        return prefix

    yield _install
    with engine.begin() as conn:
        for fn, trg in names:  # type: ignore[misc]
            conn.execute(text(f"DROP TRIGGER IF EXISTS {trg} ON enterprises"))
            conn.execute(text(f"DROP FUNCTION IF EXISTS {fn}()"))


@pytest.mark.parametrize(("sqlstate", "status"), [("40001", 503), ("23514", 500)])
def test_failed_commit_is_not_a_success(base_url: str, engine: Engine, operator_key: str,
                                        failing_commit: Callable[[str], str], sqlstate: str,
                                        status: int) -> None:
    """The write fails only at COMMIT (after the route returned): the client must not see 201."""
    code = failing_commit(sqlstate) + "-X"
    with httpx.Client(base_url=base_url, headers=auth(operator_key)) as client:
        r = client.post("/v1/enterprises", json=_enterprise(code))
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        if status == 503:
            assert int(r.headers["retry-after"]) >= 1
        assert client.get(f"/v1/enterprises/{code}").status_code == 404
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM enterprises WHERE code = :c"),
                            {"c": code}).scalar() == 0


def test_database_outage_answers_503_with_retry_after(
    make_app: Callable[..., FastAPI], engine: Engine, operator_key: str,
    make_enterprise: Callable[..., dict[str, Any]],
) -> None:
    """While the database refuses connections every data route answers 503 problem+json with
    Retry-After (not 500); afterwards the service recovers by itself."""
    ent = make_enterprise()
    app = make_app()
    dbname = engine.url.database
    with live_server(app) as url, httpx.Client(base_url=url, headers=auth(operator_key),
                                               timeout=30) as client:
        assert client.get("/v1/enterprises").status_code == 200
        admin_engine = create_engine(engine.url.set(database="postgres"),
                                     isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as admin:
            admin.execute(text(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false'))
            admin.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               " WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": dbname})
            try:
                answers = [
                    client.get("/v1/enterprises"),
                    client.get(f"/v1/enterprises/{ent['code']}"),
                    client.post("/v1/enterprises", json=_enterprise(unique("OUT"))),
                    client.post("/v1/readings", content=b"meter,ts,value\n",
                                headers={"content-type": "text/csv"}),
                    client.get("/health"),
                ]
            finally:
                admin.execute(text(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true'))
        admin_engine.dispose()
        for r in answers:
            assert r.status_code == 503, (r.request.url, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert int(r.headers["retry-after"]) >= 1
        assert client.get(f"/v1/enterprises/{ent['code']}").status_code == 200
