"""Answers round a meter's values to its resolution: no float noise, no false precision."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from energy.units import CARRIERS, round_to_resolution
from tests.conftest import auth
from tests.foundation.helpers import csv_rows, post_csv, series

DAY = ("2026-03-01T00:00:00+08:00", "2026-03-02T00:00:00+08:00")


def test_float_noise_goes_and_steps_are_kept():
    assert round_to_resolution(35.199999999999996, 0.01) == 35.2
    assert round_to_resolution(0.1 + 0.2, 0.1) == 0.3
    assert round_to_resolution(12.37, 0.25) == 12.25
    assert round_to_resolution(1234567.891, 1.0) == 1234568.0
    assert str(round_to_resolution(-0.0004, 0.001)) == "0.0"  # no "-0.0"


def test_every_carrier_has_a_positive_default_resolution():
    for spec in CARRIERS.values():
        assert 0 < spec.resolution <= 1, spec


@given(st.floats(-1e9, 1e9, allow_nan=False),
       st.sampled_from([0.001, 0.01, 0.1, 0.25, 1.0, 5.0]))
def test_rounded_value_is_a_whole_number_of_steps_within_half_a_step(value, step):
    r = round_to_resolution(value, step)
    assert abs(r - value) <= step / 2 * (1 + 1e-9) + 1e-6
    steps = r / step
    assert math.isclose(steps, round(steps), abs_tol=1e-6)
    # written with no more decimals than the step has
    decimals = len(repr(step).split(".")[1].rstrip("0")) if "." in repr(step) else 0
    frac = repr(r).split(".")[1] if "." in repr(r) and "e" not in repr(r) else ""
    assert len(frac.rstrip("0")) <= max(decimals, 0) or abs(r) >= 1e16


def test_readings_answer_at_the_carriers_default_resolution(client, operator_key, make_enterprise,
                                                           make_meter):
    meter = make_meter(make_enterprise()["code"])
    assert meter["value_resolution"] == CARRIERS["electricity_import"].resolution == 0.01
    m = meter["code"]
    rows = [(m, "2026-03-01T10:00:00+08:00", 0.1), (m, "2026-03-01T10:15:00+08:00", 0.2),
            (m, "2026-03-01T10:30:00+08:00", 35.199999999999996),
            (m, "2026-03-01T10:45:00+08:00", 1.23456)]
    assert post_csv(client, operator_key, csv_rows(rows)).status_code == 200
    raw = series(client, operator_key, m, *DAY).json()["points"]
    assert [p["value"] for p in raw] == [0.1, 0.2, 35.2, 1.23]
    hour = series(client, operator_key, m, *DAY, "hour").json()["points"]
    assert [p["value"] for p in hour] == [36.73]  # 0.1 + 0.2 + 35.2 + 1.23456 at 0.01 kWh
    r = client.get(f"/v1/meters/{m}/readings", headers=auth(operator_key),
                   params={"start": DAY[0], "end": DAY[1], "resolution": "hour", "format": "csv"})
    assert r.text.splitlines()[1].split(",")[2] == "36.73"


def test_a_meter_registered_with_its_own_resolution(client, operator_key, make_enterprise,
                                                   make_meter):
    m = make_meter(make_enterprise()["code"], carrier="water", value_resolution=0.5)["code"]
    rows = [(m, "2026-03-01T10:00:00+08:00", 3.3), (m, "2026-03-01T10:15:00+08:00", 3.9)]
    assert post_csv(client, operator_key, csv_rows(rows)).status_code == 200
    assert [p["value"] for p in series(client, operator_key, m, *DAY).json()["points"]] == [
        3.5, 4.0]
    listed = client.get("/v1/meters", headers=auth(operator_key)).json()
    assert next(x for x in listed if x["code"] == m)["value_resolution"] == 0.5


@pytest.mark.parametrize("bad", [0, -0.01, "NaN", "Infinity", 1e300, "0.01\x00"])
def test_a_bad_resolution_is_refused_naming_the_field_and_stores_no_meter(
        client, operator_key, make_enterprise, bad):
    ent = make_enterprise()["code"]
    code = f"RES-{abs(hash(str(bad))) % 10**8}"
    r = client.post("/v1/meters", headers=auth(operator_key),
                    json={"code": code, "enterprise": ent, "carrier": "electricity_import",
                          "value_resolution": bad})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "value_resolution" in r.text
    listed = client.get("/v1/meters", headers=auth(operator_key),
                        params={"enterprise": ent}).json()
    assert listed == []


def test_a_mean_of_several_readings_keeps_its_digits(client, operator_key, make_enterprise,
                                                     make_meter):
    m = make_meter(make_enterprise()["code"], carrier="temp_air")["code"]  # 0.1 degC
    rows = [(m, "2026-03-01T10:00:00+08:00", 20.1), (m, "2026-03-01T10:15:00+08:00", 20.2),
            (m, "2026-03-01T10:30:00+08:00", 20.24)]
    assert post_csv(client, operator_key, csv_rows(rows)).status_code == 200
    raw = series(client, operator_key, m, *DAY).json()["points"]
    assert [p["value"] for p in raw] == [20.1, 20.2, 20.2]  # readings at 0.1 degC
    hour = series(client, operator_key, m, *DAY, "hour").json()["points"]
    assert hour[0]["value"] == pytest.approx((20.1 + 20.2 + 20.24) / 3, abs=1e-9)
