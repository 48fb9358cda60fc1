"""Unit conversion to each carrier's canonical unit (energy/units.py)."""

import pytest

from energy.units import (
    CARRIERS,
    UnitError,
    carrier_spec,
    check_unit_for_carrier,
    conversion_factor,
    to_canonical_factor,
)


def test_every_carrier_of_the_issue_is_known_with_a_canonical_unit():
    expected = {
        "electricity_import",
        "electricity_export",
        "pv_generation",
        "natural_gas",
        "heat",
        "steam",
        "water",
        "diesel",
        "gasoline",
        "lpg",
        "coal",
    }
    assert expected <= set(CARRIERS)
    assert carrier_spec("electricity_import").canonical_unit == "kWh"
    assert carrier_spec("natural_gas").canonical_unit == "Nm3"
    assert carrier_spec("heat").canonical_unit == "GJ"


@pytest.mark.parametrize(
    ("src", "dst", "factor"),
    [
        ("Wh", "kWh", 0.001),
        ("MWh", "kWh", 1000.0),
        ("kWh", "GJ", 0.0036),  # 1 kWh = 3.6 MJ = 0.0036 GJ
        ("MJ", "GJ", 0.001),
        ("kg", "t", 0.001),
        ("L", "m3", 0.001),
        ("m³", "m3", 1.0),
        ("度", "kWh", 1.0),
    ],
)
def test_same_dimension_factors(src, dst, factor):
    assert conversion_factor(src, dst) == pytest.approx(factor, rel=1e-12)


def test_litres_of_diesel_need_a_density():
    with pytest.raises(UnitError, match="density"):
        to_canonical_factor("L", "diesel")
    # 1,000 L at 0.84 kg/L = 840 kg = 0.84 t
    assert to_canonical_factor("L", "diesel", density_kg_per_l=0.84) * 1000 == pytest.approx(0.84)


def test_gas_m3_need_the_meters_volume_correction_at_altitude():
    with pytest.raises(UnitError, match="correction"):
        to_canonical_factor("m3", "natural_gas")
    # at about 65 kPa and 10 °C a low-pressure meter's m3 hold ~0.66 Nm3
    assert to_canonical_factor("m3", "natural_gas", normal_volume_factor=0.66) == 0.66


def test_unit_not_allowed_for_carrier_names_the_allowed_ones():
    with pytest.raises(UnitError, match="allowed: Wh, kWh, MWh"):
        check_unit_for_carrier("t", "electricity_import")
    with pytest.raises(UnitError, match="unknown unit"):
        check_unit_for_carrier("furlong", "water")
    with pytest.raises(UnitError, match="unknown energy carrier"):
        carrier_spec("plutonium")
