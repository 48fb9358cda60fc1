"""Statuses that never claim more than their data: every status and indicator states its
coverage; a partial year is `incomplete` (never met); a projection from two years is
`insufficient_data`; a null always has a reason."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.carbon_api.carbon_api_helpers import K_ELEC, ok, record, upload_readings
from tests.conftest import auth


def _status(client, key, as_of):
    ans = ok(client.get("/v1/targets/status", headers=auth(key),
                        params={"scope": "enterprise", "as_of": as_of}))
    return ans, {(r["target_id"], r["phase"]): r for r in ans["status"]}


def test_partial_year_is_incomplete_never_met(client, make_enterprise, make_meter, make_key):
    ent = make_enterprise()
    m = make_meter(ent["code"])["code"]
    key = make_key("enterprise", ent["code"])
    # energy for January..November (10,000 kWh a month), value added for the whole year
    upload_readings(client, key, [(m, f"2026-{mo:02d}-10T08:00:00+08:00", 10_000)
                                  for mo in range(1, 12)])
    ok(record(client, key, [{"period": "2026", "quantity": "value_added_10k_yuan",
                             "value": 200}]))
    ans, rows = _status(client, key, "2026-11-28")
    # 11 months of energy against the whole year's value added: 0.0676 tce/万元 looks "below
    # 0.07"; the whole year (12 × 10,000 kWh) would be 0.0737, not met
    partial = 11 * 10_000 * K_ELEC / 200
    assert 12 * 10_000 * K_ELEC / 200 > 0.07
    for phase in ("phase_1", "phase_2"):
        r = rows[("energy_intensity_2030", phase)]
        assert r["actual_value"] == pytest.approx(partial) and partial <= 0.07
        assert r["status"] == "incomplete" and r["met_now"] is None and not r["on_track"]
        assert r["coverage"]["months_missing"] == ["2026-12"]
        assert r["null_reasons"]["met_now"].startswith("2026 is incomplete")
    assert not any(r["status"] in ("achieved", "on_track") for r in ans["status"])
    ind = ok(client.get("/v1/indicators", headers=auth(key),
                        params={"scope": "enterprise", "period": "2026"}))
    cov = ind["coverage"]
    assert cov["complete"] is False and cov["months_missing"] == ["2026-12"]
    assert cov["carriers_with_data"] == ["electricity_import_kwh"]
    assert cov["readings"] == 11 and cov["readings_expected_so_far"] > 11
    assert cov["value_added_present"] is True


def test_two_complete_years_are_insufficient_for_a_projection(client, make_app, make_enterprise,
                                                              make_meter, make_key):
    ent = make_enterprise()
    m = make_meter(ent["code"])["code"]
    key = make_key("enterprise", ent["code"])
    # 2026 must be a whole year to be complete: its December is uploaded through an app whose
    # clock tolerance reaches past it (the status below is asked as of 2027-01-15)
    with TestClient(make_app(upload_future_tolerance_hours=24 * 400)) as ahead:
        upload_readings(ahead, key, [(m, f"{y}-{mo:02d}-10T08:00:00+08:00", v)
                                     for y, v in ((2025, 10_000), (2026, 9_000))
                                     for mo in range(1, 13)])
    ok(record(client, key, [{"period": "2025", "quantity": "value_added_10k_yuan", "value": 200},
                            {"period": "2026", "quantity": "value_added_10k_yuan", "value": 250}]))
    ans, rows = _status(client, key, "2027-01-15")
    assert ans["history"]["2025"]["coverage"]["complete"] is True
    assert ans["history"]["2026"]["coverage"]["complete"] is True
    r = rows[("energy_intensity_2030", "phase_2")]
    i26 = 12 * 9_000 * K_ELEC / 250
    assert r["actual_year"] == 2026 and r["actual_value"] == pytest.approx(i26)
    assert r["met_now"] is True  # a complete year may say met
    assert r["status"] == "insufficient_data" and r["projected_value"] is None
    assert "a projection needs 3" in r["null_reasons"]["projected_value"]
    assert ans["projection_rule"]["min_complete_years"] == 3
    # the 2026–2027 reduction is judged in 2027, which has no data: no_data, with a reason
    r = rows[("energy_intensity_reduction_2026_2027", "phase_1")]
    assert r["status"] == "no_data" and r["null_reasons"]["met_now"]


def test_null_indicators_come_with_a_reason(client, make_enterprise, make_meter, make_key):
    ent = make_enterprise()
    m = make_meter(ent["code"])["code"]
    key = make_key("enterprise", ent["code"])
    upload_readings(client, key, [(m, "2026-03-10T08:00:00+08:00", 100)])
    ind = ok(client.get("/v1/indicators", headers=auth(key),
                        params={"scope": "enterprise", "period": "2026-03"}))
    values, reasons = ind["indicators"], ind["null_reasons"]
    assert values["energy_intensity_tce_per_10k_yuan"] is None
    assert "value_added_10k_yuan" in reasons["energy_intensity_tce_per_10k_yuan"]
    assert {k for k, v in values.items() if v is None} == set(reasons)
    assert ind["coverage"]["value_added_present"] is False


def test_dashboard_carbon_panel_states_coverage(client, make_enterprise, make_meter, make_key):
    ent = make_enterprise()
    m = make_meter(ent["code"])["code"]
    key = make_key("enterprise", ent["code"])
    upload_readings(client, key, [(m, "2026-03-10T08:00:00+08:00", 100)])
    ans = ok(client.get("/v1/overview/modules", headers=auth(key),
                        params={"period": "year", "date": "2026-03-10"}))
    carbon = ans["carbon"]
    assert carbon["coverage"]["complete"] is False
    intensity = next(i for i in carbon["indicators"]
                     if i["name"] == "energy_intensity_tce_per_10k_yuan")
    assert intensity["value"] is None and "value_added_10k_yuan" in intensity["null_reason"]
    assert all(r["status"] not in ("achieved", "on_track") for r in carbon["status"])
