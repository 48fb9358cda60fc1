"""Ledger: hand-computed cases from carbon-reference.md §7 (formulas 1, 3, 4, 7–9, 11, 13).

Factors used (factor set cn-2026-11): electricity 0.1229 kgce/kWh; heat 0.03412 tce/GJ;
MEE 2023 national average 0.5306 and residual 0.6096 tCO2/MWh (latest published for 2026);
heat 0.11 tCO2/GJ; fuels NCV x CC x OF x 44/12.
"""

import math

import pandas as pd
import pytest

from carbon import Activity, InputError, compute_ledger, load_factor_set, load_policy

K_ELEC = 0.1229 / 1000  # tce/kWh
K_HEAT = 0.03412  # tce/GJ
EF_LOC = 0.5306  # tCO2/MWh
EF_RES = 0.6096  # tCO2/MWh
C = 44 / 12


def ledger(energy, activity=None, period="2026", **policy):
    return compute_ledger(energy, activity, None, load_policy(**policy), period=period)


@pytest.mark.parametrize(
    ("key", "qty", "tce", "co2"),
    [
        ("diesel_t", 2.0, 2 * 1.4571, 2 * 42.652 * 20.2 / 1000 * 0.98 * C),
        ("gasoline_t", 1.0, 1.4714, 43.070 * 18.9 / 1000 * 0.98 * C),
        ("lpg_t", 0.5, 0.5 * 1.7143, 0.5 * 50.179 * 17.2 / 1000 * 0.98 * C),
        ("coal_t", 10.0, 10 * 0.7143, 10 * 20.908 * 26.37 / 1000 * 0.94 * C),
        # 10,000 m3 x 1.33 kgce/m3 = 13.3 tce; 10,000 x 0.038931 GJ x 15.3/1000 x 0.99 x 44/12
        ("natural_gas_m3", 10_000.0, 13.3, 10_000 * 0.038931 * 15.3 / 1000 * 0.99 * C),
    ],
)
def test_fuel_carrier_tce_and_co2(key, qty, tce, co2):
    led = ledger({key: qty})
    carrier = key.rsplit("_", 1)[0]
    assert led.energy_by_carrier[carrier]["tce"] == pytest.approx(tce)
    assert led.energy_tce == pytest.approx(tce)
    assert led.co2_by_source["fuels"] == pytest.approx(co2)
    assert led.co2_t == pytest.approx(co2)
    assert any(k.startswith(f"fuel_co2.cn_default.{carrier}") for k in led.factors_used)


def test_natural_gas_metered_at_20c_corrected_to_nm3():
    # 10,732 m3 at 20 °C / 1.0732 m3 per Nm3 = 10,000 Nm3 -> 13.3 tce
    led = ledger({"natural_gas_m3": 10_732.0}, natural_gas_m3_per_nm3=1.0732)
    assert led.energy_by_carrier["natural_gas"]["quantity"] == pytest.approx(10_000)
    assert led.energy_tce == pytest.approx(13.3)


def test_ipcc_method_switch():
    # IPCC gas/diesel oil: 2 t x 43.0 GJ/t x 74,100 kgCO2/TJ / 1e6 = 6.3726 tCO2
    led = ledger({"diesel_t": 2.0}, fuel_factor_method="ipcc_2006")
    assert led.co2_t == pytest.approx(2 * 43.0 * 74100 / 1e6)
    assert "fuel_co2.ipcc_2006.diesel" in led.factors_used


def test_heat_import_export_and_steam():
    # heat 1000 GJ in, 200 GJ out, steam 100 GJ: tce = (1000 - 200 + 100) x 0.03412 = 30.708
    # CO2 = net imported heat (1000 + 100 - 200) GJ x 0.11 = 99.0 t
    led = ledger({"heat_gj": 1000.0, "heat_export_gj": 200.0, "steam_gj": 100.0})
    assert led.energy_tce == pytest.approx(900 * K_HEAT)
    assert led.energy_by_carrier["heat_export"]["tce"] == pytest.approx(-200 * K_HEAT)
    assert led.co2_by_source["heat"] == pytest.approx(900 * 0.11)
    assert led.factors_used["heat_co2.default"]["value"] == 0.11


def test_steam_by_mass_fallback_warns():
    # 10 t x 128.6 kgce/t = 1.286 tce; GJ = 10 x 128.6 / 34.12 = 37.69 GJ; CO2 = 37.69 x 0.11
    led = ledger({"steam_t": 10.0})
    assert led.energy_tce == pytest.approx(1.286)
    assert led.co2_by_source["heat"] == pytest.approx(10 * 128.6 / 34.12 * 0.11)
    assert any("128.6" in w for w in led.warnings)


def test_steam_by_mass_with_enthalpy():
    # 10 t x 2.8 GJ/t = 28 GJ -> 28 x 0.03412 = 0.95536 tce; 28 x 0.11 = 3.08 tCO2
    led = ledger({"steam_t": 10.0}, steam_net_enthalpy_gj_per_t=2.8)
    assert led.energy_tce == pytest.approx(0.95536)
    assert led.co2_t == pytest.approx(3.08)
    assert not led.warnings


def test_water_is_not_energy():
    led = ledger({"water_m3": 500.0})
    assert led.energy_by_carrier["water"]["quantity"] == 500.0
    assert led.energy_tce == 0.0
    assert led.co2_t == 0.0


def test_grid_electricity_both_methods_and_tibet_fallback():
    # 1,000,000 kWh = 1000 MWh: tce 1e6 x 0.1229/1000 = 122.9
    # location 1000 x 0.5306 = 530.6 t; market (no instruments) 1000 x 0.6096 = 609.6 t
    led = ledger({"electricity_import_kwh": 1_000_000.0})
    s2 = led.scope2_electricity
    assert led.energy_tce == pytest.approx(122.9)
    assert s2["location_based_t"] == pytest.approx(530.6)
    assert s2["market_based_t"] == pytest.approx(609.6)
    assert led.co2_t == pytest.approx(609.6)  # default policy: market-based in the total
    assert led.co2_location_based_t == pytest.approx(530.6)
    loc = led.factors_used["electricity_co2.national_average.2023"]
    assert "xizang" in loc["note"] and "fallback" in loc["note"]
    assert any("2023" in w and "2026" in w for w in led.warnings)


def test_location_based_total_by_policy():
    led = ledger({"electricity_import_kwh": 1_000_000.0},
                 co2_total_electricity_method="location_based")
    assert led.co2_t == pytest.approx(530.6)


def test_instruments_pv_and_export_no_double_counting():
    # import 1,000,000; PV 200,000; export 50,000 (from PV); consumption 1,150,000 kWh
    # net import (附件4) = 1,000,000 - 50,000 = 950,000 kWh; PV at 0 = 1,150,000 - 950,000
    # instruments: direct 50 MWh, trades 100 MWh, certs 300 MWh -> 450,000 kWh at 0
    # market = (950,000 - 450,000) / 1000 x 0.6096 = 500 x 0.6096 = 304.8 t
    # location = (950,000 - 50,000 direct line) / 1000 x 0.5306 = 900 x 0.5306 = 477.54 t
    act = Activity(green_certificates_mwh=300, green_power_trades_mwh=100,
                   direct_green_supply_mwh=50)
    led = ledger({"electricity_import_kwh": 1_000_000.0, "pv_generation_kwh": 200_000.0,
                  "electricity_export_kwh": 50_000.0}, act)
    s2 = led.scope2_electricity
    assert s2["pv_consumed_kwh"] == pytest.approx(200_000)
    assert s2["pv_exported_kwh"] == pytest.approx(50_000)
    assert s2["grid_basis_kwh"] == pytest.approx(950_000)
    assert s2["zero_carbon_grid_kwh"] == pytest.approx(450_000)
    assert s2["market_based_t"] == pytest.approx(500 * 0.6096)
    assert s2["location_based_t"] == pytest.approx(900 * 0.5306)
    # energy = (1,000,000 + 200,000 - 50,000) x 0.1229/1000 = 141.335 tce
    assert led.energy_tce == pytest.approx(1_150_000 * K_ELEC)
    assert led.electricity_consumed_kwh == pytest.approx(1_150_000)
    # without renewable electricity: 141.335 - (200,000 + 450,000) x 0.1229/1000 = 61.45
    assert led.energy_tce_excl_renewable_electricity == pytest.approx(61.45)
    assert led.clean_energy_tce == pytest.approx(650_000 * K_ELEC)
    # no netting (GHG Protocol): grid 1,000,000 kWh; PV at 0 = 150,000 kWh
    # market = (1,000,000 - 450,000) / 1000 x 0.6096 = 335.28 t
    gross = ledger({"electricity_import_kwh": 1_000_000.0, "pv_generation_kwh": 200_000.0,
                    "electricity_export_kwh": 50_000.0}, act, electricity_export_netting=False)
    assert gross.scope2_electricity["pv_consumed_kwh"] == pytest.approx(150_000)
    assert gross.scope2_electricity["market_based_t"] == pytest.approx(550 * 0.6096)


def test_certificates_beyond_consumption_are_capped():
    # 400 MWh imported, 1000 certificates: 400 applied, 600 unused; market-based = 0
    led = ledger({"electricity_import_kwh": 400_000.0}, Activity(green_certificates_mwh=1000))
    certs = led.scope2_electricity["instruments"]["green_certificates"]
    assert certs["applied_mwh"] == pytest.approx(400)
    assert certs["unused_mwh"] == pytest.approx(600)
    assert led.scope2_electricity["market_based_t"] == 0.0
    assert led.scope2_electricity["location_based_t"] == pytest.approx(400 * 0.5306)
    assert any("green_certificates" in w for w in led.warnings)
    # clean electricity cannot exceed consumption: share = 100 %
    assert led.clean_energy_tce == pytest.approx(led.energy_tce)


def test_pv_only_is_zero_carbon():
    # 100,000 kWh PV, no import: 12.29 tce, 0 tCO2 in both methods
    led = ledger({"pv_generation_kwh": 100_000.0})
    assert led.energy_tce == pytest.approx(12.29)
    assert led.scope2_electricity["location_based_t"] == 0.0
    assert led.scope2_electricity["market_based_t"] == 0.0


def test_export_netting_setting():
    # import 1,000,000; PV 200,000; export 250,000 (200,000 PV + 50,000 re-exported grid power)
    energy = {"electricity_import_kwh": 1_000_000.0, "pv_generation_kwh": 200_000.0,
              "electricity_export_kwh": 250_000.0}
    netted = ledger(energy)  # 附件4 净受入: 1,000,000 - 250,000 = 750,000 kWh
    assert netted.scope2_electricity["grid_basis_kwh"] == pytest.approx(750_000)
    gross = ledger(energy, electricity_export_netting=False)  # 1,000,000 - 50,000 = 950,000
    assert gross.scope2_electricity["grid_basis_kwh"] == pytest.approx(950_000)
    assert gross.scope2_electricity["location_based_t"] == pytest.approx(950 * 0.5306)


def test_excluded_instrument_is_not_deducted():
    led = ledger({"electricity_import_kwh": 1_000_000.0}, Activity(green_certificates_mwh=300),
                 deductible_instruments=["direct_green_supply", "green_power_trades"])
    assert led.scope2_electricity["market_based_t"] == pytest.approx(609.6)


def test_region_fallback_and_provincial_factor():
    led = ledger({"electricity_import_kwh": 1_000_000.0},
                 electricity_location_fallback="region:southwest")
    assert led.scope2_electricity["location_based_t"] == pytest.approx(1000 * 0.2472)
    # Sichuan 2022: 0.1404 tCO2/MWh; residual 2022: 0.5856
    led = ledger({"electricity_import_kwh": 1_000_000.0}, period="2022-03",
                 electricity_province="sichuan")
    assert led.scope2_electricity["location_based_t"] == pytest.approx(140.4)
    assert led.scope2_electricity["market_based_t"] == pytest.approx(585.6)


def test_primary_energy_electricity_basis():
    # 等价值: 1,000,000 kWh x 300.7 gce/kWh / 1e6 = 300.7 tce (2022 coal use, latest <= 2026)
    led = ledger({"electricity_import_kwh": 1_000_000.0},
                 electricity_tce_basis="coal_equivalent_of_generation")
    assert led.energy_tce == pytest.approx(300.7)
    assert "electricity_generation_coal.2022" in led.factors_used


def test_total_by_source_process_and_bunkers():
    # diesel 10 t of which 4 t international bunkers (memo, not deducted); process 50 t
    ef_diesel = 42.652 * 20.2 / 1000 * 0.98 * C
    act = Activity(process_co2_t=50.0, bunker_fuels={"diesel_t": 4.0})
    led = ledger({"diesel_t": 10.0, "electricity_import_kwh": 100_000.0, "heat_gj": 10.0}, act)
    assert led.co2_by_source["process"] == 50.0
    assert led.co2_bunkers_memo_t == pytest.approx(4 * ef_diesel)
    assert led.co2_by_source["fuels"] == pytest.approx(10 * ef_diesel)
    # total = fuels + market-based electricity (100 MWh x 0.6096) + heat (10 x 0.11) + process
    assert led.co2_t == pytest.approx(10 * ef_diesel + 60.96 + 1.1 + 50)
    assert led.co2_t == pytest.approx(sum(led.co2_by_source.values()))


def test_provenance_and_determinism():
    energy = {"electricity_import_kwh": 123_456.7, "diesel_t": 1.5, "heat_gj": 33.3}
    act = Activity(green_certificates_mwh=12.5, value_added_10k_yuan=800.0)
    a = ledger(energy, act).to_dict()
    b = ledger(dict(reversed(list(energy.items()))), act).to_dict()
    c = ledger(pd.Series(energy), act).to_dict()
    assert a == b == c
    assert a["factor_set"] == load_factor_set().version
    assert a["inputs"]["energy"] == energy
    assert a["inputs"]["activity"]["green_certificates_mwh"] == 12.5
    for f in a["factors_used"].values():
        assert {"value", "unit", "source", "year"} <= set(f)
    for key in ("scope", "code", "period", "factor_set", "energy_tce", "co2_t", "inputs"):
        assert key in a


@pytest.mark.parametrize(
    ("energy", "activity", "match"),
    [
        ({"electricity_import_kwh": math.nan}, None, "NaN"),
        ({"electricity_import_kwh": -1.0}, None, ">= 0"),
        ({"electricity_kwh": 1.0}, None, "unknown energy input"),
        ({"electricity_import_kwh": 10.0, "electricity_export_kwh": 20.0}, None, "exceeds"),
        ({"electricity_import_kwh": 10.0}, Activity(direct_green_supply_mwh=1.0), "direct"),
        ({"diesel_t": 1.0}, Activity(bunker_fuels={"diesel_t": 2.0}), "bunker"),
    ],
)
def test_bad_inputs_rejected(energy, activity, match):
    with pytest.raises(InputError, match=match):
        ledger(energy, activity)


def test_bad_period_and_scope():
    with pytest.raises(InputError, match="period"):
        compute_ledger({}, period="2026-13")
    with pytest.raises(InputError, match="scope"):
        compute_ledger({}, period="2026", scope="zone")
