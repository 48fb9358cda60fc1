"""CLI key creation and the storage layout (partitioned or hypertable)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import cli
from tests.conftest import auth


def test_keys_create_prints_a_working_key_once(client, database_url, make_enterprise, monkeypatch):
    from app.config import get_settings

    ent = make_enterprise()
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["keys", "create", "--role", "enterprise",
                                          "--enterprise", ent["code"]])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    listed = client.get("/v1/enterprises", headers=auth(key)).json()
    assert [e["code"] for e in listed] == [ent["code"]]


def test_api_keys_are_stored_hashed(engine, make_key):
    key = make_key("planner")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash FROM api_keys")).scalars().all()
    assert key not in stored and all(len(h) == 64 for h in stored)


def test_plain_path_readings_are_range_partitioned_monthly(engine, timescale):
    if timescale:
        pytest.skip("TimescaleDB present: readings is a hypertable")
    with engine.begin() as conn:
        kind = conn.execute(text(
            "SELECT relkind FROM pg_class WHERE relname = 'readings'")).scalar()
        assert kind == "p"
        conn.execute(text("SELECT zcpark_ensure_reading_partitions("
                          "'2040-01-15T00:00Z', '2040-02-15T00:00Z')"))
        parts = conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'readings'::regclass")).scalars().all()
    assert {"readings_2040_01", "readings_2040_02"} <= set(parts)


@pytest.mark.timescale
def test_timescale_path_has_hypertable_and_continuous_aggregates(engine, timescale):
    if not timescale:
        pytest.skip("TimescaleDB layout not in use: the timescaledb extension is not available "
                    "(not installed or not in shared_preload_libraries) or ZCPARK_TIMESCALE=off")
    with engine.connect() as conn:
        hyper = conn.execute(text("SELECT count(*) FROM timescaledb_information.hypertables"
                                  " WHERE hypertable_name = 'readings'")).scalar()
        views = conn.execute(text("SELECT view_name FROM timescaledb_information"
                                  ".continuous_aggregates")).scalars().all()
        license_ = conn.execute(text(
            "SELECT current_setting('timescaledb.license', true)")).scalar()
        compressed = conn.execute(text(
            "SELECT compression_enabled FROM timescaledb_information.hypertables"
            " WHERE hypertable_name = 'readings'")).scalar()
    assert hyper == 1
    assert {"readings_hourly", "readings_daily"} <= set(views)
    # Compression is a community-licence feature: on exactly when the build has it.
    assert compressed is (license_ == "timescale")


@pytest.mark.timescale
def test_timescale_background_refresh_makes_day_totals_readable(
    make_app, timescale, make_key, make_enterprise, make_meter
):
    if not timescale:
        pytest.skip("TimescaleDB layout not in use (extension unavailable or ZCPARK_TIMESCALE=off)")
    from fastapi.testclient import TestClient

    from tests.foundation.helpers import csv_rows, post_csv, series

    m = make_meter(make_enterprise()["code"])["code"]
    key = make_key("operator")
    app = make_app(aggregate_refresh="background")
    with TestClient(app) as c:
        rows = [(m, "2013-04-01T10:00:00+08:00", 2.0), (m, "2013-04-01T10:15:00+08:00", 3.0)]
        r = post_csv(c, key, csv_rows(rows))
        assert r.status_code == 200 and r.json()["aggregates"] == "refreshing"
        app.state.ingest_context.refresher.wait()
        day = series(c, key, m, "2013-04-01T00:00:00+08:00", "2013-04-02T00:00:00+08:00",
                     "day").json()["points"]
    assert [(p["start"], p["value"]) for p in day] == [("2013-04-01T00:00:00+08:00", 2.0 + 3.0)]
