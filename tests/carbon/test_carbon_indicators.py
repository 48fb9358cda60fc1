"""Indicators, hand-computed (carbon-reference.md §2.3, §7 items 5, 6, 12, 14–17)."""

import pytest

from carbon import Activity, compute_indicators, compute_ledger, load_policy

K_ELEC = 0.1229 / 1000  # tce/kWh
GAS_CO2_T = 10_000 * 0.038931 * 15.3 / 1000 * 0.99 * 44 / 12  # 21.6219 tCO2 for 10,000 m3

ENERGY = {"electricity_import_kwh": 1_000_000.0, "natural_gas_m3": 10_000.0}
ACTIVITY = Activity(
    green_certificates_mwh=200,
    value_added_10k_yuan=2000,
    solid_waste_generated_t=1000,
    solid_waste_utilised_t=950,
    solid_waste_utilised_from_storage_t=50,
    waste_heat_available_gj=1000,
    waste_heat_used_gj=400,
    water_withdrawn_m3=200,
    water_reused_m3=800,
    cod_kg=150,
)


def _ledger(energy=ENERGY, activity=ACTIVITY, period="2026", **policy):
    return compute_ledger(energy, activity, None, load_policy(**policy), period=period)


def test_energy_intensity_and_change_vs_base():
    # energy = 1,000,000 x 0.1229/1000 + 10,000 x 1.33/1000 = 122.9 + 13.3 = 136.2 tce
    # intensity = 136.2 / 2000 = 0.0681 tce/10k yuan
    base = _ledger({"electricity_import_kwh": 1_200_000.0},
                   Activity(value_added_10k_yuan=1800), period="2025")
    # base = 1,200,000 x 0.1229/1000 / 1800 = 147.48 / 1800 = 0.081933 tce/10k yuan
    ind = compute_indicators(_ledger(), base=base)
    assert ind.energy_tce == pytest.approx(136.2)
    assert ind.energy_intensity_tce_per_10k_yuan == pytest.approx(0.0681)
    assert ind.energy_intensity_base_tce_per_10k_yuan == pytest.approx(147.48 / 1800)
    # change = (0.0681 / 0.081933 - 1) x 100 = -16.88 %
    assert ind.energy_intensity_change_vs_base_pct == pytest.approx(
        (0.0681 / (147.48 / 1800) - 1) * 100)
    assert ind.energy_intensity_change_vs_base_pct == pytest.approx(-16.88, abs=0.01)
    # the base may also be given as a number
    assert compute_indicators(_ledger(), base=0.0681 / 0.8).energy_intensity_change_vs_base_pct \
        == pytest.approx(-20.0)
    # without renewable electricity: (136.2 - 200,000 x 0.1229/1000) / 2000 = 111.62 / 2000
    assert ind.energy_intensity_excl_renewable_electricity_tce_per_10k_yuan == pytest.approx(
        111.62 / 2000)


def test_core_indicator_co2_per_energy():
    # market-based electricity: (1000 - 200) MWh x 0.6096 = 487.68 t; gas 21.6219 t
    # core = (487.68 + 21.6219) / 136.2 = 3.739 tCO2/tce
    ind = compute_indicators(_ledger())
    assert ind.co2_t == pytest.approx(487.68 + GAS_CO2_T)
    assert ind.co2_per_energy_t_per_tce == pytest.approx((487.68 + GAS_CO2_T) / 136.2)
    # location-based: 1000 x 0.5306 = 530.6 t
    assert ind.co2_per_energy_location_based_t_per_tce == pytest.approx(
        (530.6 + GAS_CO2_T) / 136.2)


def test_clean_energy_share_follows_policy():
    # default clean set (onsite PV, green electricity, natural gas):
    # (200,000 x 0.1229/1000 + 13.3) / 136.2 x 100 = (24.58 + 13.3) / 136.2 x 100 = 27.81 %
    ind = compute_indicators(_ledger())
    assert ind.clean_energy_share_pct == pytest.approx((24.58 + 13.3) / 136.2 * 100)
    # natural gas not clean: 24.58 / 136.2 x 100 = 18.05 %
    ind = compute_indicators(_ledger(clean_energy_sources=["onsite_pv", "green_electricity"]))
    assert ind.clean_energy_share_pct == pytest.approx(24.58 / 136.2 * 100)
    # half of the uncovered grid power counted clean: + 800,000 x 0.5 x 0.1229/1000 = 49.16 tce
    ind = compute_indicators(_ledger(grid_electricity_clean_share_pct=50.0))
    assert ind.clean_energy_share_pct == pytest.approx((24.58 + 13.3 + 49.16) / 136.2 * 100)


def test_guiding_indicators():
    ind = compute_indicators(_ledger())
    # solid waste: 950 / (1000 + 50) x 100 = 90.476 %
    assert ind.solid_waste_utilisation_pct == pytest.approx(950 / 1050 * 100)
    # waste heat: 400 / 1000 x 100 = 40 %
    assert ind.waste_heat_utilisation_pct == pytest.approx(40.0)
    # water reuse: 800 / (800 + 200) x 100 = 80 %
    assert ind.water_reuse_pct == pytest.approx(80.0)
    # COD: 150 kg / 2000 = 0.075 kg/10k yuan
    assert ind.cod_intensity_kg_per_10k_yuan == pytest.approx(0.075)


def test_missing_inputs_give_none_not_zero():
    ind = compute_indicators(_ledger(activity=Activity()))
    for name in ("energy_intensity_tce_per_10k_yuan", "energy_intensity_change_vs_base_pct",
                 "solid_waste_utilisation_pct", "waste_heat_utilisation_pct", "water_reuse_pct",
                 "cod_intensity_kg_per_10k_yuan"):
        assert getattr(ind, name) is None, name
    assert ind.co2_per_energy_t_per_tce is not None
    empty = compute_indicators(_ledger(energy={}, activity=Activity()))
    assert empty.co2_per_energy_t_per_tce is None
    assert empty.clean_energy_share_pct is None
    # recorded zero utilisation is a real 0 %
    zero = compute_indicators(_ledger(activity=Activity(solid_waste_generated_t=10,
                                                        solid_waste_utilised_t=0)))
    assert zero.solid_waste_utilisation_pct == 0.0
