"""No client field names a server file: tariffs and accounting policies are chosen by name from
the registry (shipped data files plus operator uploads). A path, existing or not, gets the same
422 as any unknown name; uploaded tariffs and policies work by name everywhere."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import text

from carbon.policy import DEFAULT_POLICY_FILE
from energy.tariffs import TARIFF_DIR
from tests.conftest import auth, unique

SHIPPED_FILE = str((TARIFF_DIR / "example_tou_illustrative.yaml").resolve())
PATHS = [
    "/etc/passwd",  # exists, not YAML of a tariff
    SHIPPED_FILE,  # exists, a valid tariff file
    "/no/such/dir/tariff.yaml",  # missing
    "../../../../../../etc/hostname",
    "no_such_tariff",
]
DAY = "2026-03-02T00:00:00+08:00"


def _same_answer(responses: list[Any]) -> None:
    bodies = [r.json() for r in responses]
    assert all(r.status_code == 422 for r in responses), [r.text for r in responses]
    assert all(r.headers["content-type"].startswith("application/problem+json")
               for r in responses)
    assert all(b == bodies[0] for b in bodies), bodies
    assert "passwd" not in str(bodies[0]) and "tariffs/" not in str(bodies[0])


def _station(client, key: str, **fields: Any) -> Any:
    body = {"code": unique("BESS"), "name": "测试储能电站", "zone": "B区", **fields}
    return client.post("/v1/storage", json=body, headers=auth(key))


def _dispatch(client, key: str, code: str, **fields: Any) -> Any:
    body = {"start": DAY, "step_minutes": 60, "strategy": "rule", "load_mw": [20.0] * 24,
            "pv_mw": [0.0] * 11 + [30.0] * 4 + [0.0] * 9, **fields}
    return client.post(f"/v1/storage/{code}/dispatch", json=body, headers=auth(key))


def test_storage_tariff_naming_a_path_gets_one_422_whatever_exists(client, operator_key):
    _same_answer([_station(client, operator_key, tariff=p) for p in PATHS])
    st = _station(client, operator_key)
    assert st.status_code == 201, st.text
    code = st.json()["code"]
    _same_answer([_dispatch(client, operator_key, code, tariff=p) for p in PATHS])
    r = _dispatch(client, operator_key, code, tariff=PATHS[0])
    assert r.json()["errors"][0]["field"] == "tariff"


def test_scenario_accounting_policy_path_is_refused_whatever_exists(client, operator_key):
    from tests.simulations.test_sim_api import scenario

    paths = ["/etc/passwd", str(DEFAULT_POLICY_FILE.resolve()), "/no/such/policy.yaml"]
    answers = [client.post("/v1/scenarios", headers=auth(operator_key),
                           json=scenario(name="p", accounting_policy={"path": p}))
               for p in paths]
    _same_answer(answers)
    assert answers[0].json()["errors"][0]["field"] == "accounting_policy.path"
    unknown = [client.post("/v1/scenarios", headers=auth(operator_key),
                           json=scenario(name="p", accounting_policy={"policy": p}))
               for p in [*paths, "no_such_policy"]]
    _same_answer(unknown)
    assert unknown[0].json()["errors"][0]["field"] == "accounting_policy.policy"
    _same_answer([client.post("/v1/scenarios", headers=auth(operator_key),
                              json=scenario(name="t", tariff=p)) for p in PATHS])


TARIFF_YAML = """
# a flat tariff: one price all day
version: "2026-12"
timezone: Asia/Shanghai
source: test upload
demand_charge_yuan_per_kw_month: 0
prices_yuan_per_mwh: {flat: 400.0}
periods:
  - {start: "00:00", end: "24:00", period: flat}
"""


def test_shipped_and_uploaded_tariffs_are_chosen_by_name(client, operator_key, make_key):
    op = auth(operator_key)
    listed = client.get("/v1/tariffs", headers=auth(make_key("planner"))).json()
    assert {"name": "example_tou_illustrative", "version": "2026-11-25",
            "origin": "shipped"} in listed
    name = unique("flat")
    r = client.post("/v1/tariffs", headers=op, json={"name": name, "content": TARIFF_YAML})
    assert r.status_code == 201, r.text
    assert r.json()["content"]["prices_yuan_per_mwh"] == {"flat": 400.0}
    # the same content again changes nothing; other content under the name is a conflict
    again = client.post("/v1/tariffs", headers=op, json={"name": name, "content": TARIFF_YAML})
    assert again.status_code == 200
    other = TARIFF_YAML.replace("400.0", "500.0")
    assert client.post("/v1/tariffs", headers=op,
                       json={"name": name, "content": other}).status_code == 409
    assert client.post("/v1/tariffs", headers=op, json={
        "name": "example_tou_illustrative", "content": TARIFF_YAML}).status_code == 409
    assert {"name": name, "version": "2026-12", "origin": "uploaded"} in client.get(
        "/v1/tariffs", headers=op).json()
    detail = client.get(f"/v1/tariffs/{name}", headers=op).json()
    assert detail["content"]["periods"] == [{"start": "00:00", "end": "24:00", "period": "flat"}]
    assert client.get("/v1/tariffs/no_such_tariff", headers=op).status_code == 404

    # a station on the uploaded tariff dispatches on its flat price
    st = _station(client, operator_key, tariff=name)
    assert st.status_code == 201, st.text
    r = _dispatch(client, operator_key, st.json()["code"])
    assert r.status_code == 200, r.text
    assert r.json()["inputs"]["tariff"] == name
    assert r.json()["inputs"]["tariff_version"] == "2026-12"
    shipped = _dispatch(client, operator_key, st.json()["code"],
                        tariff="example_tou_illustrative")
    assert shipped.status_code == 200 and shipped.json()["inputs"]["tariff"] != name


def test_uploaded_tariffs_are_validated_by_the_library(client, operator_key):
    op = auth(operator_key)
    gap = TARIFF_YAML.replace('end: "24:00"', 'end: "23:00"')  # the day is not covered
    cases = [gap, "periods: [unclosed", "- a list", {"periods": "x"},
             TARIFF_YAML.replace("400.0", ".nan"),
             TARIFF_YAML.replace("Asia/Shanghai", "../../etc/passwd")]
    for content in cases:
        r = client.post("/v1/tariffs", headers=op, json={"name": unique("bad"),
                                                         "content": content})
        assert r.status_code == 422, (content, r.text)
        assert r.json()["errors"][0]["field"] == "content"
    r = client.post("/v1/tariffs", headers=op, json={"name": "../etc", "content": TARIFF_YAML})
    assert r.status_code == 422


def test_an_uploaded_accounting_policy_is_used_by_name_in_a_scenario(client, engine,
                                                                    operator_key):
    from simulations import parse_scenario
    from simulations.runner import _policy, _tariff
    from tests.simulations.test_sim_api import scenario

    op = auth(operator_key)
    doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    doc["grid_electricity_clean_share_pct"]["value"] = 42.0
    name = unique("policy")
    r = client.post("/v1/accounting-policies", headers=op,
                    json={"name": name, "content": doc})
    assert r.status_code == 201, r.text
    assert r.json()["content"]["grid_electricity_clean_share_pct"] == 42.0
    assert {"name": "default", "version": "2026-11", "origin": "shipped"} in client.get(
        "/v1/accounting-policies", headers=op).json()
    bad = dict(doc, electricity_tce_basis={"value": "guess"})
    assert client.post("/v1/accounting-policies", headers=op,
                       json={"name": unique("p"), "content": bad}).status_code == 422

    tariff = unique("flat")
    assert client.post("/v1/tariffs", headers=op,
                       json={"name": tariff, "content": TARIFF_YAML}).status_code == 201
    r = client.post("/v1/scenarios", headers=op, json=scenario(
        tariff=tariff, accounting_policy={"policy": name, "milestone_rule": "none"}))
    assert r.status_code == 202, r.text
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT scenario FROM scenario_runs WHERE id = :id"),
                              {"id": r.json()["id"]}).scalar()
    # the worker gets the registry's content, not a name to resolve or a file to open
    parsed = parse_scenario(stored)
    policy = _policy(parsed)
    assert policy.grid_electricity_clean_share_pct == 42.0
    assert policy.milestone_rule == "none"
    assert _tariff(parsed).prices_yuan_per_mwh == {"flat": 400.0}
    shipped = client.post("/v1/scenarios", headers=op,
                          json=scenario(accounting_policy={"policy": "default"}))
    assert shipped.status_code == 202, shipped.text
