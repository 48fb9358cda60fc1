"""POST /v1/readings: counts, idempotency, revisions, all-or-nothing, every rejection, flags."""

from __future__ import annotations

import pytest

from tests.conftest import auth
from tests.foundation.helpers import DAY, csv_rows, post_csv, series

T0 = "2026-03-01T00:00:00+08:00"
T1 = "2026-03-01T00:15:00+08:00"
T2 = "2026-03-01T00:30:00+08:00"
T3 = "2026-03-01T00:45:00+08:00"


@pytest.fixture
def meter(make_enterprise, make_meter):
    ent = make_enterprise()
    return make_meter(ent["code"], max_per_hour=400.0)


def test_upload_counts_and_answer_shape(client, operator_key, meter):
    m = meter["code"]
    r = post_csv(client, operator_key, csv_rows([(m, T0, 1.5), (m, T1, 2.5)]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("inserted", "unchanged", "revised", "flagged")} == {
        "inserted": 2, "unchanged": 0, "revised": 0, "flagged": 0}
    assert isinstance(body["batch"], int)
    points = series(client, operator_key, m, *DAY).json()["points"]
    assert [(p["start"], p["value"], p["quality"]) for p in points] == [
        (T0, 1.5, "ok"), (T1, 2.5, "ok")]


def test_same_batch_again_changes_nothing(client, operator_key, meter):
    text = csv_rows([(meter["code"], T0, 1.0), (meter["code"], T1, 2.0)])
    assert post_csv(client, operator_key, text).json()["inserted"] == 2
    again = post_csv(client, operator_key, text).json()
    assert (again["inserted"], again["unchanged"], again["revised"]) == (0, 2, 0)
    revs = client.get(f"/v1/meters/{meter['code']}/revisions", headers=auth(operator_key)).json()
    assert revs == []


def test_changed_value_is_a_revision_with_audit_trail(client, operator_key, make_key, meter):
    m = meter["code"]
    first = post_csv(client, operator_key, csv_rows([(m, T0, 1.0), (m, T1, 2.0)])).json()
    second_key = make_key("operator")
    second = post_csv(client, second_key, csv_rows([(m, T0, 1.0), (m, T1, 7.0), (m, T2, 3.0)]))
    assert second.status_code == 200
    body = second.json()
    assert (body["inserted"], body["unchanged"], body["revised"]) == (1, 1, 1)
    values = [p["value"] for p in series(client, operator_key, m, *DAY).json()["points"]]
    assert values == [1.0, 7.0, 3.0]
    revs = client.get(f"/v1/meters/{m}/revisions", headers=auth(operator_key)).json()
    assert len(revs) == 1
    rev = revs[0]
    assert (rev["old_value"], rev["new_value"]) == (2.0, 7.0)
    assert rev["old_batch"] == first["batch"] and rev["batch"] == body["batch"]
    assert rev["revised_by_key_prefix"] == second_key[:8]
    assert rev["revised_at"]


def test_json_upload_many_meters(client, operator_key, make_enterprise, make_meter):
    ent = make_enterprise()
    a, b = make_meter(ent["code"]), make_meter(ent["code"], carrier="water")
    rows = [{"meter": a["code"], "ts": T0, "value": 4},
            {"meter": b["code"], "ts": T0, "value": 0.5}]
    r = client.post("/v1/readings", json=rows, headers=auth(operator_key))
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 2
    # Mixed value types in one batch and the {"readings": [...]} envelope are accepted too.
    more = {"readings": [{"meter": a["code"], "ts": T1, "value": "4.5"},
                         {"meter": b["code"], "ts": T1, "value": 1}]}
    r = client.post("/v1/readings", json=more, headers=auth(operator_key))
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 2
    bad = [{"meter": a["code"], "ts": T2, "value": True}]
    r = client.post("/v1/readings", json=bad, headers=auth(operator_key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "value"


def _rejected(r, row: int, field: str) -> str:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    hits = [e for e in r.json()["errors"] if e["row"] == row and e["field"] == field]
    assert hits, r.json()["errors"]
    return hits[0]["message"]


def _nothing_stored(client, key, meter_code):
    assert series(client, key, meter_code, *DAY).json()["points"] == []


def test_batch_is_all_or_nothing(client, operator_key, meter):
    m = meter["code"]
    r = post_csv(client, operator_key, csv_rows([(m, T0, 1.0), (m, T1, "abc"), (m, T2, 2.0)]))
    _rejected(r, 2, "value")
    _nothing_stored(client, operator_key, m)


def test_unknown_meter_rejected(client, operator_key, meter):
    rows = [(meter["code"], T0, 1), ("NO-SUCH-METER", T0, 1)]
    r = post_csv(client, operator_key, csv_rows(rows))
    assert "unknown meter" in _rejected(r, 2, "meter")
    _nothing_stored(client, operator_key, meter["code"])


def test_other_enterprises_meter_rejected_like_unknown(
    client, make_enterprise, make_meter, make_key, operator_key
):
    mine, other = make_enterprise(), make_enterprise()
    my_meter, their_meter = make_meter(mine["code"]), make_meter(other["code"])
    key = make_key("enterprise", mine["code"])
    r = post_csv(client, key, csv_rows([(my_meter["code"], T0, 1), (their_meter["code"], T0, 1)]))
    assert "unknown meter" in _rejected(r, 2, "meter")
    _nothing_stored(client, operator_key, their_meter["code"])
    _nothing_stored(client, operator_key, my_meter["code"])


@pytest.mark.parametrize(("ts", "needle"), [
    ("2026-03-01T00:00:00", "no UTC offset"),
    ("2026-03-01 noon", "ISO 8601"),
    ("", "ISO 8601"),
])
def test_naive_or_malformed_timestamps_rejected(client, operator_key, meter, ts, needle):
    r = post_csv(client, operator_key, csv_rows([(meter["code"], T0, 1), (meter["code"], ts, 1)]))
    assert needle in _rejected(r, 2, "ts")
    _nothing_stored(client, operator_key, meter["code"])


def test_timestamp_off_the_meter_grid_rejected(client, operator_key, meter):
    r = post_csv(client, operator_key, csv_rows([(meter["code"], "2026-03-01T00:07:00+08:00", 1)]))
    assert "grid" in _rejected(r, 1, "ts")


def test_grid_is_anchored_at_shanghai_midnight(client, operator_key, make_enterprise, make_meter):
    m = make_meter(make_enterprise()["code"], interval_minutes=1440)["code"]
    # 16:00 UTC is 00:00 in Asia/Shanghai: on a daily meter's grid; 00:00 UTC is 08:00: off it.
    ok = post_csv(client, operator_key, csv_rows([(m, "2026-03-01T16:00:00Z", 5)]))
    assert ok.status_code == 200, ok.text
    bad = post_csv(client, operator_key, csv_rows([(m, "2026-03-01T00:00:00Z", 5)]))
    _rejected(bad, 1, "ts")


def test_duplicates_with_different_values_rejected_same_collapse(client, operator_key, meter):
    m = meter["code"]
    r = post_csv(client, operator_key, csv_rows([(m, T0, 1), (m, T1, 2), (m, T1, 3)]))
    assert "row 2" in _rejected(r, 3, "value")
    _rejected(r, 2, "value")
    ok = post_csv(client, operator_key, csv_rows([(m, T0, 1), (m, T1, 2), (m, T1, 2)]))
    assert ok.json()["inserted"] == 2


def test_negative_interval_consumption_rejected(client, operator_key, meter):
    r = post_csv(client, operator_key, csv_rows([(meter["code"], T0, -0.5)]))
    assert "negative" in _rejected(r, 1, "value")


def test_body_over_the_size_limit_is_413_problem(make_app, make_key):
    from fastapi.testclient import TestClient

    app = make_app(max_body_bytes=1000)
    with TestClient(app) as small:
        big = "meter,ts,value\n" + "X,2026-03-01T00:00:00+08:00,1\n" * 100
        r = small.post("/v1/readings", content=big.encode(),
                       headers={**auth(make_key("operator")), "content-type": "text/csv"})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")


def test_batch_over_the_row_limit_is_413(make_app, make_key, meter):
    from fastapi.testclient import TestClient

    app = make_app(max_batch_rows=2)
    with TestClient(app) as small:
        text = csv_rows([(meter["code"], t, 1) for t in (T0, T1, T2)])
        r = small.post("/v1/readings", content=text.encode(),
                       headers={**auth(make_key("operator")), "content-type": "text/csv"})
    assert r.status_code == 413


def test_units_convert_to_canonical(client, operator_key, make_enterprise, make_meter):
    ent = make_enterprise()
    power = make_meter(ent["code"], unit="MWh")["code"]
    # Meter declared in MWh: 0.25 MWh = 250 kWh; a row may name its own unit: 500 Wh = 0.5 kWh.
    r = post_csv(client, operator_key, csv_rows([(power, T0, "0.25", ""), (power, T1, 500, "Wh")],
                                                 ",unit"))
    assert r.status_code == 200, r.text
    body = series(client, operator_key, power, *DAY).json()
    assert body["unit"] == "kWh"
    assert [p["value"] for p in body["points"]] == [250.0, 0.5]
    diesel = make_meter(ent["code"], carrier="diesel", unit="L", density_kg_per_l=0.84)["code"]
    # 1000 L x 0.84 kg/L = 840 kg = 0.84 t (canonical unit of diesel: t).
    r = post_csv(client, operator_key, csv_rows([(diesel, T0, 1000)]))
    assert r.status_code == 200, r.text
    assert series(client, operator_key, diesel, *DAY).json()["points"][0]["value"] == (
        pytest.approx(0.84))


def test_litres_without_density_rejected(client, operator_key, make_enterprise, make_meter):
    lpg = make_meter(make_enterprise()["code"], carrier="lpg")["code"]
    r = post_csv(client, operator_key, csv_rows([(lpg, T0, 10, "L")], ",unit"))
    assert "density" in _rejected(r, 1, "unit")


def test_cumulative_register_becomes_interval_consumption(
    client, operator_key, make_enterprise, make_meter
):
    m = make_meter(make_enterprise()["code"], register="cumulative")["code"]
    # Register 100 at T0 is the baseline; 110 at T1 closes [T0, T1): 10; 125 at T2 closes [T1, T2).
    r = post_csv(client, operator_key, csv_rows([(m, T0, 100), (m, T1, 110), (m, T2, 125)]))
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 2
    pts = series(client, operator_key, m, *DAY).json()["points"]
    assert [(p["start"], p["value"]) for p in pts] == [(T0, 10.0), (T1, 15.0)]
    # The next batch continues from the stored register: 131 at T3 closes [T2, T3): 131 - 125 = 6.
    r = post_csv(client, operator_key, csv_rows([(m, T3, 131)]))
    assert r.json()["inserted"] == 1
    pts = series(client, operator_key, m, *DAY).json()["points"]
    assert pts[-1]["start"] == T2 and pts[-1]["value"] == 6.0


def test_register_reset_and_rollover_are_not_huge_steps(
    client, operator_key, make_enterprise, make_meter
):
    ent = make_enterprise()
    reset = make_meter(ent["code"], register="cumulative")["code"]
    # 500 -> 510 (10), then 4: the meter was zeroed; consumption since reset = 4, flagged.
    rows = [(reset, T0, 500), (reset, T1, 510), (reset, T2, 4)]
    r = post_csv(client, operator_key, csv_rows(rows))
    assert r.status_code == 200, r.text
    pts = series(client, operator_key, reset, *DAY).json()["points"]
    assert [(p["value"], p["quality"]) for p in pts] == [(10.0, "ok"), (4.0, "reset")]
    roll = make_meter(ent["code"], register="cumulative", rollover_at=10000)["code"]
    # 9990 -> 5 on a register wrapping at 10000: 10000 - 9990 + 5 = 15.
    r = post_csv(client, operator_key, csv_rows([(roll, T0, 9990), (roll, T1, 5)]))
    pts = series(client, operator_key, roll, *DAY).json()["points"]
    assert [(p["value"], p["quality"]) for p in pts] == [(15.0, "rollover")]
    assert r.json()["flagged"] == 1


def test_gaps_implausible_and_estimated_are_kept_and_flagged(client, operator_key, meter):
    m = meter["code"]
    # max_per_hour = 400 kWh -> 100 kWh per 15 min; 150 is implausible. T2 is missing (a gap).
    text = csv_rows([(m, T0, 150, "ok"), (m, T1, 20, "estimated"), (m, T3, 10, "")], ",quality")
    r = post_csv(client, operator_key, text)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["inserted"] == 3 and body["flagged"] == 2
    assert body["flags"] == {"implausible": 1, "estimated": 1}
    assert body["gaps"][0]["missing_intervals"] == 1
    pts = series(client, operator_key, m, *DAY).json()["points"]
    assert [p["quality"] for p in pts] == ["implausible", "estimated", "ok"]


def test_unknown_quality_value_rejected(client, operator_key, meter):
    r = post_csv(client, operator_key, csv_rows([(meter["code"], T0, 1, "great")], ",quality"))
    _rejected(r, 1, "quality")


def test_unsupported_content_type_is_415(client, operator_key):
    r = client.post("/v1/readings", content=b"x", headers={**auth(operator_key),
                                                          "content-type": "application/xml"})
    assert r.status_code == 415
