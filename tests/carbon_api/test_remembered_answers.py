"""Ledgers, park totals and the overview's rollup part are remembered per data version: asked
again they are served without reading the rollups, and any committed change they depend on
(readings, late readings once the rollup is refreshed, activity, a meter moved to another
enterprise, a change made through another worker) is in the very next answer."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.carbon_api.carbon_api_helpers import ledger, ok, record, upload_readings
from tests.conftest import auth
from tests.security.test_security_keys import counted_statements

YEAR = "2026"
ROLLUPS = ("readings_daily", "meter_days")


def _import_kwh(client: TestClient, key: str, code: str) -> float:
    led = ok(ledger(client, key, YEAR, code))
    return led["inputs"]["energy"].get("electricity_import_kwh", 0.0)


def _park_kwh(client: TestClient, key: str, carrier: str = "electricity_import") -> float:
    r = ok(client.get("/v1/park/energy", headers=auth(key), params={
        "start": "2026-01-01T00:00:00+08:00", "end": "2027-01-01T00:00:00+08:00",
        "by": "carrier"}))
    return sum(t["value"] for t in r["totals"] if t["carrier"] == carrier)


def _overview_import_kwh(client: TestClient, key: str, day: str) -> float:
    r = ok(client.get("/v1/overview", headers=auth(key), params={"period": "day", "date": day}))
    return r["tiles"]["today"]["grid_import_kwh"]


def _reads_rollups(statements: list[str]) -> bool:
    return any(any(name in s for name in ROLLUPS) for s in statements)


def test_a_repeated_ledger_is_not_recomputed_and_an_upload_is_in_the_next(
        client, engine, make_enterprise, make_meter, make_key):
    ent = make_enterprise()
    meter = make_meter(ent["code"], carrier="electricity_import")["code"]
    key = make_key("enterprise", ent["code"])
    upload_readings(client, key, [(meter, "2026-05-03T10:00:00+08:00", 100.0)])
    assert _import_kwh(client, key, ent["code"]) == 100.0
    with counted_statements(engine) as again:
        assert _import_kwh(client, key, ent["code"]) == 100.0
    assert not _reads_rollups(again)
    assert _overview_import_kwh(client, key, "2026-05-03") == 100.0
    with counted_statements(engine) as again:
        assert _overview_import_kwh(client, key, "2026-05-03") == 100.0
    assert not _reads_rollups(again)
    upload_readings(client, key, [(meter, "2026-05-03T10:15:00+08:00", 25.0)])
    assert _import_kwh(client, key, ent["code"]) == 125.0
    assert _overview_import_kwh(client, key, "2026-05-03") == 125.0
    # a revision of a stored value too
    upload_readings(client, key, [(meter, "2026-05-03T10:15:00+08:00", 30.0)])
    assert _import_kwh(client, key, ent["code"]) == 130.0
    assert _overview_import_kwh(client, key, "2026-05-03") == 130.0


def test_activity_and_a_meter_moved_elsewhere_are_in_the_next_ledger(
        client, engine, make_enterprise, make_meter, make_key, operator_key):
    ent, other = make_enterprise(), make_enterprise()
    meter = make_meter(ent["code"], carrier="electricity_import")["code"]
    key = make_key("enterprise", ent["code"])
    upload_readings(client, key, [(meter, "2026-07-01T10:00:00+08:00", 40.0)])
    first = ok(ledger(client, key, YEAR, ent["code"]))
    assert first["inputs"]["activity"]["value_added_10k_yuan"] is None
    ok(record(client, key, [{"enterprise": ent["code"], "period": YEAR,
                             "quantity": "value_added_10k_yuan", "value": 800}]))
    assert ok(ledger(client, key, YEAR, ent["code"]))["inputs"]["activity"][
        "value_added_10k_yuan"] == 800
    with engine.begin() as conn:  # what an operator's re-registration writes
        conn.execute(text("UPDATE meters SET enterprise_id = (SELECT id FROM enterprises"
                          " WHERE code = :o) WHERE code = :m"),
                     {"o": other["code"], "m": meter})
    assert _import_kwh(client, operator_key, ent["code"]) == 0.0
    assert _import_kwh(client, operator_key, other["code"]) == 40.0


def test_a_change_through_another_worker_is_in_the_next_answer(
        make_app, make_enterprise, make_meter, make_key, operator_key):
    ent = make_enterprise()
    meter = make_meter(ent["code"], carrier="electricity_import")["code"]
    key = make_key("enterprise", ent["code"])
    with TestClient(make_app()) as a, TestClient(make_app()) as b:
        upload_readings(a, key, [(meter, "2026-08-01T10:00:00+08:00", 10.0)])
        before_b = _park_kwh(b, operator_key)
        assert _import_kwh(b, key, ent["code"]) == 10.0
        upload_readings(a, key, [(meter, "2026-08-01T10:15:00+08:00", 5.0)])
        assert _import_kwh(b, key, ent["code"]) == 15.0
        assert _park_kwh(b, operator_key) == before_b + 5.0


def test_late_readings_are_in_the_answer_once_the_rollup_is_refreshed(
        make_app, timescale, make_enterprise, make_meter, make_key, operator_key):
    """TimescaleDB refreshes the day rollup after the upload commits (background): an answer
    computed in between must not be served after the refresh."""
    ent = make_enterprise()
    meter = make_meter(ent["code"], carrier="electricity_import")["code"]
    key = make_key("enterprise", ent["code"])
    app = make_app(aggregate_refresh="background")
    with TestClient(app) as client:
        upload_readings(client, key, [(meter, "2026-09-01T10:00:00+08:00", 7.0)])
        refresher = app.state.ingest_context.refresher
        if refresher is not None:
            refresher.wait()
        assert _import_kwh(client, key, ent["code"]) == 7.0
        park = _park_kwh(client, operator_key)
        # months earlier than the rollup's newest materialised day: a late upload
        upload_readings(client, key, [(meter, "2026-02-01T10:00:00+08:00", 3.0)])
        _import_kwh(client, key, ent["code"])  # may be asked before the refresh has run
        _park_kwh(client, operator_key)
        if refresher is not None:
            refresher.wait()
        assert _import_kwh(client, key, ent["code"]) == 10.0
        assert _park_kwh(client, operator_key) == park + 3.0


def test_the_hourly_trim_keeps_the_log_short_and_never_revives_an_old_version(engine):
    from app.repositories.data_version import data_version
    from app.scheduler import trim_data_changes_job

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO data_changes (source) SELECT 'test'"
                          " FROM generate_series(1, 30)"))
    with engine.connect() as conn:
        before = data_version(conn, timescale=False)
    trim_data_changes_job(engine, keep=5)
    assert trim_data_changes_job(engine, keep=5) >= 1  # a second run is harmless
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM data_changes")).scalar_one() <= 6
        after = data_version(conn, timescale=False)
    assert after != before
