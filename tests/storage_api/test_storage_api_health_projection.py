"""The health endpoint's SOH and its projection come from one ageing path: for a station that
ran exactly the published plan's cycle for a year, SOH now equals the projection's year 1."""

from datetime import date, timedelta

import pandas as pd
import pytest

from tests.conftest import auth
from tests.storage_api.helpers import register

DAY_READ = "2025-05-04"


def _csv(rows):
    return "ts,power_mw,soc_pct,temperature_c\n" + "\n".join(",".join(map(str, r))
                                                             for r in rows) + "\n"


def test_health_now_equals_projection_for_the_same_year(client, operator_key, make_enterprise,
                                                        make_meter):
    key = auth(operator_key)
    ent = make_enterprise(zone="B区")["code"]
    imp = make_meter(ent, "electricity_import", unit="kWh")["code"]
    lines = ["meter,ts,value"] + [
        f"{imp},{DAY_READ}T{q // 4:02d}:{q % 4 * 15:02d}:00+08:00,{4000 + 40 * (q % 48)}"
        for q in range(96)]
    assert client.post("/v1/readings", content="\n".join(lines) + "\n",
                       headers={**key, "content-type": "text/csv"}).status_code == 200
    today = pd.Timestamp.now(tz="Asia/Shanghai").date()
    st = register(client, operator_key, enterprise=ent,
                  commissioned_on=(today - timedelta(days=365)).isoformat())
    code = st["code"]
    r = client.post(f"/v1/storage/{code}/plan", params={"day": "2025-05-11", "strategy": "rule",
                                                        "forecast": "seasonal_naive"},
                    headers=key)
    assert r.status_code == 201, r.text
    plan_soc = pd.Series([row["soc_mwh"] for row in r.json()["schedule"]])
    first = client.get(f"/v1/storage/{code}/health", headers=key).json()
    nameplate = first["nameplate_mwh"]
    year1 = first["projection"]["years"][0]
    assert year1["year"] == 1 and year1["efc"] > 0
    # a year of telemetry with the plan's throughput (2 x nameplate x EFC), its mean SOC, 25 degC
    throughput = 2 * nameplate * year1["efc"]
    start = pd.Timestamp(date.fromordinal(today.toordinal() - 300), tz="Asia/Shanghai")
    n = int(throughput / (60.0 * 0.25)) + 1  # 15-minute rows below the station's 63 MW
    power = throughput / (n * 0.25)
    rows = [((start + pd.Timedelta(minutes=15 * i)).isoformat(),
             power if i % 2 else -power, "", "") for i in range(n)]
    rows[0] = (rows[0][0], rows[0][1], round(100 * plan_soc.mean() / nameplate, 10), 25.0)
    up = client.post(f"/v1/storage/{code}/telemetry", content=_csv(rows).encode(),
                     headers={**key, "content-type": "text/csv"})
    assert up.status_code == 200, up.text
    h = client.get(f"/v1/storage/{code}/health", headers=key).json()
    assert h["days_in_service"] == 365
    assert h["throughput_mwh"] == pytest.approx(throughput, rel=1e-9)
    assert h["soh"]["efc"] == pytest.approx(year1["efc"], rel=1e-9)
    assert h["projection"]["years"][0]["soh_pct"] == pytest.approx(h["soh_pct"], abs=1e-6)
