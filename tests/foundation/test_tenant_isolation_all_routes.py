"""An enterprise's key never reads or writes another enterprise's data, by any route.

Enterprise B owns one resource of every kind (meter with readings, PV array and roof, storage
station, carbon activity, an alert). Enterprise A's key then calls every /v1 route: lists must not
mention anything of B's, B's resources must answer 403/404, and writes aimed at B must be
refused and change nothing. The last test fails when a new /v1 route is added without being
classified here, so isolation stays checked as the API grows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import auth, unique

DAY = "2026-03-02"
START, END = f"{DAY}T00:00:00+08:00", "2026-03-03T00:00:00+08:00"


@pytest.fixture(scope="module")
def world(client, operator_key, make_key, make_enterprise, make_meter) -> dict[str, Any]:
    a = make_enterprise(zone="A区")["code"]
    b = make_enterprise(zone="B区")["code"]
    a_meter = make_meter(a)["code"]
    b_meter = make_meter(b)["code"]
    b_pv_meter = make_meter(b, carrier="pv_generation")["code"]
    op = auth(operator_key)
    recent = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    csv = (
        f"meter,ts,value\n{b_meter},{DAY}T10:00:00+08:00,7\n"
        f"{b_meter},{recent.isoformat()},1\n{a_meter},{DAY}T10:00:00+08:00,3\n"
    )
    r = client.post("/v1/readings", content=csv, headers={**op, "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    b_array = unique("PVB")
    r = client.post(
        "/v1/pv/arrays",
        headers=op,
        json={
            "code": b_array,
            "enterprise": b,
            "capacity_kwp": 100,
            "tilt_deg": 20,
            "meter": b_pv_meter,
        },
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/v1/pv/roofs",
        headers=op,
        json={"enterprise": b, "name": unique("roof"), "roof_area_m2": 1000},
    )
    assert r.status_code == 201, r.text
    b_station = unique("BESS")
    r = client.post(
        "/v1/storage",
        headers=op,
        json={
            "code": b_station,
            "name": "B's station",
            "zone": "B区",
            "enterprise": b,
            "battery": {"power_charge_mw": 1, "power_discharge_mw": 1, "energy_mwh": 2},
        },
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/v1/carbon/activity",
        headers=op,
        json=[
            {
                "enterprise": b,
                "period": "2026-03",
                "quantity": "value_added_10k_yuan",
                "value": 123.0,
            }
        ],
    )
    assert r.status_code in (200, 201), r.text
    b_instrument = unique("GEC-B")
    r = client.post(
        "/v1/carbon/instruments",
        headers=op,
        json=[{"id": b_instrument, "kind": "gec", "enterprise": b, "period": "2026-03",
               "mwh": 7.0}],
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/v1/alerts/check",
        headers=op,
        params={
            "start": (recent - timedelta(hours=2)).isoformat(),
            "end": (recent + timedelta(hours=1)).isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    b_flex = unique("FLEXB")
    r = client.post("/v1/flex/resources", headers=op, json={
        "code": b_flex, "enterprise": b, "kind": "curtailable", "meter": b_meter,
        "max_reduction_kw": 10})
    assert r.status_code == 201, r.text
    b_ws = unique("WSB")
    r = client.post(
        "/v1/pv/weather-stations",
        headers=op,
        json={
            "code": b_ws,
            "ghi_meter": make_meter(b, carrier="ghi")["code"],
            "temp_air_meter": make_meter(b, carrier="temp_air")["code"],
        },
    )
    assert r.status_code == 201, r.text
    b_alerts = client.get("/v1/alerts", headers=op, params={"meter": b_meter}).json()
    assert b_alerts, "setup: B's meter should have a missing-data alert"
    return {
        "a": a,
        "b": b,
        "a_key": make_key("enterprise", enterprise=a),
        "b_meter": b_meter,
        "b_pv_meter": b_pv_meter,
        "b_array": b_array,
        "b_station": b_station,
        "b_alert": b_alerts[0]["id"],
        "b_instrument": b_instrument,
        "b_ws": b_ws,
        "b_flex": b_flex,
        "b_ws_meters": list(r.json()["meters"].values()),
    }


def b_markers(w: dict[str, Any]) -> list[str]:
    return [w["b"], w["b_meter"], w["b_pv_meter"], w["b_array"], w["b_station"],
            w["b_instrument"], w["b_ws"], w["b_flex"], *w["b_ws_meters"]]


# GET routes an enterprise may call on its own scope: (path, params). Nothing of B's may appear.
LISTS: list[tuple[str, dict[str, str]]] = [
    ("/v1/enterprises", {}),
    ("/v1/meters", {}),
    ("/v1/alerts", {}),
    ("/v1/park/energy", {"start": START, "end": END, "by": "enterprise"}),
    ("/v1/park/energy", {"start": START, "end": END, "by": "zone"}),
    ("/v1/pv/arrays", {}),
    ("/v1/pv/roofs", {}),
    ("/v1/pv/weather-stations", {}),
    ("/v1/pv/potential", {"by": "enterprise"}),
    (
        "/v1/pv/estimate",
        {"start": START, "end": END, "resolution": "day", "by": "zone", "weather": "clearsky"},
    ),
    ("/v1/storage", {}),
    ("/v1/carbon/activity", {}),
    ("/v1/carbon/activity/revisions", {}),
    ("/v1/carbon/instruments", {}),
    ("/v1/carbon/factor-sets", {}),
    ("/v1/overview", {"period": "day", "date": DAY}),
    ("/v1/overview", {"period": "year", "date": DAY}),
    ("/v1/overview/modules", {"period": "day", "date": DAY}),
    ("/v1/tariffs", {}),
    ("/v1/tariffs/example_tou_illustrative", {}),
    ("/v1/accounting-policies", {}),
    ("/v1/accounting-policies/default", {}),
    ("/v1/flex/resources", {}),
    ("/v1/flex/available", {"start": START, "end": END}),
    ("/v1/dr/events", {}),
    ("/v1/dr/summary", {"month": "2026-03"}),
]


def test_lists_never_mention_another_enterprise(client, world):
    key = auth(world["a_key"])
    for path, params in LISTS:
        r = client.get(path, params=params, headers=key)
        assert r.status_code in (200, 403), (path, r.status_code, r.text)
        for marker in b_markers(world):
            assert marker not in r.text, f"{path} leaks {marker}"


def b_reads(w: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"/v1/enterprises/{w['b']}", {}),
        (f"/v1/meters/{w['b_meter']}", {}),
        (f"/v1/meters/{w['b_meter']}/readings", {"start": START, "end": END}),
        (f"/v1/meters/{w['b_meter']}/revisions", {}),
        (f"/v1/pv/arrays/{w['b_array']}", {}),
        (
            f"/v1/pv/arrays/{w['b_array']}/estimate",
            {"start": START, "end": END, "resolution": "day", "weather": "clearsky"},
        ),
        (f"/v1/pv/arrays/{w['b_array']}/performance", {"start": START, "end": END}),
        (f"/v1/storage/{w['b_station']}", {}),
        (f"/v1/storage/{w['b_station']}/plan", {}),
        (f"/v1/storage/{w['b_station']}/health", {}),
        (f"/v1/storage/{w['b_station']}/resilience", {"start": START, "critical_load_mw": "1"}),
        ("/v1/carbon/ledger", {"scope": "enterprise", "code": w["b"], "period": "2026-03"}),
        ("/v1/carbon/ledger", {"scope": "park", "period": "2026-03"}),
        ("/v1/indicators", {"scope": "enterprise", "code": w["b"], "period": "2026"}),
        ("/v1/targets/status", {"scope": "enterprise", "code": w["b"], "as_of": "2026"}),
        ("/v1/carbon/activity", {"enterprise": w["b"]}),
        ("/v1/carbon/activity/revisions", {"enterprise": w["b"]}),
        ("/v1/carbon/instruments", {"enterprise": w["b"]}),
        (f"/v1/overview/enterprises/{w['b']}", {"period": "day", "date": DAY}),
        ("/v1/dr/events/no-such-event", {}),
        ("/v1/forecasts", {"target": "enterprise", "code": w["b"], "start": START}),
        ("/v1/forecasts", {"target": "meter", "code": w["b_meter"], "start": START}),
        ("/v1/forecasts", {"target": "array", "code": w["b_array"], "start": START}),
        ("/v1/forecasts", {"target": "zone", "code": "B区", "start": START}),
        ("/v1/forecasts", {"target": "park", "start": START}),
        # plans and settlements of real events: tests/vpp/test_dr_plan_settlement_api.py
        ("/v1/dr/events/no-such-event/plan", {}),
        ("/v1/dr/events/no-such-event/settlement", {}),
    ]


def test_another_enterprises_resources_are_not_found_or_forbidden(client, world):
    key = auth(world["a_key"])
    for path, params in b_reads(world):
        r = client.get(path, params=params, headers=key)
        if r.status_code == 200:
            # a scoped answer is acceptable only if it holds nothing of B's
            for marker in b_markers(world):
                assert marker not in r.text, f"{path} {params} leaks {marker}"
        else:
            assert r.status_code in (403, 404, 422), (path, params, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json"), path


def b_writes(w: dict[str, Any], key: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """Writes by A aimed at B's resources: (method, path, httpx kwargs)."""
    b_meter, b, station = w["b_meter"], w["b"], w["b_station"]
    return [
        (
            "post",
            "/v1/readings",
            {
                "content": f"meter,ts,value\n{b_meter},{DAY}T10:00:00+08:00,999\n",
                "headers": {**key, "content-type": "text/csv"},
            },
        ),
        (
            "post",
            "/v1/meters",
            {"json": {"code": unique("M"), "enterprise": b, "carrier": "water"}, "headers": key},
        ),
        (
            "post",
            "/v1/pv/arrays",
            {
                "json": {"code": unique("PV"), "enterprise": b, "capacity_kwp": 5, "tilt_deg": 10},
                "headers": key,
            },
        ),
        (
            "post",
            "/v1/pv/arrays",
            {
                "json": {
                    "code": unique("PV"),
                    "capacity_kwp": 5,
                    "tilt_deg": 10,
                    "weather_station": w["b_ws"],
                },
                "headers": key,
            },
        ),
        (
            "post",
            "/v1/pv/roofs",
            {"json": {"enterprise": b, "name": "x", "roof_area_m2": 10}, "headers": key},
        ),
        (
            "post",
            f"/v1/storage/{station}/dispatch",
            {
                "json": {
                    "start": START,
                    "step_minutes": 60,
                    "strategy": "optimal",
                    "load_mw": [1.0] * 24,
                    "pv_mw": [0.0] * 24,
                    "price_yuan_per_mwh": [300.0] * 24,
                },
                "headers": key,
            },
        ),
        (
            "post",
            f"/v1/storage/{station}/telemetry",
            {
                "content": f"ts,power_mw,soc_pct,temperature_c\n{DAY}T10:00:00+08:00,0,50,20\n",
                "headers": {**key, "content-type": "text/csv"},
            },
        ),
        (
            "post",
            f"/v1/storage/{station}/capacity-tests",
            {"json": {"tested_on": DAY, "capacity_mwh": 1.0}, "headers": key},
        ),
        (
            "post",
            "/v1/carbon/activity",
            {
                "json": [
                    {
                        "enterprise": b,
                        "period": "2026-03",
                        "quantity": "value_added_10k_yuan",
                        "value": 1.0,
                    }
                ],
                "headers": key,
            },
        ),
        (
            "post",
            "/v1/carbon/instruments",
            {
                "json": [{"id": unique("GEC"), "kind": "gec", "enterprise": b,
                          "period": "2026-03", "mwh": 1.0}],
                "headers": key,
            },
        ),
        (  # claiming B's instrument id for A: already claimed
            "post",
            "/v1/carbon/instruments",
            {
                "json": [{"id": w["b_instrument"], "kind": "gec", "period": "2026-03",
                          "mwh": 1.0}],
                "headers": key,
            },
        ),
        ("post", f"/v1/alerts/{w['b_alert']}/acknowledge", {"headers": key}),
        ("post", f"/v1/storage/{station}/plan", {"json": {"day": DAY}, "headers": key}),
        ("post", f"/v1/storage/{station}/safety-check", {"headers": key}),
        (
            "post",
            "/v1/flex/resources",
            {"json": {"code": w["b_flex"], "enterprise": b, "kind": "curtailable",
                      "meter": b_meter, "max_reduction_kw": 99}, "headers": key},
        ),
        (  # B's meter under A's own name
            "post",
            "/v1/flex/resources",
            {"json": {"code": w["b_flex"], "kind": "curtailable", "meter": b_meter,
                      "max_reduction_kw": 99}, "headers": key},
        ),
    ]


def test_writes_aimed_at_another_enterprise_are_refused_and_change_nothing(
    client, world, operator_key
):
    key = auth(world["a_key"])
    b_meter, b = world["b_meter"], world["b"]
    for method, path, kwargs in b_writes(world, key):
        r = getattr(client, method)(path, **kwargs)
        assert r.status_code in (403, 404, 409, 422), (path, r.status_code, r.text)
    op = auth(operator_key)
    series = client.get(
        f"/v1/meters/{b_meter}/readings", headers=op, params={"start": START, "end": END}
    ).json()
    assert [p["value"] for p in series["points"]] == [7.0]
    activity = client.get("/v1/carbon/activity", headers=op, params={"enterprise": b}).json()
    assert "123" in str(activity) and "'value': 1.0" not in str(activity)
    instruments = client.get("/v1/carbon/instruments", headers=op, params={"enterprise": b}).json()
    assert [(i["id"], i["mwh"], i["revisions"]) for i in instruments] == [
        (world["b_instrument"], 7.0, 0)]
    alert = [
        a
        for a in client.get("/v1/alerts", headers=op, params={"meter": b_meter}).json()
        if a["id"] == world["b_alert"]
    ]
    assert alert and not alert[0].get("acknowledged_at")
    flex = [x for x in client.get("/v1/flex/resources", headers=op).json()
            if x["code"] == world["b_flex"]]
    assert [(x["enterprise"], x["max_reduction_kw"]) for x in flex] == [(b, 10.0)]


# Routes an enterprise key may not use at all (operators/planners only): it gets 403.
OPERATOR_ONLY: list[tuple[str, str, dict[str, Any]]] = [
    ("post", "/v1/enterprises", {"json": {"code": "X", "name": "x", "zone": "A区"}}),
    ("post", "/v1/alerts/check", {}),
    (
        "post",
        "/v1/pv/weather-stations",
        {"json": {"code": "WS", "ghi_meter": "x", "temp_air_meter": "y"}},
    ),
    ("patch", "/v1/pv/weather-stations/WS", {"json": {"shared": True}}),
    ("post", "/v1/pv/performance/check", {}),
    ("post", "/v1/storage", {"json": {"code": "S", "name": "s", "zone": "A区"}}),
    ("post", "/v1/scenarios", {"json": {"name": "x"}}),
    ("get", "/v1/scenarios", {}),
    ("post", "/v1/carbon/periods/2026-03/close", {}),
    ("post", "/v1/carbon/periods/2026-03/reopen", {"json": {"reason": "x"}}),
    ("get", "/v1/carbon/periods/2026-03", {}),
    ("get", "/v1/carbon/report", {"params": {"period": "2026-03"}}),
    ("get", "/v1/scenarios/999999", {}),
    ("get", "/v1/scenarios/999999/series", {}),
    ("get", "/v1/scenarios/999999/sensitivity", {}),
    ("get", "/v1/scenarios/999999/plots/typical_week", {}),
    ("post", "/v1/tariffs", {"json": {"name": "t", "content": {}}}),
    ("post", "/v1/accounting-policies", {"json": {"name": "p", "content": {}}}),
    ("get", "/v1/keys", {}),
    ("post", "/v1/keys", {"json": {"role": "operator"}}),
    ("post", "/v1/keys/999999/revoke", {}),
    ("post", "/v1/keys/999999/rotate", {}),
    ("post", "/v1/dr/events", {"json": {"id": "E"}}),
    ("get", "/v1/dr/openadr", {}),
    ("post", "/v1/dr/events/no-such-event/plan", {}),
    ("post", "/v1/dr/events/no-such-event/settlement", {}),
]


def test_operator_and_planner_routes_refuse_an_enterprise_key(client, world):
    key = auth(world["a_key"])
    for method, path, kwargs in OPERATOR_ONLY:
        r = getattr(client, method)(path, headers=key, **kwargs)
        assert r.status_code == 403, (method, path, r.status_code, r.text)


def test_every_v1_route_is_classified_here(app, world):
    """A new /v1 route must be added to one of the tables above."""
    covered = {("GET", p) for p, _ in LISTS} | {("GET", p) for p, _ in b_reads(world)}
    covered |= {(m.upper(), p) for m, p, _ in OPERATOR_ONLY}
    covered |= {(m.upper(), p) for m, p, _ in b_writes(world, {})}
    paths = app.openapi()["paths"]
    routes = {(m.upper(), p) for p, ops in paths.items() for m in ops if p.startswith("/v1")}
    assert len(routes) > 40
    missing = sorted((m, p) for m, p in routes if (m, _concrete(p, world)) not in covered)
    assert not missing, f"classify these routes in {__name__}: {missing}"


def _concrete(path: str, w: dict[str, Any]) -> str:
    """The concrete path the tables above use for a templated route."""
    return (
        path.replace("/v1/overview/enterprises/{code}", f"/v1/overview/enterprises/{w['b']}")
        .replace("/v1/enterprises/{code}", f"/v1/enterprises/{w['b']}")
        .replace("/v1/meters/{code}", f"/v1/meters/{w['b_meter']}")
        .replace("/v1/pv/arrays/{code}", f"/v1/pv/arrays/{w['b_array']}")
        .replace("/v1/storage/{code}", f"/v1/storage/{w['b_station']}")
        .replace("/v1/alerts/{alert_id}", f"/v1/alerts/{w['b_alert']}")
        .replace("/v1/pv/weather-stations/{code}", "/v1/pv/weather-stations/WS")
        .replace("{run_id}", "999999")
        .replace("{key_id}", "999999")
        .replace("{tariff}", "example_tou_illustrative")
        .replace("{policy}", "default")
        .replace("{name}", "typical_week")
        .replace("{period}", "2026-03")
        .replace("{event_id}", "no-such-event")
    )
