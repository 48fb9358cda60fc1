"""Scenario API through HTTP on the real database: queue → worker → done, failure recorded,
restart keeps queued runs, roles, validation errors naming the field."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.config import Settings
from app.services.scenarios import process_queue
from tests.conftest import auth, unique

ONE_YEAR: dict[str, Any] = {
    "start_year": 2029, "end_year": 2029,
    "load": {"kind": "synthetic", "segments": [
        {"zone": "A区", "industry": "manufacturing_day", "base_energy_mwh": 100_000}]},
    "pv": [{"year": 2026, "zone": "A区", "capacity_kwp": 30_000}],
    "storage": [{"power_mw": 10, "energy_mwh": 40, "in_service_year": 2029}],
    "value_added": {"base_10k_yuan": 150_000},
}


def scenario(**changes: Any) -> dict[str, Any]:
    return {**ONE_YEAR, "name": unique("api"), **changes}


@pytest.fixture(scope="module")
def planner(make_key: Callable[..., str]) -> dict[str, str]:
    return auth(make_key("planner"))


def wait_status(client: TestClient, headers: dict[str, str], run_id: int,
                statuses: set[str], timeout_s: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        body = client.get(f"/v1/scenarios/{run_id}", headers=headers).json()
        if body["status"] in statuses or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_queued_run_survives_a_restart_and_the_scheduler_worker_completes_it(
        client: TestClient, make_app: Callable[..., FastAPI], planner: dict[str, str]) -> None:
    # the session app runs no scheduler: the run stays queued
    r = client.post("/v1/scenarios", json=scenario(), headers=planner)
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] == "queued"
    assert r.headers["location"] == f"/v1/scenarios/{run['id']}"
    assert client.get(f"/v1/scenarios/{run['id']}", headers=planner).json()["status"] == "queued"
    r = client.get(f"/v1/scenarios/{run['id']}/series", headers=planner)
    assert r.status_code == 409 and r.json()["run_status"] == "queued"
    # "restart": a new app process whose scheduler (with the scenario worker) starts with it
    with TestClient(make_app(scheduler_enabled=True, scenario_poll_seconds=0.2)) as restarted:
        done = wait_status(restarted, planner, run["id"], {"done", "failed"})
    assert done["status"] == "done", done
    assert done["started_at"] is not None and done["finished_at"] is not None
    summary = done["kpis"]["summary"]
    assert summary["years"] == "2029-2029"
    assert summary["storage_energy_final_mwh"] == 40
    assert summary["max_balance_residual_mwh"] < 1e-6
    year = done["kpis"]["years"]["2029"]
    assert year["pv_capacity_kwp"] == 30_000
    # links to the series and plots, served from the database
    series = client.get(done["links"]["series"], headers=planner)
    assert series.status_code == 200 and series.headers["content-type"].startswith("text/csv")
    lines = series.text.splitlines()
    assert lines[0].startswith("time,load_mw,")
    assert len(lines) == 1 + 8760
    assert set(done["links"]["plots"]) == {"energy_balance_week", "soc", "monthly_mix",
                                           "carbon_path"}
    for url in done["links"]["plots"].values():
        png = client.get(url, headers=planner)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"/v1/scenarios/{run['id']}/plots/nope", headers=planner).status_code \
        == 404


def test_failing_run_records_its_error(client: TestClient, engine: Engine, settings: Settings,
                                       planner: dict[str, str]) -> None:
    # valid scenario, infeasible simulation: a 1 MW import limit under a 11 MW mean load
    r = client.post("/v1/scenarios", json=scenario(storage=[], grid={"import_limit_mw": 1}),
                    headers=planner)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    inline = settings.model_copy(update={"scenario_executor": "inline"})
    assert process_queue(engine, inline) >= 1  # the scheduler job's function
    body = client.get(f"/v1/scenarios/{run_id}", headers=planner).json()
    assert body["status"] == "failed"
    assert "import limit" in body["error"]
    assert body["kpis"] is None and "series" not in body["links"]


def test_run_whose_worker_died_is_claimed_again(client: TestClient, engine: Engine,
                                                settings: Settings,
                                                planner: dict[str, str]) -> None:
    run_id = client.post("/v1/scenarios", json=scenario(storage=[]),
                         headers=planner).json()["id"]
    with engine.begin() as conn:  # a worker claimed it, then died (its lease passed)
        conn.execute(text("UPDATE scenario_runs SET status = 'running', attempts = 1, "
                          "lease_until = now() - interval '1 minute' WHERE id = :id"),
                     {"id": run_id})
    process_queue(engine, settings.model_copy(update={"scenario_executor": "inline"}))
    body = client.get(f"/v1/scenarios/{run_id}", headers=planner).json()
    assert body["status"] == "done"
    with engine.connect() as conn:
        attempts = conn.execute(text("SELECT attempts FROM scenario_runs WHERE id = :id"),
                                {"id": run_id}).scalar()
    assert attempts == 2


def test_malformed_scenario_gets_problem_json_naming_the_field(
        client: TestClient, planner: dict[str, str]) -> None:
    bad = scenario(pv=[{"year": 2026, "capacity_kwp": -3}],
                   dispatch={"strategy": "clever"})
    r = client.post("/v1/scenarios", json=bad, headers=planner)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"pv.0.capacity_kwp", "dispatch.strategy"} <= fields
    # server files cannot be named through the API
    r = client.post("/v1/scenarios", headers=planner, json=scenario(
        load={"kind": "series", "csv": "/etc/passwd"}, tariff="../../secret"))
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"load.csv", "tariff"}


def test_roles(client: TestClient, make_key: Callable[..., str],
               make_enterprise: Callable[..., dict[str, Any]], planner: dict[str, str]) -> None:
    ent = make_enterprise()
    enterprise = auth(make_key("enterprise", ent["code"]))
    operator = auth(make_key("operator"))
    assert client.post("/v1/scenarios", json=scenario(), headers=enterprise).status_code == 403
    r = client.post("/v1/scenarios", json=scenario(), headers=operator)
    assert r.status_code == 202
    run_id = r.json()["id"]
    for url in (f"/v1/scenarios/{run_id}", "/v1/scenarios", f"/v1/scenarios/{run_id}/series",
                f"/v1/scenarios/{run_id}/plots/soc"):
        assert client.get(url, headers=enterprise).status_code == 403
    assert client.get("/v1/scenarios", headers={}).status_code == 401
    listed = client.get("/v1/scenarios", headers=planner).json()
    assert run_id in {r["id"] for r in listed}
    assert client.get("/v1/scenarios/999999999", headers=planner).status_code == 404


def test_load_from_the_readings_the_service_holds(
        client: TestClient, engine: Engine, settings: Settings, operator_key: str,
        make_enterprise: Callable[..., dict[str, Any]], make_meter: Callable[..., dict[str, Any]],
        planner: dict[str, str]) -> None:
    import pandas as pd

    ent = make_enterprise()["code"]
    imp = make_meter(ent, "electricity_import", interval_minutes=60)["code"]
    pv = make_meter(ent, "pv_generation", interval_minutes=60)["code"]
    hours = pd.date_range("2023-01-01", "2024-01-01", freq="1h", tz="Asia/Shanghai",
                          inclusive="left")
    h = hours.hour
    imp_kwh = 1000 + 500 * ((h >= 8) & (h < 18))
    pv_kwh = 200 * ((h >= 10) & (h < 16))
    keep = pd.Series(True, index=hours)
    keep.iloc[1000:1100] = False  # 100 hours without import readings: filled by hour-of-day means
    lines = ["meter,ts,value"]
    lines += [f"{imp},{t.isoformat()},{v}" for t, v, k in zip(hours, imp_kwh, keep, strict=True)
              if k]
    lines += [f"{pv},{t.isoformat()},{v}" for t, v in zip(hours, pv_kwh, strict=True)]
    r = client.post("/v1/readings", content=("\n".join(lines) + "\n").encode(),
                    headers={**auth(operator_key), "content-type": "text/csv"})
    assert r.status_code in (200, 201), r.text
    body = {"name": unique("readings"), "start_year": 2023, "end_year": 2023, "base_year": 2022,
            "load": {"kind": "readings", "year": 2023, "enterprises": [ent]},
            "pv": [], "storage": [], "value_added": {"base_10k_yuan": 5000}}
    r = client.post("/v1/scenarios", json=body, headers=planner)
    assert r.status_code == 202, r.text
    process_queue(engine, settings.model_copy(update={"scenario_executor": "inline"}))
    done = client.get(f"/v1/scenarios/{r.json()['id']}", headers=planner).json()
    assert done["status"] == "done", done
    # an hour counts as metered when every electricity carrier in scope has its reading:
    # (8,760 - 100) / 8,760 = 98.9 %; the 100 gaps take the same hour of day's mean, which here
    # is the true value: 8,760 h x 1,000 kWh + 365 d x 10 h x 500 kWh + 365 d x 6 h x 200 kWh
    # = 11,023,000 kWh
    assert done["kpis"]["years"]["2023"]["load_mwh"] == pytest.approx(11_023.0)
    queued = client.get("/v1/scenarios", headers=planner).json()
    assert any(run["id"] == done["id"] for run in queued)
    with engine.connect() as conn:
        description = conn.execute(text("SELECT scenario->>'description' FROM scenario_runs "
                                        "WHERE id = :id"), {"id": done["id"]}).scalar()
    assert "98.9 % of hours metered" in description
    # no readings at all in 2021: the error names load.year
    r = client.post("/v1/scenarios", headers=planner, json={
        **body, "load": {"kind": "readings", "year": 2021, "enterprises": [ent]}})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "load.year"
    assert "0.0 % of the hours of 2021" in r.json()["errors"][0]["message"]


def test_sensitivity_run_through_the_api(client: TestClient, engine: Engine,
                                         settings: Settings, planner: dict[str, str]) -> None:
    """``sensitivity=true``: the worker also runs the one-at-a-time cases; the table, the KPIs
    and the tornado plots come back, and the certificate-price slope is the certificate volume."""
    body = scenario(green_certificates={"mwh_by_year": {2029: 2000}, "price_yuan_per_mwh": 10},
                    grid_emission_factors={"location_tco2_per_mwh": {2025: 0.55}})
    r = client.post("/v1/scenarios?sensitivity=true", json=body, headers=planner)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    inline = settings.model_copy(update={"scenario_executor": "inline"})
    assert process_queue(engine, inline) >= 1
    done = client.get(f"/v1/scenarios/{run_id}", headers=planner).json()
    assert done["status"] == "done", done
    rows = {(x["parameter"], x["side"]): x for x in done["kpis"]["sensitivity"]}
    assert rows[("certificate_price", "high")]["delta_total_cost_yuan"] == pytest.approx(
        2000 * 10 * (2.0 - 1.0))
    assert {p for p, _ in rows} >= {"base", "grid_factor", "load_growth", "pv_yield",
                                    "storage_efficiency", "value_added_growth"}
    csv = client.get(f"/v1/scenarios/{run_id}/sensitivity", headers=planner)
    assert csv.status_code == 200 and csv.text.startswith("case,parameter,side,")
    png = client.get(f"/v1/scenarios/{run_id}/plots/tornado_total_cost_yuan", headers=planner)
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
