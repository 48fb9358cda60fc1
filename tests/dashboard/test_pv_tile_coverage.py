"""The PV tile compares measured and expected output of the same arrays and says how many."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import auth
from tests.pv_api.pv_api_helpers import make_array


def test_pv_meter_without_array_is_not_measured_against_expected(
        client, operator_key, make_enterprise, make_meter, make_key):
    ent = make_enterprise(zone="B区")["code"]
    metered = make_meter(ent, "pv_generation")
    orphan = make_meter(ent, "pv_generation")  # a PV meter with no registered array
    make_array(client, operator_key, ent, capacity_kwp=200.0, meter=metered["code"])
    make_array(client, operator_key, ent, capacity_kwp=50.0)  # an array without a meter
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)
    rows = "meter,ts,value\n" + "".join(
        f"{m},{day.isoformat()}T12:{q:02d}:00+08:00,{v}\n"
        for m, v in ((metered["code"], 10.0), (orphan["code"], 500.0)) for q in (0, 15, 30, 45))
    r = client.post("/v1/readings", content=rows,
                    headers={**auth(operator_key), "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text

    key = make_key("enterprise", ent)
    pv = client.get("/v1/overview/modules", headers=auth(key),
                    params={"period": "day", "date": day.isoformat()}).json()["pv"]
    assert pv["arrays"] == 1
    assert pv["capacity_kwp"] == pytest.approx(200.0)
    assert pv["today_measured_kwh"] == pytest.approx(40.0)
    assert pv["month_measured_kwh"] >= pv["today_measured_kwh"]
    # the tile's two sides on the same array: the overview's all-meter PV total differs
    overview = client.get("/v1/overview", headers=auth(key),
                          params={"period": "day", "date": day.isoformat()}).json()
    assert overview["tiles"]["today"]["pv_kwh"] == pytest.approx(2040.0)
