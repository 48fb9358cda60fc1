"""Ledger throughput and cross-check against an independent vectorised computation.

Reference: the same default-policy formulas (GB/T 2589 tce, fuel CO2, heat 0.11 tCO2/GJ,
market-based electricity with certificates capped at net import) written directly in pandas over
all entity-months at once. The library builds one traceable Ledger per entity-month.

Run: /work/venv/bin/python benchmarks/carbon_ledger_bench.py [n_enterprises] [n_months]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from carbon import Activity, compute_ledger, load_factor_set, load_policy


def make_inputs(n: int, months: int, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = n * months
    return pd.DataFrame({
        "code": np.repeat([f"E{i:03d}" for i in range(n)], months),
        "period": np.tile([f"2026-{m:02d}" for m in range(1, months + 1)], n),
        "electricity_import_kwh": rng.uniform(1e4, 5e5, rows),
        "electricity_export_kwh": rng.uniform(0, 2e4, rows),
        "pv_generation_kwh": rng.uniform(2e4, 1e5, rows),
        "natural_gas_m3": rng.uniform(0, 2e4, rows),
        "diesel_t": rng.uniform(0, 3, rows),
        "heat_gj": rng.uniform(0, 500, rows),
        "green_certificates_mwh": rng.uniform(0, 600, rows),
    })


def reference(df: pd.DataFrame) -> pd.DataFrame:
    fs = load_factor_set()
    k_e = fs.standard_coal("electricity_equivalent").value / 1000
    k_ng = fs.standard_coal("natural_gas_oilfield").value / 1000
    k_d = fs.standard_coal("diesel").value
    k_h = fs.standard_coal("heat").value
    ef_ng, ef_d = fs.fuel("natural_gas").co2_t_per_unit, fs.fuel("diesel").co2_t_per_unit
    ef_h = fs.heat_co2().value
    ef_res = fs.electricity_co2("national_residual", 2026).value
    consumed = df.electricity_import_kwh + df.pv_generation_kwh - df.electricity_export_kwh
    energy_tce = (consumed * k_e + df.natural_gas_m3 * k_ng + df.diesel_t * k_d
                  + df.heat_gj * k_h)
    grid = (df.electricity_import_kwh - df.electricity_export_kwh).clip(lower=0)
    residual = (grid - df.green_certificates_mwh * 1000).clip(lower=0)
    co2 = (df.natural_gas_m3 * ef_ng + df.diesel_t * ef_d + df.heat_gj * ef_h
           + residual / 1000 * ef_res)
    return pd.DataFrame({"energy_tce": energy_tce, "co2_t": co2})


def library(df: pd.DataFrame) -> pd.DataFrame:
    policy, fs = load_policy(), load_factor_set()
    energy_cols = ["electricity_import_kwh", "electricity_export_kwh", "pv_generation_kwh",
                   "natural_gas_m3", "diesel_t", "heat_gj"]
    out = []
    for rec in df.to_dict("records"):
        led = compute_ledger({k: rec[k] for k in energy_cols},
                             Activity(green_certificates_mwh=rec["green_certificates_mwh"]),
                             fs, policy, period=rec["period"], scope="enterprise",
                             code=rec["code"])
        out.append((led.energy_tce, led.co2_t))
    return pd.DataFrame(out, columns=["energy_tce", "co2_t"])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    months = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    df = make_inputs(n, months)
    t0 = time.perf_counter()
    ref = reference(df)
    t1 = time.perf_counter()
    lib = library(df)
    t2 = time.perf_counter()
    t_ref, t_lib = t1 - t0, t2 - t1
    d_e = float((lib.energy_tce - ref.energy_tce).abs().max())
    d_c = float((lib.co2_t - ref.co2_t).abs().max())
    print(f"entity-months: {len(df)}")
    print(f"reference (vectorised pandas): {t_ref * 1e3:.1f} ms")
    print(f"library (one Ledger each):     {t_lib * 1e3:.1f} ms "
          f"({t_lib / len(df) * 1e6:.0f} us per ledger)")
    print(f"time ratio library/reference:  {t_lib / t_ref:.1f}")
    print(f"max |diff| energy_tce: {d_e:.3e} tce; co2_t: {d_c:.3e} t")


if __name__ == "__main__":
    main()
