"""Green-electricity instruments through the API: an id is claimed once in the park; a
certificate bundled with a direct supply adds nothing; direct supply is matched to the
green-direct meter; an enterprise's surplus never covers another's electricity; the old
activity quantities are refused with a pointer to instruments; closed months are flagged."""

from __future__ import annotations

import pytest

from carbon import load_factor_set
from tests.carbon_api.carbon_api_helpers import K_ELEC, ledger, ok, record, upload_readings
from tests.conftest import auth, unique

FS = load_factor_set("cn-2026-11")
# The factors the ledger uses for a period: the latest published year <= the period's year.
EF_RES_2023 = FS.electricity_co2("national_residual", 2026).value  # 0.6096 tCO2/MWh
EF_LOC_2023 = FS.electricity_co2("national_average", 2026).value  # 0.5306 tCO2/MWh
EF_RES_2021 = FS.electricity_co2("national_residual", 2021).value  # 0.5942 tCO2/MWh


def post(client, key, items, **kw):
    return client.post("/v1/carbon/instruments", json=items, headers=auth(key), **kw)


@pytest.fixture
def direct_firm(client, make_enterprise, make_meter, make_key):
    """1,000 MWh through the grid meter and 150 MWh on the green-direct line in 2026-05."""
    ent = make_enterprise()
    grid = make_meter(ent["code"])["code"]
    green = make_meter(ent["code"], green_direct_supply=True)["code"]
    key = make_key("enterprise", ent["code"])
    upload_readings(client, key, [(grid, "2026-05-10T08:00:00+08:00", 1_000_000),
                                  (green, "2026-05-10T08:00:00+08:00", 150_000)])
    return {"code": ent["code"], "key": key}


def test_direct_supply_with_bundled_certificates_matches_the_hand_figures(client, direct_firm):
    key, code = direct_firm["key"], direct_firm["code"]
    dl, g1, g2 = unique("DL"), unique("GEC"), unique("GEC")
    r = post(client, key, [
        {"id": dl, "kind": "direct_supply", "period": "2026-05", "mwh": 150,
         "source": "line 7 settlement"},
        {"id": g1, "kind": "gec", "period": "2026-05", "mwh": 100, "bundled_with": dl,
         "source": "certificates issued with the line-7 power"},
        {"id": g2, "kind": "gec", "period": "2026-05", "mwh": 200, "source": "registry"}])
    assert ok(r)["inserted"] == 3 and r.json()["closed_periods_touched"] == []
    led = ok(ledger(client, key, "2026-05"))
    s2 = led["scope2_electricity"]
    # By hand: the 150 MWh direct supply is covered by its own instrument (0 t); its 100
    # bundled certificates are its proof and cover nothing else; the 200 unbundled certificates
    # cover 200 of the 1,000 grid MWh: (1,000 − 200) MWh × 0.6096 tCO2/MWh = 487.68 t.
    assert EF_RES_2023 == 0.6096
    assert s2["market_based_t"] == pytest.approx(487.68, abs=1e-6)
    assert s2["market_based_t"] == pytest.approx((1000 - 200) * EF_RES_2023, abs=1e-6)
    uses = {u["id"]: u for u in led["instrument_claims"]["instruments"]}
    assert uses[dl]["applied_mwh"] == pytest.approx(150)  # direct supply: 150 MWh at 0 t
    assert uses[g1]["coverage_mwh"] == 0 and uses[g1]["applied_mwh"] == 0
    assert uses[g2]["applied_mwh"] == pytest.approx(200)
    assert led["unused_instruments_mwh"] == 0
    # location-based: the direct line is not public-grid power: 1,000 MWh × 0.5306
    assert s2["location_based_t"] == pytest.approx(1000 * EF_LOC_2023, abs=1e-6)
    # clean share (electricity only): 150 + 200 MWh of 1,150 MWh
    ind = ok(client.get("/v1/indicators", headers=auth(key),
                        params={"scope": "enterprise", "code": code, "period": "2026-05"}))
    assert ind["indicators"]["clean_energy_share_pct"] == pytest.approx(350 / 1150 * 100)
    assert led["energy_tce"] == pytest.approx(1_150_000 * K_ELEC)
    # The same batch again changes nothing; the instruments are listed, scoped.
    again = post(client, key, [
        {"id": g2, "kind": "gec", "period": "2026-05", "mwh": 200, "source": "registry"}])
    assert (ok(again)["inserted"], again.json()["unchanged"], again.json()["revised"]) == (0, 1, 0)
    listed = ok(client.get("/v1/carbon/instruments", headers=auth(key)))
    assert {x["id"] for x in listed} == {dl, g1, g2}


def test_a_second_claim_is_refused_and_reveals_nothing(client, make_enterprise, make_key,
                                                        operator_key):
    a, b = make_enterprise(), make_enterprise()
    ka, kb = make_key("enterprise", a["code"]), make_key("enterprise", b["code"])
    gid = unique("GEC")
    ok(post(client, ka, [{"id": gid, "kind": "gec", "period": "2026-05", "mwh": 10,
                          "source": "A's secret contract"}]))
    mine = unique("GEC")
    r = post(client, kb, [{"id": mine, "kind": "gec", "period": "2026-05", "mwh": 5},
                          {"id": gid, "kind": "gec", "period": "2026-05", "mwh": 10}])
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"row": 2, "field": "id", "message": f"{gid} is already claimed"}]
    assert a["code"] not in r.text and "secret" not in r.text
    # all-or-nothing: B's own row was not stored either; B never lists A's instrument
    assert ok(client.get("/v1/carbon/instruments", headers=auth(kb))) == []
    # the operator cannot hand A's id to B either
    r = post(client, operator_key, [{"id": gid, "kind": "gec", "enterprise": b["code"],
                                     "period": "2026-05", "mwh": 10}])
    assert r.status_code == 409
    # bundling with another enterprise's instrument: it does not exist for B
    r = post(client, kb, [{"id": mine, "kind": "gec", "period": "2026-05", "mwh": 5,
                           "bundled_with": gid}])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "bundled_with"
    assert a["code"] not in r.text


def test_surplus_never_reaches_another_enterprise(client, make_enterprise, make_meter,
                                                  operator_key):
    # A month no other test uses: the park is exactly these two enterprises.
    a, b = make_enterprise(), make_enterprise()
    ma, mb = make_meter(a["code"])["code"], make_meter(b["code"])["code"]
    upload_readings(client, operator_key, [(ma, "2021-09-02T00:00:00+08:00", 100_000),
                                           (mb, "2021-09-02T00:00:00+08:00", 300_000)])
    ok(post(client, operator_key, [{"id": unique("GEC"), "kind": "gec", "enterprise": a["code"],
                                    "period": "2021-09", "mwh": 250}]))
    la = ok(ledger(client, operator_key, "2021-09", a["code"]))
    lb = ok(ledger(client, operator_key, "2021-09", b["code"]))
    park = ok(ledger(client, operator_key, "2021-09", scope="park"))
    # A covers its 100 MWh and keeps 150 MWh unused; B's 300 MWh stay at the residual factor.
    assert la["co2_market_based_t"] == 0 and la["unused_instruments_mwh"] == pytest.approx(150)
    assert lb["co2_market_based_t"] == pytest.approx(300 * EF_RES_2021)
    assert park["co2_market_based_t"] == pytest.approx(300 * EF_RES_2021)
    assert park["co2_market_based_t"] == pytest.approx(
        la["co2_market_based_t"] + lb["co2_market_based_t"])
    assert park["unused_instruments_mwh"] == pytest.approx(150)
    assert park["instrument_claims"]["pooled"] is False
    by = {x["code"]: x for x in park["instrument_claims"]["by_enterprise"]}
    assert by[a["code"]]["unused_mwh"] == pytest.approx(150)


def test_activity_quantities_for_instruments_are_refused(client, make_enterprise, make_key):
    ent = make_enterprise()
    key = make_key("enterprise", ent["code"])
    r = record(client, key, [{"period": "2026-05", "quantity": "value_added_10k_yuan",
                              "value": 5},
                             {"period": "2026-05", "quantity": "green_certificates_mwh",
                              "value": 300}])
    assert r.status_code == 422
    err = r.json()["errors"]
    assert [(e["row"], e["field"]) for e in err] == [(2, "quantity")]
    assert "/v1/carbon/instruments" in err[0]["message"]


def test_bad_instruments_name_row_and_field_and_store_nothing(client, make_enterprise,
                                                              make_key, operator_key):
    ent = make_enterprise()
    key = make_key("enterprise", ent["code"])
    t = unique("T")
    rows = [{"id": t, "kind": "green_power_trade", "period": "2026-05", "mwh": 50},
            {"id": unique("G"), "kind": "gec", "period": "2026-05", "mwh": 60,
             "bundled_with": t},  # more certificates than the trade
            {"id": unique("G"), "kind": "gec", "period": "2026", "mwh": 1},
            {"id": unique("G"), "kind": "offset", "period": "2026-05", "mwh": 1},
            {"id": unique("G"), "kind": "gec", "period": "2026-05", "mwh": "NaN"},
            {"id": t, "kind": "gec", "period": "2026-05", "mwh": 1}]
    r = post(client, key, rows)
    assert r.status_code == 422
    got = {(e["row"], e["field"]) for e in r.json()["errors"]}
    assert got == {(2, "mwh"), (3, "period"), (4, "kind"), (5, "mwh"), (6, "id")}
    assert ok(client.get("/v1/carbon/instruments", headers=auth(key))) == []
    csv_body = f"id,kind,period,mwh\n{unique('G')},gec,2026-05,3\n"
    r = client.post("/v1/carbon/instruments", content=csv_body.encode(),
                    headers={**auth(key), "content-type": "text/csv"})
    assert ok(r)["inserted"] == 1
    # a revision is kept with who and when
    gid = csv_body.splitlines()[1].split(",")[0]
    r = post(client, operator_key, [{"id": gid, "kind": "gec", "enterprise": ent["code"],
                                     "period": "2026-05", "mwh": 4}])
    assert ok(r)["revised"] == 1
    listed = ok(client.get("/v1/carbon/instruments", headers=auth(key)))
    assert [(x["id"], x["mwh"], x["revisions"]) for x in listed] == [(gid, 4.0, 1)]


def test_instrument_in_a_closed_month_is_stored_and_flagged(client, make_enterprise, make_key,
                                                            operator_key):
    month = "2021-11"  # used by no other test: closing freezes every enterprise's ledger
    ent = make_enterprise()
    key = make_key("enterprise", ent["code"])
    ok(client.post(f"/v1/carbon/periods/{month}/close", headers=auth(operator_key)))
    item = {"id": unique("GEC"), "kind": "gec", "period": month, "mwh": 1}
    r = post(client, key, [item])
    assert ok(r)["closed_periods_touched"] == [month]
    assert ok(post(client, key, [item]))["closed_periods_touched"] == []  # nothing new
    alerts = ok(client.get("/v1/alerts", headers=auth(operator_key)))
    mine = [a for a in alerts if a["kind"] == "closed_period_changed" and month in a["message"]]
    assert len(mine) == 1 and "reopen" in mine[0]["message"]
    # the frozen ledger is unchanged until a reopen
    assert ok(ledger(client, key, month))["instrument_claims"]["instruments"] == []


def test_concurrent_claims_of_one_id_have_one_winner(app, client, make_enterprise, make_key):
    """Two enterprises race for the same ids over real HTTP connections: each id ends up
    claimed exactly once, the loser gets 409, and nothing half-stored remains."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tests.live_server import live_server

    a, b = make_enterprise(), make_enterprise()
    keys = {a["code"]: make_key("enterprise", a["code"]),
            b["code"]: make_key("enterprise", b["code"])}
    ids = [unique("RACE") for _ in range(8)]

    def claim(args):
        base, code, gid = args
        with httpx.Client(base_url=base, timeout=30) as h:
            r = h.post("/v1/carbon/instruments", headers=auth(keys[code]),
                       json=[{"id": gid, "kind": "gec", "period": "2026-05", "mwh": 1,
                              "source": code}])
            return gid, code, r.status_code

    with live_server(app) as base, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, [(base, c, g) for g in ids for c in keys]))
    for gid in ids:
        codes = sorted(s for g, _, s in results if g == gid)
        assert codes == [200, 409], (gid, codes)
    held = {c: {x["id"] for x in ok(client.get("/v1/carbon/instruments", headers=auth(k)))}
            for c, k in keys.items()}
    assert held[a["code"]] | held[b["code"]] == set(ids)
    assert not held[a["code"]] & held[b["code"]]
    winners = {(g, c) for g, c, s in results if s == 200}
    assert winners == {(g, c) for c, got in held.items() for g in got}
