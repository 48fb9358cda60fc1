"""Park roll-up from enterprises, and the tabular view of ledgers."""

import pytest

from carbon import (
    Activity,
    combine_activities,
    compute_indicators,
    compute_ledger,
    ledgers_to_frame,
    sum_energy,
)


def test_sum_energy_and_combine_activities():
    a = {"electricity_import_kwh": 300_000.0, "diesel_t": 1.0}
    b = {"electricity_import_kwh": 400_000.0}
    assert sum_energy([a, b]) == {"diesel_t": 1.0, "electricity_import_kwh": 700_000.0}
    act = combine_activities([
        Activity(green_certificates_mwh=500, value_added_10k_yuan=100, water_reused_m3=10,
                 water_withdrawn_m3=5, bunker_fuels={"diesel_t": 0.5}),
        Activity(value_added_10k_yuan=300, water_reused_m3=20),
    ])
    assert act.green_certificates_mwh == 500
    assert act.value_added_10k_yuan == 400
    assert act.water_reused_m3 == 30
    # one enterprise did not record withdrawals: the park ratio is unknown, not a partial sum
    assert act.water_withdrawn_m3 is None
    assert compute_indicators(compute_ledger(sum_energy([a, b]), act, period="2026")) \
        .water_reuse_pct is None
    assert act.bunker_fuels == {"diesel_t": 0.5}


def test_park_caps_certificates_on_park_consumption():
    # A: 300 MWh with 500 certificates (200 unused); B: 400 MWh without.
    # enterprises: A 0 t + B 400 x 0.6096 = 243.84 t market-based
    # park: (700 - 500) x 0.6096 = 121.92 t (the surplus covers B's power within the park)
    a = compute_ledger({"electricity_import_kwh": 300_000.0},
                       Activity(green_certificates_mwh=500), period="2026", scope="enterprise",
                       code="A")
    b = compute_ledger({"electricity_import_kwh": 400_000.0}, period="2026",
                       scope="enterprise", code="B")
    park = compute_ledger({"electricity_import_kwh": 700_000.0},
                          Activity(green_certificates_mwh=500), period="2026")
    assert a.co2_market_based_t + b.co2_market_based_t == pytest.approx(400 * 0.6096)
    assert park.co2_market_based_t == pytest.approx(200 * 0.6096)


def test_ledgers_to_frame():
    led = compute_ledger({"electricity_import_kwh": 1_000_000.0, "diesel_t": 1.0},
                         period="2026-01", scope="enterprise", code="E001")
    df = ledgers_to_frame([led, led])
    assert len(df) == 2
    row = df.iloc[0]
    assert row["code"] == "E001" and row["period"] == "2026-01"
    assert row["co2_t"] == pytest.approx(led.co2_t)
    # 1,000,000 kWh x 0.1229 / 1000 = 122.9 tce
    assert row["electricity_import_tce"] == pytest.approx(122.9)
    assert row["co2_electricity_t"] + row["co2_fuels_t"] == pytest.approx(led.co2_t)
