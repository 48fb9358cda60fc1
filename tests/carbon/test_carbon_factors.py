"""Factor-set loading and lookups (values from carbon-reference.md §2–3)."""

import pytest

from carbon import (
    ProvinceFactorUnavailable,
    UnknownFactorError,
    available_factor_sets,
    load_factor_set,
)


def test_default_is_newest_version_and_named():
    fs = load_factor_set()
    assert fs.version == available_factor_sets()[-1]
    assert load_factor_set(fs.version).version == fs.version


def test_unknown_version_names_available_ones():
    with pytest.raises(UnknownFactorError, match="available"):
        load_factor_set("no-such-version")


def test_standard_coal_values_carry_unit_source_year():
    fs = load_factor_set()
    e = fs.standard_coal("electricity_equivalent")
    assert (e.value, e.unit, e.year) == (0.1229, "kgce/kWh", 2008)
    assert "GB/T 2589" in e.source
    # 0.1229 kgce/kWh = 0.1229 / 1000 tce/kWh
    assert fs.tce_per_unit("electricity_equivalent")[:2] == (pytest.approx(0.1229 / 1000), "kWh")
    # heat 0.03412 kgce/MJ = 0.03412 tce/GJ
    assert fs.tce_per_unit("heat")[:2] == (pytest.approx(0.03412), "GJ")


def test_unknown_carrier_raises_clear_error():
    fs = load_factor_set()
    with pytest.raises(UnknownFactorError, match="hydrogen"):
        fs.standard_coal("hydrogen")
    with pytest.raises(UnknownFactorError, match="known"):
        fs.fuel("hydrogen")
    with pytest.raises(UnknownFactorError, match="method"):
        fs.fuel("diesel", "epa")


def test_electricity_factor_years():
    fs = load_factor_set()
    assert fs.electricity_co2("national_average", 2023).value == 0.5306
    assert fs.electricity_co2("national_residual", 2022).value == 0.5856
    # 2026 is not published: the latest year <= 2026 (2023) is used and named
    f = fs.electricity_co2("national_residual", 2026)
    assert (f.value, f.year) == (0.6096, 2023)
    with pytest.raises(UnknownFactorError, match="2020"):
        fs.electricity_co2("national_average", 2020)
    with pytest.raises(UnknownFactorError, match="national"):
        fs.electricity_co2("european_average", 2023)
    assert fs.electricity_co2_region("southwest", 2023).value == 0.2472
    with pytest.raises(UnknownFactorError, match="region"):
        fs.electricity_co2_region("tibet", 2023)


def test_tibet_has_no_provincial_factor():
    fs = load_factor_set()
    with pytest.raises(ProvinceFactorUnavailable, match="xizang"):
        fs.electricity_co2_province("xizang", 2023)
    assert fs.electricity_co2_province("sichuan", 2022).value == 0.1404


def test_chinese_default_fuel_factors_from_parameters():
    fs = load_factor_set()
    # diesel: 42.652 GJ/t x 20.2 tC/TJ / 1000 x 0.98 x 44/12 = 3.0959 tCO2/t
    assert fs.fuel("diesel").co2_t_per_unit == pytest.approx(
        42.652 * 20.2 / 1000 * 0.98 * 44 / 12)
    assert fs.fuel("diesel").co2_t_per_unit == pytest.approx(3.0959, abs=1e-4)
    # raw coal: 20.908 x 26.37 / 1000 x 0.94 x 44/12 = 1.9003 tCO2/t
    assert fs.fuel("coal").co2_t_per_unit == pytest.approx(1.9003, abs=1e-4)
    # gasoline 2.9251, LPG 3.1013 tCO2/t (reference table)
    assert fs.fuel("gasoline").co2_t_per_unit == pytest.approx(2.9251, abs=1e-4)
    assert fs.fuel("lpg").co2_t_per_unit == pytest.approx(3.1013, abs=1e-4)
    # natural gas: 0.038931 GJ/m3 x 15.3 / 1000 x 0.99 x 44/12 = 0.0021622 tCO2/m3
    # (= 21.62 tCO2 per 10^4 Nm3)
    assert fs.fuel("natural_gas").co2_t_per_unit * 1e4 == pytest.approx(21.62, abs=0.01)


def test_ipcc_fuel_factors():
    fs = load_factor_set()
    # gas/diesel oil: 43.0 GJ/t x 74,100 kgCO2/TJ / 1e6 = 3.1863 tCO2/t
    assert fs.fuel("diesel", "ipcc_2006").co2_t_per_unit == pytest.approx(43.0 * 74100 / 1e6)
    assert fs.fuel("coal", "ipcc_2006").co2_t_per_unit == pytest.approx(2.4407, abs=1e-4)
