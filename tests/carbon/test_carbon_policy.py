"""Policy: documented defaults from the data file; invalid settings rejected."""

import pytest

from carbon import PolicyError, load_policy


def test_defaults_from_data_file():
    p = load_policy()
    assert p.electricity_tce_basis == "equivalent"
    assert p.electricity_province == "xizang"
    assert p.electricity_location_fallback == "national_average"
    assert p.co2_total_electricity_method == "market_based"
    assert p.small_park_core_threshold_t_per_tce == 0.2


@pytest.mark.parametrize(
    "override",
    [
        {"electricity_tce_basis": "primary"},
        {"electricity_location_fallback": "tibet"},
        {"deductible_instruments": ["carbon_offsets"]},
        {"clean_energy_sources": ["coal"]},
        {"grid_electricity_clean_share_pct": 120.0},
        {"no_such_setting": 1},
    ],
)
def test_invalid_settings_rejected(override):
    with pytest.raises(PolicyError):
        load_policy(**override)
