"""Each carrier's plausibility ceiling lets the park's largest realistic consumer through and flags
a unit mistake (x1000), in the carrier's canonical unit."""

from __future__ import annotations

import pytest

from app.config import Settings
from energy.units import carrier_spec
from tests.conftest import auth

# The largest realistic single meter of the park per carrier, per hour, in the canonical unit.
LARGEST_PER_HOUR = {
    "electricity_import": 63_000.0,  # kWh: the 63 MW storage station charging
    "electricity_export": 63_000.0,  # kWh: the station discharging
    "pv_generation": 50_000.0,       # kWh: a 50 MWp plant at full output
    "natural_gas": 8_000.0,          # Nm3: 100 t/h steam boiler, ~270 GJ/h / 0.92 / 36 MJ/Nm3
    "heat": 300.0,                   # GJ: a boiler house of ~80 MW
    "steam": 100.0,                  # t: one 100 t/h boiler
    "water": 2_000.0,                # m3: brewery and cooling towers
    "diesel": 4.6,                   # t: 20 MW of backup gensets x 0.23 kg/kWh (EPA AP-42 3.4)
    "gasoline": 3.0,                 # t: a fleet depot's pumps (4 x 40 L/min x 0.74 kg/L ~ 7 t/h
                                     #    peak, ~3 t/h sustained)
    "lpg": 0.72,                     # t: a 10 MW furnace, 36,000 MJ/h / 50.18 MJ/kg
    "coal": 23.0,                    # t: a 5,000 t/d clinker line x ~110 kg coal per tonne
}


@pytest.mark.parametrize("carrier", sorted(LARGEST_PER_HOUR))
def test_ceiling_fits_the_largest_consumer(carrier):
    ceiling = Settings().plausibility_ceilings_per_hour[carrier]
    largest = LARGEST_PER_HOUR[carrier]
    assert largest <= ceiling, f"{carrier}: a real peak would be flagged"
    assert ceiling <= 20 * largest, (
        f"{carrier}: ceiling {ceiling} {carrier_spec(carrier).canonical_unit}/h lets a unit "
        f"mistake through (largest consumer {largest})")


def test_every_ceiling_is_checked():
    assert set(Settings().plausibility_ceilings_per_hour) == set(LARGEST_PER_HOUR)


@pytest.mark.parametrize("carrier, peak_t, mistake_t", [
    ("diesel", 1.1, 500.0), ("lpg", 0.18, 180.0), ("coal", 5.8, 5800.0)])
def test_fuel_upload_flags_tonnes_sent_as_kilograms(client, operator_key, make_enterprise,
                                                    make_meter, carrier, peak_t, mistake_t):
    ent = make_enterprise()
    meter = make_meter(ent["code"], carrier, unit="t")
    body = ("meter,ts,value\n"
            f"{meter['code']},2026-03-02T10:00:00+08:00,{peak_t}\n"
            f"{meter['code']},2026-03-02T10:15:00+08:00,{mistake_t}\n")
    r = client.post("/v1/readings", content=body, headers={**auth(operator_key),
                                                           "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["flags"] == {"implausible": 1}, r.json()
