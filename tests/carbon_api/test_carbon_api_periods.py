"""Closing a month freezes its ledgers; a closed month changes only through an audited reopen;
recomputing a closed month gives the same result; the monthly job closes the previous month."""

from __future__ import annotations

from datetime import date

import pytest

from app.repositories.readings_store import readings_store
from app.services.carbon import close_previous_month
from tests.carbon_api.carbon_api_helpers import K_ELEC, ledger, ok, record, upload_readings
from tests.conftest import auth

MONTH = "2022-02"  # used by no other test: closing freezes every enterprise's ledger
TS = "2022-02-10T08:00:00+08:00"
EF_RES_2022 = 0.5856  # tCO2/MWh, MEE 2022 national excl. market-traded non-fossil


def _close(client, key, month=MONTH):
    return client.post(f"/v1/carbon/periods/{month}/close", headers=auth(key))


def test_close_reopen_cycle(client, make_enterprise, make_meter, make_key, operator_key):
    ent = make_enterprise()
    meter = make_meter(ent["code"])["code"]
    key = make_key("enterprise", ent["code"])
    upload_readings(client, key, [(meter, TS, 1000)])
    ok(record(client, key, [{"period": MONTH, "quantity": "value_added_10k_yuan", "value": 50}]))
    live = ok(ledger(client, key, MONTH))
    assert live["status"] == "open"

    assert _close(client, key).status_code == 403  # operators only
    closed = ok(_close(client, operator_key))
    assert closed["status"] == "closed" and closed["ledgers"] >= 2
    assert _close(client, operator_key).status_code == 409
    frozen = ok(ledger(client, key, MONTH))
    assert frozen["status"] == "closed" and frozen["closed"]["event"] == closed["event"]
    # 1 MWh x 0.5856 tCO2/MWh (2022 factor, market-based); 1000 kWh x 0.1229 kgce/kWh
    assert frozen["co2_t"] == pytest.approx(1.0 * EF_RES_2022)
    assert frozen["energy_tce"] == pytest.approx(1000 * K_ELEC)
    assert frozen["input_hash"] == live["input_hash"]  # the same inputs were frozen

    # Recomputing the closed month from the stored data gives the same result.
    detail = ok(client.get(f"/v1/carbon/periods/{MONTH}", headers=auth(operator_key)))
    mine = next(x for x in detail["verification"]["ledgers"] if x["code"] == ent["code"])
    assert mine["same"] and mine["frozen_input_hash"] == live["input_hash"]

    # A revised reading does not change the closed ledger; verification shows the drift.
    upload_readings(client, key, [(meter, TS, 1500)])
    assert ok(ledger(client, key, MONTH))["energy_tce"] == pytest.approx(1000 * K_ELEC)
    detail = ok(client.get(f"/v1/carbon/periods/{MONTH}", headers=auth(operator_key)))
    mine = next(x for x in detail["verification"]["ledgers"] if x["code"] == ent["code"])
    assert not mine["same"] and not detail["verification"]["all_same"]
    # Activity for a closed month is refused, naming row and field.
    r = record(client, key, [{"period": "2022", "quantity": "cod_kg", "value": 1},
                             {"period": MONTH, "quantity": "value_added_10k_yuan", "value": 60}])
    assert r.status_code == 409
    assert r.json()["errors"] == [{"row": 2, "field": "period", "message": f"{MONTH} is closed"}]
    # The year sums the frozen February with live months.
    year = ok(ledger(client, key, "2022"))
    assert year["status"] == "partly_closed"
    assert year["inputs"]["energy"]["electricity_import_kwh"] == 1000.0
    assert year["provenance"]["months"] == {MONTH: "closed"}

    # Reopen: operators only, with a reason; audited.
    url = f"/v1/carbon/periods/{MONTH}/reopen"
    assert client.post(url, json={"reason": "meter fix"}, headers=auth(key)).status_code == 403
    r = client.post(url, json={}, headers=auth(operator_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    ok(client.post(url, json={"reason": "meter M-1 replaced, readings revised"},
                   headers=auth(operator_key)))
    assert client.post(url, json={"reason": "again"},
                       headers=auth(operator_key)).status_code == 409
    reopened = ok(ledger(client, key, MONTH))
    assert reopened["status"] == "open"
    assert reopened["energy_tce"] == pytest.approx(1500 * K_ELEC)
    events = ok(client.get(f"/v1/carbon/periods/{MONTH}", headers=auth(operator_key)))["events"]
    assert [e["action"] for e in events] == ["close", "reopen"]
    assert events[1]["reason"] == "meter M-1 replaced, readings revised"
    assert events[1]["actor"].startswith("key ") and events[1]["at"]

    # Close again; closing once more after a reopen without changes gives the same ledgers.
    second = ok(_close(client, operator_key))
    assert ok(ledger(client, key, MONTH))["energy_tce"] == pytest.approx(1500 * K_ELEC)
    assert ok(client.get(f"/v1/carbon/periods/{MONTH}",
                         headers=auth(operator_key)))["verification"]["all_same"]
    ok(client.post(url, json={"reason": "check reproducibility"}, headers=auth(operator_key)))
    third = ok(_close(client, operator_key))
    assert third["park_input_hash"] == second["park_input_hash"]
    assert ok(ledger(client, key, MONTH))["input_hash"] == \
        ok(ledger(client, operator_key, MONTH, ent["code"]))["input_hash"]


def test_monthly_job_closes_previous_month(engine, client, operator_key):
    store = readings_store(engine)
    first = close_previous_month(engine, store=store, today=date(2022, 4, 15))
    assert first is not None and first["period"] == "2022-03"
    assert close_previous_month(engine, store=store, today=date(2022, 4, 20)) is None
    detail = ok(client.get("/v1/carbon/periods/2022-03", headers=auth(operator_key)))
    assert detail["status"] == "closed"
    assert detail["events"][0]["actor"] == "scheduler"
