"""Aggregated reads: Asia/Shanghai buckets, CSV output, park totals, tenant scoping."""

from __future__ import annotations

from tests.conftest import auth
from tests.foundation.helpers import csv_rows, post_csv, series


def test_hour_day_month_sums_in_shanghai_buckets(client, operator_key, make_enterprise, make_meter):
    m = make_meter(make_enterprise()["code"])["code"]
    rows = [
        (m, "2026-01-31T23:30:00+08:00", 1.0),  # Jan 31 (local), hour 23
        (m, "2026-01-31T23:45:00+08:00", 2.0),  # Jan 31, hour 23
        (m, "2026-02-01T00:00:00+08:00", 4.0),  # Feb 1 local = Jan 31 16:00 UTC
        (m, "2026-02-01T00:15:00+08:00", 8.0),
    ]
    assert post_csv(client, operator_key, csv_rows(rows)).status_code == 200
    start, end = "2026-01-01T00:00:00+08:00", "2026-03-01T00:00:00+08:00"
    hour = series(client, operator_key, m, start, end, "hour").json()["points"]
    assert [(p["start"], p["value"]) for p in hour] == [
        ("2026-01-31T23:00:00+08:00", 1.0 + 2.0), ("2026-02-01T00:00:00+08:00", 4.0 + 8.0)]
    day = series(client, operator_key, m, start, end, "day").json()["points"]
    assert [(p["start"], p["value"]) for p in day] == [
        ("2026-01-31T00:00:00+08:00", 3.0), ("2026-02-01T00:00:00+08:00", 12.0)]
    month = series(client, operator_key, m, start, end, "month").json()
    assert month["resolution"] == "month" and month["unit"] == "kWh"
    assert [(p["start"], p["value"]) for p in month["points"]] == [
        ("2026-01-01T00:00:00+08:00", 3.0), ("2026-02-01T00:00:00+08:00", 12.0)]
    fifteen = series(client, operator_key, m, start, end, "15min").json()["points"]
    assert [p["value"] for p in fifteen] == [1.0, 2.0, 4.0, 8.0]


def test_day_totals_follow_a_revision(client, operator_key, make_enterprise, make_meter):
    m = make_meter(make_enterprise()["code"])["code"]
    t0, t1 = "2026-05-01T10:00:00+08:00", "2026-05-01T10:15:00+08:00"
    post_csv(client, operator_key, csv_rows([(m, t0, 1.0), (m, t1, 2.0)]))
    post_csv(client, operator_key, csv_rows([(m, t1, 5.0)]))
    day = series(client, operator_key, m, "2026-05-01T00:00:00+08:00",
                 "2026-05-02T00:00:00+08:00", "day").json()["points"]
    assert day[0]["value"] == 1.0 + 5.0


def test_series_as_csv(client, operator_key, make_enterprise, make_meter):
    m = make_meter(make_enterprise()["code"])["code"]
    post_csv(client, operator_key, csv_rows([(m, "2026-06-01T00:00:00+08:00", 3.5)]))
    r = client.get(f"/v1/meters/{m}/readings", headers=auth(operator_key), params={
        "start": "2026-06-01T00:00:00+08:00", "end": "2026-06-02T00:00:00+08:00",
        "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0] == "meter,start,value,unit,quality,count"
    assert lines[1] == f"{m},2026-06-01T00:00:00+08:00,3.5,kWh,ok,1"


def test_naive_query_bounds_rejected(client, operator_key, make_enterprise, make_meter):
    m = make_meter(make_enterprise()["code"])["code"]
    r = series(client, operator_key, m, "2026-06-01T00:00:00", "2026-06-02T00:00:00+08:00")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start"


def test_park_energy_by_enterprise_zone_carrier_and_scoping(
    client, operator_key, make_enterprise, make_meter, make_key
):
    # A year far from other tests' data, so the park totals hold only what this test wrote.
    a, b = make_enterprise(zone="综合保税区"), make_enterprise(zone="聂当工业园")
    ma, mb = make_meter(a["code"])["code"], make_meter(b["code"])["code"]
    wa = make_meter(a["code"], carrier="water")["code"]
    ts = "2011-07-01T12:00:00+08:00"
    post_csv(client, operator_key, csv_rows([(ma, ts, 10.0), (mb, ts, 20.0), (wa, ts, 3.0)]))
    params = {"start": "2011-01-01T00:00:00+08:00", "end": "2012-01-01T00:00:00+08:00"}
    by_ent = client.get("/v1/park/energy", headers=auth(operator_key),
                        params={**params, "by": "enterprise"}).json()["totals"]
    got = {(t["enterprise"], t["carrier"]): (t["value"], t["unit"]) for t in by_ent}
    assert got == {(a["code"], "electricity_import"): (10.0, "kWh"),
                   (a["code"], "water"): (3.0, "m3"),
                   (b["code"], "electricity_import"): (20.0, "kWh")}
    by_zone = client.get("/v1/park/energy", headers=auth(operator_key),
                         params={**params, "by": "zone"}).json()["totals"]
    assert {(t["zone"], t["carrier"]): t["value"] for t in by_zone} == {
        ("综合保税区", "electricity_import"): 10.0, ("综合保税区", "water"): 3.0,
        ("聂当工业园", "electricity_import"): 20.0}
    by_carrier = client.get("/v1/park/energy", headers=auth(operator_key),
                            params={**params, "by": "carrier"}).json()["totals"]
    assert {t["carrier"]: t["value"] for t in by_carrier} == {
        "electricity_import": 10.0 + 20.0, "water": 3.0}
    # An enterprise key sees its own totals only.
    mine = client.get("/v1/park/energy", headers=auth(make_key("enterprise", b["code"])),
                      params={**params, "by": "enterprise"}).json()["totals"]
    assert [(t["enterprise"], t["value"]) for t in mine] == [(b["code"], 20.0)]
