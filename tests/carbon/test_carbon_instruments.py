"""Green-electricity instruments in the library: bundled certificates add no coverage, direct
supply is matched to metered green-direct electricity, leftovers stay with their holder."""

from __future__ import annotations

import pytest

from carbon import Activity, InputError, compute_ledger, load_policy
from carbon.instruments import Holder, Instrument, check_instruments

EF_RES_2023 = 0.6096  # tCO2/MWh, cn-2026-11 national_residual 2023 (used for 2026 periods)
EF_LOC_2023 = 0.5306  # tCO2/MWh, cn-2026-11 national_average 2023 (Tibet fallback)


def _direct_case() -> list[Instrument]:
    return [
        Instrument("DL-2026-03", "direct_supply", "E1", "2026-03", 150.0, None, "line 7"),
        Instrument("GEC-A", "gec", "E1", "2026-03", 100.0, "DL-2026-03", "bundled"),
        Instrument("GEC-B", "gec", "E1", "2026-03", 200.0, None, "registry"),
    ]


def test_direct_supply_with_bundled_certificates_by_hand():
    # 1,000 MWh through the grid meter + 150 MWh on the green-direct line = 1,150 MWh imported.
    led = compute_ledger({"electricity_import_kwh": 1_150_000.0}, period="2026-03",
                         scope="enterprise", code="E1", instruments=_direct_case(),
                         green_direct_metered_kwh=150_000.0)
    s2 = led.scope2_electricity
    # direct supply covers its 150 MWh (at 0); the 100 bundled certificates are its proof and
    # add nothing; 200 unbundled certificates cover 200 of the 1,000 grid MWh.
    # market-based = (1,000 − 200) MWh × 0.6096 = 487.68 t
    assert s2["market_based_t"] == pytest.approx(800 * EF_RES_2023) == pytest.approx(487.68)
    assert s2["instruments"]["direct_green_supply"]["applied_mwh"] == pytest.approx(150)
    assert s2["instruments"]["green_certificates"]["applied_mwh"] == pytest.approx(200)
    # location-based: the direct line is not public grid power: (1,150 − 150) × 0.5306
    assert s2["location_based_t"] == pytest.approx(1000 * EF_LOC_2023)
    uses = {u["id"]: u for u in led.instrument_claims["instruments"]}
    assert uses["GEC-A"]["coverage_mwh"] == 0 and uses["GEC-A"]["unused_mwh"] == 0
    assert uses["DL-2026-03"]["applied_mwh"] == pytest.approx(150)
    assert led.unused_instruments_mwh == 0


def test_direct_supply_beyond_the_meter_is_unused():
    insts = [Instrument("DL", "direct_supply", "E1", "2026-03", 150.0)]
    led = compute_ledger({"electricity_import_kwh": 1_000_000.0}, period="2026-03",
                         scope="enterprise", code="E1", instruments=insts,
                         green_direct_metered_kwh=100_000.0)
    assert led.scope2_electricity["market_based_t"] == pytest.approx(900 * EF_RES_2023)
    assert led.unused_instruments_mwh == pytest.approx(50)


def test_legacy_activity_amounts_refused_in_instrument_mode():
    with pytest.raises(InputError, match="instruments"):
        compute_ledger({"electricity_import_kwh": 10.0}, Activity(green_certificates_mwh=1),
                       period="2026-03", scope="enterprise", code="E1", instruments=[])


def test_surplus_does_not_reach_another_enterprise_unless_pooled():
    # A: 100 MWh grid, 250 certificates; B: 300 MWh grid, none. Park grid 400 MWh.
    holders = [Holder("A", {"electricity_import_kwh": 100_000.0}, 0.0,
                      [Instrument("G1", "gec", "A", "2026-03", 250.0)]),
               Holder("B", {"electricity_import_kwh": 300_000.0})]
    energy = {"electricity_import_kwh": 400_000.0}
    park = compute_ledger(energy, period="2026-03", holders=holders)
    assert park.scope2_electricity["zero_carbon_grid_kwh"] == pytest.approx(100_000)
    assert park.co2_market_based_t == pytest.approx(300 * EF_RES_2023)
    assert park.unused_instruments_mwh == pytest.approx(150)
    assert park.instrument_claims["pooled"] is False
    pooled = compute_ledger(energy, policy=load_policy(pool_instruments_in_park=True),
                            period="2026-03", holders=holders)
    assert pooled.co2_market_based_t == pytest.approx(150 * EF_RES_2023)
    assert pooled.instrument_claims["pooled"] is True
    assert any("pools instruments" in w for w in pooled.warnings)


def test_check_instruments_rules():
    items = [
        Instrument("T1", "green_power_trade", "E1", "2026-03", 50.0),
        Instrument("G1", "gec", "E1", "2026-03", 60.0, "T1"),  # more than the trade
        Instrument("G2", "gec", "E2", "2026-03", 1.0, "T1"),  # other enterprise
        Instrument("G3", "gec", "E1", "2026-03", 1.0, "G2"),  # not a trade/direct supply
        Instrument("T1", "green_power_trade", "E1", "2026-3", 0.0),  # dup id, period, mwh
        Instrument("X", "offset", "E1", "2026-03", 1.0),
    ]
    got = {(i, f) for i, f, _ in check_instruments(items)}
    assert got == {(1, "mwh"), (2, "bundled_with"), (3, "bundled_with"), (4, "id"),
                   (4, "period"), (4, "mwh"), (5, "kind")}


def test_revising_a_trade_below_its_stored_certificates_is_refused():
    trade = Instrument("T1", "green_power_trade", "E1", "2026-03", 40.0)
    got = check_instruments([trade], {"T1": trade}, bundled_elsewhere={"T1": 50.0})
    assert [(i, f) for i, f, _ in got] == [(0, "mwh")]
    assert check_instruments([trade], {"T1": trade}, bundled_elsewhere={"T1": 40.0}) == []
