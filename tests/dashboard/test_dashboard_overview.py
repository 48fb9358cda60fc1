"""The overview API behind the dashboard: figures from rollups, periods, scope, pages.

One enterprise's day of readings on 2024-03-10 (a date no other test writes), checked with its
own key so other tests' data never enter the totals.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carbon import Activity, compute_ledger
from tests.conftest import auth
from tests.foundation.helpers import csv_rows, post_csv

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2024, 3, 10)


def _slots(hour_from: int, hour_to: int) -> list[str]:
    """15-minute interval starts in [hour_from, hour_to) local time on DAY."""
    t0 = datetime(DAY.year, DAY.month, DAY.day, tzinfo=TZ)
    return [(t0 + timedelta(minutes=15 * i)).isoformat()
            for i in range(hour_from * 4, hour_to * 4)]


@pytest.fixture(scope="module")
def site(client, operator_key, make_enterprise, make_meter, make_key):
    ent = make_enterprise(zone="B区", name="仪表盘测试企业")
    code = ent["code"]
    imp = make_meter(code, "electricity_import")["code"]
    pv = make_meter(code, "pv_generation")["code"]
    exp = make_meter(code, "electricity_export")["code"]
    gas = make_meter(code, "natural_gas")["code"]
    rows = [(imp, ts, 10.0) for ts in _slots(0, 24)]          # 96 × 10 kWh = 960 kWh
    rows += [(pv, ts, 2.5) for ts in _slots(10, 14)]          # 16 × 2.5 kWh = 40 kWh
    rows += [(exp, ts, 1.0) for ts in _slots(12, 13)]         # 4 × 1 kWh = 4 kWh
    rows += [(gas, ts, 25.0) for ts in _slots(8, 9)]          # 4 × 25 Nm3 = 100 Nm3
    r = post_csv(client, operator_key, csv_rows(rows))
    assert r.status_code == 200, r.text
    return {"code": code, "key": make_key("enterprise", code), "meters":
            {"import": imp, "pv": pv, "export": exp, "gas": gas}}


def overview(client, key, period="day", day=DAY):
    r = client.get("/v1/overview", headers=auth(key),
                   params={"period": period, "date": day.isoformat()})
    assert r.status_code == 200, r.text
    return r.json()


def test_day_tiles_and_balance_are_the_hand_sums(client, site):
    d = overview(client, site["key"])
    today = d["tiles"]["today"]
    assert today["grid_import_kwh"] == pytest.approx(96 * 10.0)
    assert today["pv_kwh"] == pytest.approx(16 * 2.5)
    assert today["grid_export_kwh"] == pytest.approx(4 * 1.0)
    assert today["load_kwh"] == pytest.approx(960 + 40 - 4)        # import + PV − export
    assert d["tiles"]["month"]["load_kwh"] == pytest.approx(996)   # the month holds one day
    points = d["balance"]["points"]
    assert len(points) == 24 and d["bucket"] == "hour"
    assert points[0]["start"] == "2024-03-10T00:00:00+08:00"      # Asia/Shanghai hours
    noon = points[12]
    assert (noon["grid_import_kwh"], noon["pv_kwh"], noon["grid_export_kwh"]) == (40, 10, 4)
    assert noon["load_kwh"] == pytest.approx(40 + 10 - 4)
    assert points[9]["pv_kwh"] == 0 and points[10]["pv_kwh"] == pytest.approx(10)
    assert sum(p["load_kwh"] for p in points) == pytest.approx(996)


def test_energy_in_tce_converts_as_the_carbon_ledger_does(client, site):
    d = overview(client, site["key"])
    # Electricity at its equivalent value, 0.1229 kgce/kWh: 996 kWh → 0.1224084 tce (+ gas).
    ledger = compute_ledger({"electricity_import_kwh": 960.0, "pv_generation_kwh": 40.0,
                             "electricity_export_kwh": 4.0, "natural_gas_nm3": 100.0},
                            Activity(), period="2024-03", scope="enterprise", code=site["code"])
    gas_tce = ledger.to_dict()["energy_by_carrier"]["natural_gas"]["tce"]
    assert d["tiles"]["today"]["energy_tce"] == pytest.approx(996 * 0.1229 / 1000 + gas_tce)
    assert d["tiles"]["today"]["energy_tce"] == pytest.approx(ledger.to_dict()["energy_tce"])
    assert d["factor_set"] == ledger.to_dict()["factor_set"]
    mix = {m["carrier"]: (m["quantity"], m["unit"]) for m in d["mix"]}
    assert mix == {"electricity_import": (960.0, "kWh"), "pv_generation": (40.0, "kWh"),
                   "electricity_export": (4.0, "kWh"), "natural_gas": (100.0, "Nm3")}
    assert sum(m["energy_tce"] for m in d["mix"]) == pytest.approx(
        d["tiles"]["today"]["energy_tce"])


@pytest.mark.parametrize(("period", "n_buckets", "first"), [
    ("week", 7, "2024-03-04"),    # 2024-03-10 is a Sunday: the ISO week starts Monday 03-04
    ("month", 31, "2024-03-01"),
    ("year", 12, "2024-01-01"),
])
def test_periods_bucket_the_same_energy(client, site, period, n_buckets, first):
    d = overview(client, site["key"], period)
    points = d["balance"]["points"]
    assert len(points) == n_buckets
    assert points[0]["start"] == f"{first}T00:00:00+08:00"
    assert d["balance"]["totals"]["load_kwh"] == pytest.approx(996)
    assert sum(p["load_kwh"] for p in points) == pytest.approx(996)
    assert sum(p["load_kwh"] > 0 for p in points) == 1


def test_enterprise_key_ranks_only_itself_with_its_sparkline(client, site):
    d = overview(client, site["key"], "month")
    assert [e["code"] for e in d["enterprises"]] == [site["code"]]
    assert [z["zone"] for z in d["zones"]] == ["B区"]
    ent = d["enterprises"][0]
    assert ent["share_pct"] == pytest.approx(100.0)
    assert len(ent["series_tce"]) == 31 and ent["series_tce"][9] == pytest.approx(
        ent["energy_tce"])                                        # all of it on the 10th
    assert ent["electricity_kwh"] == pytest.approx(996)
    assert d["scope"] == {"role": "enterprise", "enterprise": site["code"]}


def test_operator_ranking_holds_every_enterprise_and_shares_add_up(client, operator_key, site):
    d = overview(client, operator_key, "day")
    codes = [e["code"] for e in d["enterprises"]]
    assert site["code"] in codes
    tces = [e["energy_tce"] for e in d["enterprises"]]
    assert tces == sorted(tces, reverse=True)
    assert sum(z["energy_tce"] for z in d["zones"]) == pytest.approx(sum(tces))
    assert sum(e["share_pct"] for e in d["enterprises"]) == pytest.approx(100.0)


def test_drill_down_lists_the_enterprise_meters_with_totals(client, site):
    r = client.get(f"/v1/overview/enterprises/{site['code']}", headers=auth(site["key"]),
                   params={"period": "day", "date": DAY.isoformat()})
    assert r.status_code == 200, r.text
    meters = {m["code"]: m for m in r.json()["meters"]}
    m = site["meters"]
    assert meters[m["import"]]["total"] == pytest.approx(960)
    assert meters[m["pv"]]["total"] == pytest.approx(40)
    assert meters[m["gas"]]["unit"] == "Nm3" and meters[m["gas"]]["total"] == 100
    assert len(meters[m["pv"]]["series"]) == 24
    assert meters[m["pv"]]["series"][10:14] == [10.0] * 4


def test_another_enterprise_is_not_found_for_an_enterprise_key(client, site, make_enterprise):
    other = make_enterprise(zone="A区")["code"]
    r = client.get(f"/v1/overview/enterprises/{other}", headers=auth(site["key"]),
                   params={"date": DAY.isoformat()})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_open_alerts_count_follows_acknowledgement(client, operator_key, site):
    def open_alerts() -> list:
        return client.get("/v1/alerts", headers=auth(site["key"]),
                          params={"open_only": True}).json()

    imp = site["meters"]["import"]
    # One hour with 2 of 4 intervals sent the next day: a missing-data alert for this meter.
    nxt = datetime(2024, 3, 11, tzinfo=TZ)
    post_csv(client, operator_key, csv_rows([(imp, nxt.isoformat(), 1.0),
                                             (imp, (nxt + timedelta(minutes=45)).isoformat(),
                                              1.0)]))
    r = client.post("/v1/alerts/check", headers=auth(operator_key),
                    params={"start": nxt.isoformat(),
                            "end": (nxt + timedelta(hours=1)).isoformat()})
    assert r.status_code == 200 and r.json()["opened"] >= 1
    opened = open_alerts()
    assert imp in [a["meter"] for a in opened]
    assert overview(client, site["key"])["alerts"]["open"] == len(opened)
    client.post(f"/v1/alerts/{opened[0]['id']}/acknowledge", headers=auth(site["key"]))
    assert overview(client, site["key"])["alerts"]["open"] == len(opened) - 1


def test_bad_period_is_a_problem_naming_the_field(client, site):
    r = client.get("/v1/overview", headers=auth(site["key"]), params={"period": "decade"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "period"


def test_overview_needs_a_key(client):
    assert client.get("/v1/overview").status_code == 401


def test_pages_and_vendored_echarts_are_served_without_a_key(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/dashboard"
    page = client.get("/dashboard")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "/dashboard/static/vendor/echarts/echarts.min.js" in page.text
    lib = client.get("/dashboard/static/vendor/echarts/echarts.min.js")
    assert lib.status_code == 200 and '"6.1.0"' in lib.text
    assert client.get("/dashboard/static/../routers/dashboard.py").status_code == 404
    assert client.get("/dashboard/static/%2e%2e/config.py").status_code == 404


@pytest.mark.parametrize("period", ["day", "week", "month", "year"])
def test_overview_reads_rollups_not_raw_readings(client, engine, timescale, site, period):
    """Week, month and year read the meter-day rollup (Timescale: readings_daily); the day's
    hours read readings_hourly on Timescale. Only plain PostgreSQL, which has no hourly rollup,
    bins one day of readings for the day view."""
    from sqlalchemy import event, text

    with engine.begin() as conn:  # a new data version: the answer is computed, not remembered
        conn.execute(text("INSERT INTO data_changes (source) VALUES ('test')"))
    statements: list[str] = []

    def capture(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        overview(client, site["key"], period)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    raw = [s for s in statements if re.search(r"\bFROM readings\b(?!_)", s)]
    if period == "day" and not timescale:
        assert len(raw) == 1 and "date_bin('1 hour'" in raw[0]
    else:
        assert raw == [], raw


def test_modules_are_flagged_live_exactly_when_the_key_has_something_to_show(
        client, site, operator_key):
    # an enterprise with neither PV arrays nor a storage station, and no scenario rights
    expected = {"pv": False, "storage": False, "carbon": True, "scenarios": False}
    assert overview(client, site["key"])["modules"] == expected
    r = client.get("/v1/overview/modules", headers=auth(site["key"]),
                   params={"date": DAY.isoformat()})
    assert r.status_code == 200 and r.json()["modules"] == expected
    assert r.json()["pv"] is None
    # the same enterprise once it has a PV array
    r = client.post("/v1/pv/arrays", headers=auth(operator_key), json={
        "code": f"PV-{site['code']}", "enterprise": site["code"], "capacity_kwp": 50.0,
        "tilt_deg": 20.0})
    assert r.status_code == 201, r.text
    assert overview(client, site["key"])["modules"]["pv"] is True
