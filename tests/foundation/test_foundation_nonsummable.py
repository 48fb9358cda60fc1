"""Weather and telemetry: signed values accepted, aggregates are means, not park totals."""

from tests.conftest import auth


def test_air_temperature_may_be_negative_and_averages_per_hour(
    client, operator_key, make_enterprise, make_meter
):
    ent = make_enterprise()["code"]
    meter = make_meter(ent, carrier="temp_air", unit="degC", interval_minutes=15)["code"]
    kwh = make_meter(ent, carrier="electricity_import", unit="kWh", interval_minutes=15)["code"]
    body = (
        "meter,ts,value\n"
        + "".join(
            f"{meter},2026-01-05T0{h}:{m:02d}:00+08:00,{v}\n"
            for h, vals in ((1, (-12.0, -10.0, -8.0, -6.0)),)
            for m, v in zip((0, 15, 30, 45), vals, strict=True)
        )
        + f"{kwh},2026-01-05T01:00:00+08:00,5\n"
    )
    r = client.post(
        "/v1/readings", content=body, headers={**auth(operator_key), "content-type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 5
    r = client.get(
        f"/v1/meters/{meter}/readings",
        headers=auth(operator_key),
        params={
            "start": "2026-01-05T01:00:00+08:00",
            "end": "2026-01-05T02:00:00+08:00",
            "resolution": "hour",
        },
    )
    assert r.status_code == 200, r.text
    # the hour's mean of -12, -10, -8, -6 is -9 °C (a sum, -36, would be meaningless)
    assert [p["value"] for p in r.json()["points"]] == [-9.0]
    r = client.get(
        "/v1/park/energy",
        headers=auth(operator_key),
        params={
            "start": "2026-01-05T00:00:00+08:00",
            "end": "2026-01-06T00:00:00+08:00",
            "by": "enterprise",
        },
    )
    carriers = {t["carrier"] for t in r.json()["totals"] if t["enterprise"] == ent}
    assert carriers == {"electricity_import"}


def test_negative_energy_is_still_rejected(client, operator_key, make_enterprise, make_meter):
    ent = make_enterprise()["code"]
    meter = make_meter(ent, carrier="electricity_import", unit="kWh", interval_minutes=15)["code"]
    r = client.post(
        "/v1/readings",
        content=f"meter,ts,value\n{meter},2026-01-05T01:00:00+08:00,-1\n",
        headers={**auth(operator_key), "content-type": "text/csv"},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "value"
