"""Hostile and malformed input through HTTP: each class is answered 4xx problem+json naming the
field, and no table changes (counted before and after)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import auth, unique

TABLES = ("enterprises", "meters", "readings", "ingest_batches", "reading_revisions",
          "carbon_activity", "carbon_activity_batches", "pv_arrays", "alerts", "storage_plans",
          "storage_assets", "scenario_runs")
DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture()
def counts(engine: Engine) -> Callable[[], dict[str, int]]:
    """Rows in every table a request could write to."""

    def _counts() -> dict[str, int]:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in TABLES}

    return _counts


@pytest.fixture(scope="module")
def site(make_enterprise, make_meter, client, operator_key) -> dict[str, Any]:
    """An enterprise with a 15-minute meter and a storage station."""
    ent = make_enterprise()["code"]
    meter = make_meter(ent)["code"]
    station = unique("S")
    r = client.post("/v1/storage", headers=auth(operator_key),
                    json={"code": station, "name": "储能站", "zone": "A区", "enterprise": ent})
    assert r.status_code == 201, r.text
    return {"enterprise": ent, "meter": meter, "station": station}


def assert_rejected(r: Any, field: str, status: int = 422, row: int | None = None) -> dict:
    """A 4xx problem+json whose errors name ``field`` (and ``row`` when given)."""
    assert 400 <= r.status_code < 500 and r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    named = [e for e in body.get("errors", []) if e.get("field") == field]
    assert named, body
    if row is not None:
        assert named[0]["row"] == row, body
    return body


def test_json_nested_thousands_deep_is_refused(client, operator_key, site, counts):
    before = counts()
    json_ct = {**auth(operator_key), "content-type": "application/json"}
    for path in ("/v1/readings", "/v1/carbon/activity", f"/v1/storage/{site['station']}/telemetry",
                 "/v1/meters"):
        body = assert_rejected(client.post(path, content=DEEP, headers=json_ct), "body")
        assert "64" in body["detail"]
    # A body within the limit but deeper than records are is still read (and answered 422 on
    # its shape by the route, not the guard).
    r = client.post("/v1/readings", content="[" * 60 + "]" * 60, headers=json_ct)
    assert r.status_code == 422 and "nested" not in r.json()["detail"]
    # Without a key nothing is read: 401 before any body check.
    r = client.post("/v1/readings", content=DEEP, headers={"content-type": "application/json"})
    assert r.status_code == 401
    assert counts() == before


def test_lone_surrogate_in_json_values_is_refused(client, operator_key, site, counts):
    before = counts()
    json_ct = {**auth(operator_key), "content-type": "application/json"}
    m = site["meter"]
    readings = (f'[{{"meter": "{m}", "ts": "2026-03-01T00:00:00+08:00", "value": 1}},'
                f' {{"meter": "{m}\\ud800", "ts": "2026-03-01T00:15:00+08:00", "value": 2}}]')
    assert_rejected(client.post("/v1/readings", content=readings, headers=json_ct), "meter",
                    row=2)
    array = (f'{{"code": "{unique("PV")}", "enterprise": "\\udc00{site["enterprise"]}",'
             ' "capacity_kwp": 10}')
    assert_rejected(client.post("/v1/pv/arrays", content=array, headers=json_ct), "enterprise")
    # A proper pair (an emoji) is text like any other.
    name = client.post("/v1/enterprises", headers=json_ct, content=(
        f'{{"code": "{unique("ENT")}", "name": "\\ud83d\\ude00", "zone": "A区"}}'))
    assert name.status_code == 201, name.text
    after = counts()
    assert after.pop("enterprises") == before.pop("enterprises") + 1
    assert after == before


def test_nul_in_a_csv_meter_code_is_refused(client, operator_key, site, counts):
    before = counts()
    csv = (f"meter,ts,value\n{site['meter']},2026-03-01T00:00:00+08:00,1\n"
           f"{site['meter']}\x00,2026-03-01T00:15:00+08:00,2\n")
    r = client.post("/v1/readings", content=csv.encode(),
                    headers={**auth(operator_key), "content-type": "text/csv"})
    assert_rejected(r, "meter", row=2)
    assert counts() == before


def test_nul_in_a_path_is_refused(client, operator_key):
    r = client.get("/v1/meters/%00", headers=auth(operator_key))
    assert_rejected(r, "code")
    r = client.get("/v1/enterprises/E%00X", headers=auth(operator_key))
    assert_rejected(r, "code")


@pytest.mark.parametrize(("path", "field"), [
    ("/v1/meters?enterprise=%00", "enterprise"),
    ("/v1/alerts?meter=%00", "meter"),
    ("/v1/carbon/activity?period=%00", "period"),
    ("/v1/pv/arrays?enterprise=A%00", "enterprise"),
])
def test_nul_in_a_query_parameter_is_refused(client, operator_key, path, field):
    assert_rejected(client.get(path, headers=auth(operator_key)), field)


def test_nul_in_a_json_field_is_refused(client, operator_key, site, counts):
    before = counts()
    code = unique("PV")
    r = client.post("/v1/pv/arrays", headers=auth(operator_key),
                    json={"code": code, "enterprise": site["enterprise"] + "\x00",
                          "capacity_kwp": 10})
    assert_rejected(r, "enterprise")
    r = client.post("/v1/meters", headers=auth(operator_key),
                    json={"code": unique("M"), "enterprise": site["enterprise"],
                          "carrier": "electricity_import", "name": "a\x00b"})
    assert_rejected(r, "name")
    assert counts() == before
    assert client.get(f"/v1/pv/arrays/{code}", headers=auth(operator_key)).status_code == 404


@pytest.mark.parametrize(("method", "path", "field"), [
    ("POST", "/v1/alerts/99999999999999999999/acknowledge", "alert_id"),
    ("POST", "/v1/alerts/0/acknowledge", "alert_id"),
    ("GET", "/v1/scenarios/9223372036854775808", "run_id"),
    ("GET", "/v1/scenarios/9223372036854775808/series", "run_id"),
    ("GET", "/v1/scenarios/9223372036854775808/sensitivity", "run_id"),
])
def test_ids_beyond_64_bits_are_refused(client, operator_key, counts, method, path, field):
    before = counts()
    assert_rejected(client.request(method, path, headers=auth(operator_key)), field)
    assert counts() == before


@pytest.mark.parametrize("query", [
    "/v1/carbon/ledger?scope=park&period=0000",
    "/v1/carbon/ledger?scope=park&period=9999-Q4",
    "/v1/indicators?scope=park&period=9999",
    "/v1/carbon/report?period=1999-12",
])
def test_periods_outside_2000_to_2100_are_refused(client, operator_key, query):
    body = assert_rejected(client.get(query, headers=auth(operator_key)), "period")
    assert "2000..2100" in body["errors"][0]["message"]


def test_closing_a_period_outside_the_years_writes_nothing(client, operator_key, counts):
    before = counts()
    r = client.post("/v1/carbon/periods/9999-12/close", headers=auth(operator_key))
    assert_rejected(r, "period")
    assert counts() == before


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "-3.45e-30"])
def test_dates_outside_the_years_or_given_as_numbers_are_refused(client, operator_key, value):
    for path in ("/v1/overview", "/v1/overview/modules"):
        r = client.get(path, params={"date": value}, headers=auth(operator_key))
        assert_rejected(r, "date")


def test_plan_for_a_day_without_a_grid_factor_is_refused(client, operator_key, site, counts):
    before = counts()
    r = client.post(f"/v1/storage/{site['station']}/plan", params={"day": "2000-01-01"},
                    headers=auth(operator_key))
    body = assert_rejected(r, "day")
    assert "2000" in body["detail"]
    assert counts() == before
    r = client.get(f"/v1/storage/{site['station']}/plan", params={"day": "2000-01-01"},
                   headers=auth(operator_key))
    assert r.status_code == 404


def test_naive_times_are_refused_everywhere(client, operator_key, site, counts):
    before = counts()
    h = auth(operator_key)
    r = client.post("/v1/alerts/check", headers=h,
                    params={"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00+08:00"})
    assert_rejected(r, "start")
    r = client.get(f"/v1/meters/{site['meter']}/revisions", headers=h,
                   params={"start": "2026-01-01T00:00:00"})
    assert_rejected(r, "start")
    r = client.post(f"/v1/storage/{site['station']}/safety-check", headers=h,
                    params={"start": "2026-01-01T00:00:00+08:00", "end": "2026-01-02T00:00:00"})
    assert_rejected(r, "end")
    assert counts() == before


def test_numbers_as_times_are_refused(client, operator_key, site):
    h = auth(operator_key)
    r = client.get(f"/v1/meters/{site['meter']}/readings", headers=h,
                   params={"start": "2026-01-01T00:00:00+08:00", "end": "-1.1"})
    assert_rejected(r, "end")
    r = client.get("/v1/park/energy", headers=h, params={"start": "0", "end": "1e9"})
    assert_rejected(r, "start")


def test_completeness_check_window_is_ordered_and_bounded(client, operator_key, counts):
    before = counts()
    h = auth(operator_key)
    backwards = {"start": "2026-01-02T00:00:00+08:00", "end": "2026-01-01T00:00:00+08:00"}
    assert_rejected(client.post("/v1/alerts/check", headers=h, params=backwards), "end")
    centuries = {"start": "2000-01-01T00:00:00+08:00", "end": "2100-01-01T00:00:00+08:00"}
    body = assert_rejected(client.post("/v1/alerts/check", headers=h, params=centuries), "end")
    assert "366" in body["errors"][0]["message"]
    before_1900 = {"start": "1900-01-01T00:00:00Z", "end": "1900-01-02T00:00:00Z"}
    assert_rejected(client.post("/v1/alerts/check", headers=h, params=before_1900), "start")
    assert counts() == before


def test_raw_reads_are_capped_and_name_what_to_ask(client, operator_key, site):
    h = auth(operator_key)
    url = f"/v1/meters/{site['meter']}/readings"
    century = {"start": "2000-01-01T00:00:00+08:00", "end": "2100-01-01T00:00:00+08:00"}
    body = assert_rejected(client.get(url, headers=h, params=century), "resolution")
    assert "resolution=day" in body["detail"] and body["max_points"] == 50_000
    # Two years of 15-minute readings: too many for JSON; as CSV or by day they are answered.
    years = {"start": "2026-01-01T00:00:00+08:00", "end": "2028-01-01T00:00:00+08:00"}
    body = assert_rejected(client.get(url, headers=h, params=years), "resolution")
    assert "format=csv" in body["detail"]
    assert client.get(url, headers=h, params={**years, "format": "csv"}).status_code == 200
    assert client.get(url, headers=h, params={**years, "resolution": "day"}).status_code == 200
    # One year at 15 minutes is within the default cap.
    year = {"start": "2026-01-01T00:00:00+08:00", "end": "2027-01-01T00:00:00+08:00"}
    assert client.get(url, headers=h, params=year).status_code == 200


def test_series_cap_is_a_setting(make_app, operator_key, site):
    from fastapi.testclient import TestClient

    with TestClient(make_app(max_series_points=96)) as small:
        url = f"/v1/meters/{site['meter']}/readings"
        day = {"start": "2026-01-01T00:00:00+08:00", "end": "2026-01-02T00:00:00+08:00"}
        assert small.get(url, headers=auth(operator_key), params=day).status_code == 200
        two = {**day, "end": "2026-01-03T00:00:00+08:00"}
        r = small.get(url, headers=auth(operator_key), params=two)
        assert_rejected(r, "resolution")
