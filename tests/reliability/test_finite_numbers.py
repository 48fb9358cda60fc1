"""No non-finite number reaches a table, through any route: readings (before and after unit
conversion, day sums), meter settings, activity data, battery specs, capacity tests, dispatch and
scenario inputs. Each is refused with a 422 problem naming row and field, and nothing is stored;
the database's CHECK constraints are the last guard."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import CheckConstraint, Engine, text
from sqlalchemy.exc import IntegrityError

from app.auth import SessionDep
from tests.conftest import auth, unique

# A month no other test writes to, so the park-wide answers below see only this file's data.
DAY = "2023-05-10"
MONTH = "2023-05"


def post_csv(client: TestClient, key: str, text_: str) -> Any:
    return client.post("/v1/readings", content=text_.encode(),
                       headers={**auth(key), "content-type": "text/csv"})


def post_json(client: TestClient, path: str, key: str, raw: str) -> Any:
    """A raw JSON body: ``Infinity``, ``NaN`` and ``1e309`` are what a client may really send."""
    return client.post(path, content=raw.encode(),
                       headers={**auth(key), "content-type": "application/json"})


def problem(r: Any) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def stored_readings(engine: Engine, meter: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM readings r JOIN meters m ON m.id = r.meter_id"
            " WHERE m.code = :c"), {"c": meter}).scalar_one()


def meter_days(engine: Engine, meter: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM meter_days d JOIN meters m ON m.id = d.meter_id"
            " WHERE m.code = :c"), {"c": meter}).scalar_one()


@pytest.fixture()
def meter(make_enterprise: Callable[..., dict[str, Any]],
          make_meter: Callable[..., dict[str, Any]]) -> str:
    ent = make_enterprise()
    return make_meter(ent["code"], "electricity_import", interval_minutes=60)["code"]


def assert_park_answers(client: TestClient, key: str) -> None:
    """The park's totals and ledger for the month still answer with finite figures."""
    r = client.get("/v1/park/energy", headers=auth(key),
                   params={"start": f"{MONTH}-01T00:00:00+08:00",
                           "end": "2023-06-01T00:00:00+08:00"})
    assert r.status_code == 200, r.text
    for row in r.json()["totals"]:
        assert row["value"] is not None, row
    r = client.get("/v1/carbon/ledger", headers=auth(key),
                   params={"scope": "park", "period": MONTH})
    assert r.status_code == 200, r.text


def test_a_value_that_overflows_in_unit_conversion_is_rejected_naming_row_and_field(
        client: TestClient, operator_key: str, engine: Engine, meter: str) -> None:
    # 1e308 is finite, 1e308 MWh in kWh is not: the check must follow the conversion
    body = (f"meter,ts,value,unit\n{meter},{DAY}T00:00:00+08:00,5,kWh\n"
            f"{meter},{DAY}T01:00:00+08:00,1e308,MWh\n")
    p = problem(post_csv(client, operator_key, body))
    assert [(e["row"], e["field"]) for e in p["errors"]] == [(2, "value")]
    assert stored_readings(engine, meter) == 0 and meter_days(engine, meter) == 0
    # the same through JSON
    r = post_json(client, "/v1/readings", operator_key,
                  f'[{{"meter": "{meter}", "ts": "{DAY}T02:00:00+08:00", "value": 1e308,'
                  f' "unit": "MWh"}}]')
    assert [(e["row"], e["field"]) for e in problem(r)["errors"]] == [(1, "value")]
    assert stored_readings(engine, meter) == 0
    assert_park_answers(client, operator_key)


def test_values_whose_day_sum_would_overflow_are_rejected_not_stored(
        client: TestClient, operator_key: str, engine: Engine, meter: str) -> None:
    body = (f"meter,ts,value,unit\n{meter},{DAY}T03:00:00+08:00,1e308,kWh\n"
            f"{meter},{DAY}T04:00:00+08:00,1e308,kWh\n")
    p = problem(post_csv(client, operator_key, body))
    assert {(e["row"], e["field"]) for e in p["errors"]} == {(1, "value"), (2, "value")}
    assert stored_readings(engine, meter) == 0 and meter_days(engine, meter) == 0
    # one huge row per batch must not add up across batches either
    for hour in ("05", "06"):
        r = post_csv(client, operator_key,
                     f"meter,ts,value\n{meter},{DAY}T{hour}:00:00+08:00,1e308\n")
        assert [(e["row"], e["field"]) for e in problem(r)["errors"]] == [(1, "value")]
    assert stored_readings(engine, meter) == 0 and meter_days(engine, meter) == 0
    # an ordinary value on the same day is stored and the park's figures stay finite
    r = post_csv(client, operator_key, f"meter,ts,value\n{meter},{DAY}T07:00:00+08:00,12.5\n")
    assert r.status_code == 200, r.text
    assert_park_answers(client, operator_key)
    # and the park's books for the month can be closed (then reopened for the other tests)
    r = client.post(f"/v1/carbon/periods/{MONTH}/close", headers=auth(operator_key))
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    r = client.post(f"/v1/carbon/periods/{MONTH}/reopen", headers=auth(operator_key),
                    json={"reason": "reopened by the test"})
    assert r.status_code == 200, r.text


def test_a_cumulative_register_cannot_roll_over_into_an_overflow(
        client: TestClient, operator_key: str, engine: Engine,
        make_enterprise: Callable[..., dict[str, Any]]) -> None:
    ent = make_enterprise()
    code = unique("M")
    r = client.post("/v1/meters", headers=auth(operator_key), json={
        "code": code, "enterprise": ent["code"], "carrier": "electricity_import",
        "register": "cumulative", "interval_minutes": 60, "rollover_at": 1e308})
    assert [e["field"] for e in problem(r)["errors"]] == ["rollover_at"]
    assert client.get(f"/v1/meters/{code}", headers=auth(operator_key)).status_code == 404


def test_meter_settings_must_be_finite(client: TestClient, operator_key: str,
                                       make_enterprise: Callable[..., dict[str, Any]]) -> None:
    ent = make_enterprise()
    for field, literal in itertools.product(
            ("max_per_hour", "rollover_at", "density_kg_per_l", "normal_volume_factor"),
            ("Infinity", "1e309", "NaN", "-Infinity")):
        code = unique("M")
        r = post_json(client, "/v1/meters", operator_key,
                      f'{{"code": "{code}", "enterprise": "{ent["code"]}",'
                      f' "carrier": "electricity_import", "{field}": {literal}}}')
        assert [e["field"] for e in problem(r)["errors"]] == [field], (literal, r.text)
        assert client.get(f"/v1/meters/{code}", headers=auth(operator_key)).status_code == 404


def test_activity_values_must_be_finite_and_bounded(
        client: TestClient, operator_key: str,
        make_enterprise: Callable[..., dict[str, Any]]) -> None:
    ent = make_enterprise()["code"]
    for value in ("1e308", "Infinity", "1e309"):
        r = post_json(client, "/v1/carbon/activity", operator_key,
                      f'[{{"enterprise": "{ent}", "period": "{MONTH}",'
                      f' "quantity": "process_co2_t", "value": 1}},'
                      f' {{"enterprise": "{ent}", "period": "{MONTH}",'
                      f' "quantity": "value_added_10k_yuan", "value": {value}}}]')
        assert [(e["row"], e["field"]) for e in problem(r)["errors"]] == [(2, "value")], value
    r = client.post("/v1/carbon/activity", headers={**auth(operator_key),
                                                    "content-type": "text/csv"},
                    content=(f"enterprise,period,quantity,value\n"
                             f"{ent},{MONTH},process_co2_t,1e308\n").encode())
    assert [(e["row"], e["field"]) for e in problem(r)["errors"]] == [(1, "value")]
    stored = client.get("/v1/carbon/activity", headers=auth(operator_key),
                        params={"enterprise": ent})
    assert stored.status_code == 200 and stored.json() == []
    assert_park_answers(client, operator_key)


def test_battery_specs_safety_windows_and_capacity_tests_must_be_finite(
        client: TestClient, operator_key: str) -> None:
    code = unique("BESS")
    base = f'"code": "{code}", "name": "储能", "zone": "B区"'
    r = post_json(client, "/v1/storage", operator_key,
                  f'{{{base}, "battery": {{"energy_mwh": Infinity}}}}')
    assert [e["field"] for e in problem(r)["errors"]] == ["battery.energy_mwh"]
    r = post_json(client, "/v1/storage", operator_key,
                  f'{{{base}, "battery": {{"power_charge_mw": 1e309}}}}')
    assert [e["field"] for e in problem(r)["errors"]] == ["battery.power_charge_mw"]
    r = post_json(client, "/v1/storage", operator_key,
                  f'{{{base}, "safety": {{"temperature_max_c": NaN}}}}')
    assert [e["field"] for e in problem(r)["errors"]] == ["safety.temperature_max_c"]
    assert client.get(f"/v1/storage/{code}", headers=auth(operator_key)).status_code == 404
    # a valid station, then non-finite numbers where it is used
    r = client.post("/v1/storage", headers=auth(operator_key),
                    json={"code": code, "name": "储能", "zone": "B区"})
    assert r.status_code == 201, r.text
    r = post_json(client, f"/v1/storage/{code}/capacity-tests", operator_key,
                  '{"tested_on": "2023-05-01", "measured_capacity_mwh": Infinity}')
    assert [e["field"] for e in problem(r)["errors"]] == ["measured_capacity_mwh"]
    r = post_json(client, f"/v1/storage/{code}/dispatch", operator_key,
                  '{"start": "2023-05-10T00:00:00+08:00", "load_mw": [10, 10, 10, 10],'
                  ' "price_yuan_per_mwh": [300, 300, 900, 900],'
                  ' "export_price_yuan_per_mwh": Infinity}')
    assert {e["field"] for e in problem(r)["errors"]} == {"export_price_yuan_per_mwh"}
    r = post_json(client, f"/v1/storage/{code}/dispatch", operator_key,
                  '{"start": "2023-05-10T00:00:00+08:00", "load_mw": [10, 1e309, 10, 10]}')
    assert [(e["row"], e["field"]) for e in problem(r)["errors"]] == [(2, "load_mw")]
    r = post_json(client, f"/v1/storage/{code}/dispatch", operator_key,
                  '{"start": "2023-05-10T00:00:00+08:00", "load_mw": [10, 10, 10, 10],'
                  ' "battery": {"degradation_cost_yuan_per_mwh": -Infinity}}')
    assert [e["field"] for e in problem(r)["errors"]] == ["battery.degradation_cost_yuan_per_mwh"]


def test_scenario_inputs_must_be_finite(client: TestClient, make_key: Callable[..., str]) -> None:
    planner = make_key("planner")
    scenario = ('{"name": "%s", "start_year": 2029, "end_year": 2029,'
                ' "load": {"kind": "synthetic", "segments": [{"zone": "A区",'
                ' "industry": "manufacturing_day", "base_energy_mwh": %s}]},'
                ' "storage": [{"power_mw": 10, "energy_mwh": 40, "in_service_year": 2029,'
                ' "parameters": {"aux_load_mw": %s}}],'
                ' "value_added": {"base_10k_yuan": 150000}}')
    r = post_json(client, "/v1/scenarios", planner, scenario % (unique("s"), "Infinity", "0"))
    assert [e["field"] for e in problem(r)["errors"]] == ["load.segments.0.base_energy_mwh"]
    r = post_json(client, "/v1/scenarios", planner, scenario % (unique("s"), "1000", "NaN"))
    assert [e["field"] for e in problem(r)["errors"]] == ["storage.0.parameters"]


def test_the_database_refuses_non_finite_numbers(engine: Engine, meter: str) -> None:
    """The last guard: CHECK constraints, whatever path a value takes to the table."""
    with engine.connect() as conn:
        meter_id = conn.execute(text("SELECT id FROM meters WHERE code = :c"),
                                {"c": meter}).scalar_one()
    statements = [
        "INSERT INTO readings (meter_id, start_ts, value, original_unit, batch_id)"
        f" VALUES (:m, '{DAY}T00:00:00+08:00', :v, 'kWh', 0)",
        "INSERT INTO readings (meter_id, start_ts, value, original_unit, register_value,"
        f" batch_id) VALUES (:m, '{DAY}T01:00:00+08:00', 1, 'kWh', :v, 0)",
        "INSERT INTO meter_days (meter_id, day, value, n, n_flagged)"
        f" VALUES (:m, '{DAY}', :v, 1, 0)",
        "INSERT INTO reading_revisions (meter_id, start_ts, old_value, new_value, old_quality,"
        f" new_quality, old_batch_id, batch_id) VALUES (:m, '{DAY}', 1, :v, 'ok', 'ok', 0, 0)",
        "UPDATE meters SET max_per_hour = :v WHERE id = :m",
        "UPDATE meters SET rollover_at = :v WHERE id = :m",
        "INSERT INTO carbon_activity (enterprise_id, period, period_start, period_end, months,"
        " quantity, value, batch_id) SELECT enterprise_id, '2023-05', '2023-05-01', '2023-06-01',"
        " 1, 'process_co2_t', :v, 0 FROM meters WHERE id = :m",
    ]
    for sql in statements:
        for value in (float("inf"), float("-inf"), float("nan")):
            if "carbon_activity" in sql and value == float("-inf"):
                continue  # refused already by value >= 0
            with engine.connect() as conn, pytest.raises(IntegrityError) as caught:
                conn.execute(text(sql), {"m": meter_id, "v": value})
            assert "finite" in str(caught.value), (sql, value, caught.value)
    assert stored_readings(engine, meter) == 0


def test_a_check_violation_at_commit_is_a_422_naming_the_field(
        make_app: Callable[..., FastAPI], operator_key: str, meter: str) -> None:
    """Should a non-finite number ever get past validation, the answer is a 422, not a 500."""
    app = make_app()

    @app.post("/test-only/raw-max-per-hour")
    def raw(session: SessionDep) -> dict[str, str]:
        session.execute(text("UPDATE meters SET max_per_hour = 'Infinity' WHERE code = :c"),
                        {"c": meter})
        session.flush()
        return {"status": "stored"}

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/test-only/raw-max-per-hour", headers=auth(operator_key))
        p = problem(r)
        assert [e["field"] for e in p["errors"]] == ["max_per_hour"]
        assert c.get(f"/v1/meters/{meter}", headers=auth(operator_key)).json()[
            "max_per_hour"] is None



def test_models_declare_the_finite_checks_the_database_has(engine: Engine) -> None:
    from app.models.base import Base

    declared = {(t.name, c.name) for t in Base.metadata.tables.values()
                for c in t.constraints if isinstance(c, CheckConstraint)
                and str(c.name).endswith("_finite")}
    with engine.connect() as conn:
        present = set(conn.execute(text(
            "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c"
            " JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace"
            " WHERE c.contype = 'c' AND c.conname LIKE '%\\_finite' AND n.nspname = 'public'"
            " AND NOT r.relispartition")).all())
    assert ("readings", "value_finite") in present and ("meters", "max_per_hour_finite") in present
    assert declared == present


@pytest.mark.parametrize("layout", ["auto", "off"])
def test_upgrading_a_database_holding_non_finite_numbers_quarantines_them(layout: str) -> None:
    """A database written before the guards: its non-finite (and overflowing) values are kept
    in quarantined_rows, removed from the books, and the guards are in place after."""
    from alembic import command

    from app import migrate
    from app.db import make_engine, readings_on_timescale
    from app.repositories.readings import refresh_aggregates
    from app.scratch_db import scratch_database

    with scratch_database(os.environ.get("DATABASE_URL"), "zcpark_finite") as url:
        eng = make_engine(url)
        try:
            cfg = migrate.alembic_config(eng, use_timescale=layout)
            with eng.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "0005_carbon_api")
            with eng.begin() as conn:
                timescale = readings_on_timescale(conn)
                conn.execute(text(
                    "INSERT INTO enterprises (code, name, zone) VALUES ('E', 'e', 'A区');"
                    "INSERT INTO meters (code, enterprise_id, carrier, unit, canonical_unit,"
                    " register, interval_minutes, max_per_hour, rollover_at)"
                    " VALUES ('M', 1, 'electricity_import', 'kWh', 'kWh', 'interval', 60,"
                    " 'Infinity', 1000);"
                    "SELECT zcpark_ensure_reading_partitions('2023-05-01', '2023-05-31')"))
                conn.execute(text(
                    "INSERT INTO readings (meter_id, start_ts, value, original_unit, batch_id)"
                    " VALUES (1, '2023-05-10T00:00+08', 5, 'kWh', 1),"
                    " (1, '2023-05-10T01:00+08', 'Infinity', 'kWh', 1),"
                    " (1, '2023-05-10T02:00+08', 1e308, 'kWh', 1),"
                    " (1, '2023-05-11T00:00+08', 7, 'kWh', 1);"
                    "INSERT INTO meter_days (meter_id, day, value, n, n_flagged)"
                    " VALUES (1, '2023-05-10', 'Infinity', 3, 0), (1, '2023-05-11', 7, 1, 0);"
                    "INSERT INTO reading_revisions (meter_id, start_ts, old_value, new_value,"
                    " old_quality, new_quality, old_batch_id, batch_id)"
                    " VALUES (1, '2023-05-10T01:00+08', 1, 'Infinity', 'ok', 'ok', 0, 1)"))
            if timescale:  # the aggregates materialise the bad values, as a live service does
                refresh_aggregates(eng, datetime(2023, 5, 9, tzinfo=UTC),
                                   datetime(2023, 5, 12, tzinfo=UTC))
            with eng.begin() as conn:
                if timescale and conn.execute(text(
                        "SELECT current_setting('timescaledb.license', true)")).scalar() \
                        == "timescale":
                    # the compression policy's background job may have been first
                    conn.execute(text("SELECT compress_chunk(c, if_not_compressed => true)"
                                      " FROM show_chunks('readings') c"))
            migrate.upgrade(eng, use_timescale=layout)
            with eng.connect() as conn:
                kept = conn.execute(text(
                    "SELECT start_ts AT TIME ZONE 'Asia/Shanghai', value FROM readings"
                    " ORDER BY start_ts")).all()
                assert [v for _, v in kept] == [5.0, 7.0]
                quarantined = dict(conn.execute(text(
                    "SELECT table_name, count(*) FROM quarantined_rows GROUP BY 1")).all())
                assert quarantined == {"readings": 2, "meter_days": 1, "reading_revisions": 1,
                                       "meters": 1}
                assert conn.execute(text("SELECT max_per_hour, rollover_at FROM meters")).one() \
                    == (None, 1000.0)
                days = conn.execute(text(
                    "SELECT (bucket AT TIME ZONE 'Asia/Shanghai')::date::text, value, n"
                    " FROM readings_daily ORDER BY bucket" if timescale else
                    "SELECT day::text, value, n FROM meter_days ORDER BY day")).all()
                assert [tuple(d) for d in days] == [("2023-05-10", 5.0, 1),
                                                    ("2023-05-11", 7.0, 1)]
            with eng.connect() as conn, pytest.raises(IntegrityError):
                conn.execute(text(
                    "INSERT INTO readings (meter_id, start_ts, value, original_unit, batch_id)"
                    " VALUES (1, '2023-05-12T00:00+08', 'NaN', 'kWh', 1)"))
        finally:
            eng.dispose()
