"""Restatements keep history: every close is a version; reopen and close again never delete;
the month lists its versions with who, when, why and the difference; ledger, indicators and
report answer any version and say "restated" when a later one exists."""

from __future__ import annotations

import pytest

from carbon import load_factor_set
from tests.carbon_api.carbon_api_helpers import K_ELEC, ledger, ok, upload_readings
from tests.conftest import auth

MONTH = "2022-06"  # used by no other test: closing freezes every enterprise's ledger
TS = "2022-06-10T08:00:00+08:00"
EF_RES_2022 = load_factor_set("cn-2026-11").electricity_co2("national_residual", 2022).value


def test_restated_month_keeps_both_versions(client, make_enterprise, make_meter, make_key,
                                            operator_key):
    ent = make_enterprise()
    meter = make_meter(ent["code"])["code"]
    key = make_key("enterprise", ent["code"])
    op = auth(operator_key)
    upload_readings(client, key, [(meter, TS, 1000)])
    first = ok(client.post(f"/v1/carbon/periods/{MONTH}/close", headers=op))
    assert first["version"] == 1
    v1 = ok(ledger(client, key, MONTH))
    assert (v1["version"], v1["latest_version"], v1["restated"]) == (1, 1, False)

    # a corrected meter reading in the closed month is stored, and the answer says so
    fixed = upload_readings(client, key, [(meter, TS, 1500)])
    assert fixed["revised"] == 1 and fixed["closed_periods_touched"] == [MONTH]
    again = upload_readings(client, key, [(meter, TS, 1500)])  # same again: nothing new
    assert again["closed_periods_touched"] == []
    alerts = [a for a in ok(client.get("/v1/alerts", headers=op))
              if a["kind"] == "closed_period_changed" and MONTH in a["message"]]
    assert len(alerts) == 1 and "reopen" in alerts[0]["message"]
    assert ok(ledger(client, key, MONTH))["energy_tce"] == pytest.approx(1000 * K_ELEC)
    reason = "meter M-1 read 1,500 kWh; the first upload was a manual estimate"
    ok(client.post(f"/v1/carbon/periods/{MONTH}/reopen", json={"reason": reason}, headers=op))
    second = ok(client.post(f"/v1/carbon/periods/{MONTH}/close", headers=op))
    assert second["version"] == 2 and second["event"] != first["event"]

    # both versions stay retrievable; the first says it was restated
    old = ok(ledger(client, key, MONTH, version=1))
    new = ok(ledger(client, key, MONTH))
    assert old["energy_tce"] == pytest.approx(1000 * K_ELEC) and old["restated"] is True
    assert old["latest_version"] == 2 and old["input_hash"] == v1["input_hash"]
    assert new["energy_tce"] == pytest.approx(1500 * K_ELEC)
    assert (new["version"], new["restated"]) == (2, False)
    assert ok(ledger(client, key, MONTH, version=2))["input_hash"] == new["input_hash"]
    # a verifier recomputes a closed version under the other basis (等价值, 300.7 gce/kWh)
    eq = ok(ledger(client, key, MONTH, version=1, basis="equivalent"))
    assert eq["energy_tce"] == pytest.approx(1000 * 300.7e-6) and eq["recomputed"]
    assert eq["version"] == 1 and eq["restated"] is True
    park_v1 = ok(ledger(client, operator_key, MONTH, scope="park", version=1))
    assert park_v1["restated"] is True

    detail = ok(client.get(f"/v1/carbon/periods/{MONTH}", headers=op))
    versions = detail["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["reason"] is None and versions[0]["difference"] is None
    v2 = versions[1]
    assert v2["reason"] == reason and v2["closed_by"].startswith("key ") and v2["closed_at"]
    assert v2["reopened_by"].startswith("key ") and v2["current"] is True
    diff = v2["difference"]
    assert diff["against_version"] == 1
    assert diff["energy_tce_delta"] == pytest.approx(500 * K_ELEC)
    assert diff["co2_t_delta"] == pytest.approx(0.5 * EF_RES_2022)
    assert {"park", ent["code"]} <= set(diff["ledgers_changed"])
    assert [e["action"] for e in detail["events"]] == ["close", "reopen", "close"]

    ind = ok(client.get("/v1/indicators", headers=auth(key), params={
        "scope": "enterprise", "period": MONTH, "version": 1}))
    assert ind["restated"] is True and ind["version"] == 1
    assert ind["indicators"]["energy_tce"] == pytest.approx(1000 * K_ELEC)

    for lang, word in (("zh", "已更正"), ("en", "restated")):
        r = client.get("/v1/carbon/report", headers=op,
                       params={"period": MONTH, "lang": lang, "version": 1})
        assert r.status_code == 200, r.text
        assert word in r.text and reason in r.text
    r = client.get("/v1/carbon/report", headers=op, params={"period": MONTH, "lang": "zh"})
    assert "已更正（存在更新版本）" not in r.text and reason in r.text

    # a version that does not exist, or a version of a year, are problems
    assert ledger(client, key, MONTH, version=3).status_code == 404
    r = ledger(client, key, "2022", version=1)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "version"
    # an enterprise never reads another enterprise's versions
    other = make_enterprise()
    assert ledger(client, key, MONTH, other["code"], version=1).status_code == 404
