"""Benchmark: the same storage dispatch problem in PyPSA and in zcpark's energy.storage, one run.

Problem: one bus with an industrial load, a PV plant (curtailable, penalty per MWh curtailed),
grid import (TOU price + carbon price x time-varying grid factor, 200 MW limit), grid export
(20 MW limit, price 0) and the default 63 MW / 252 MWh LFP station (split efficiencies, SOC window,
self-discharge, final SOC, degradation cost per MWh throughput, cold-weather charge limit).
PyPSA model: Store + charge/discharge Links (a StorageUnit has no SOC floor), PV Generator with
marginal cost -penalty (objective differs from ours by the constant penalty x PV energy), import
and export Generators. Demand charges are off (PyPSA has no native monthly-peak term).

Run:  /work/venv/bin/python benchmarks/dispatch.py [--rolling-windows 20] [--skip-15min-pypsa]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from energy.forecast import pv_forecast_with_error, seasonal_naive_forecast
from energy.storage import default_station, optimize_dispatch, rolling_dispatch
from energy.storage.problem import compute_kpis, make_problem, schedule_frame
from energy.tariffs import load_tariff, price_series

CARBON_PRICE = 80.0  # yuan/tCO2, benchmark setting
CURTAIL_PENALTY = 5.0  # yuan/MWh, benchmark setting
IMPORT_LIMIT_MW = 200.0
EXPORT_LIMIT_MW = 20.0


def make_inputs(freq: str) -> dict:
    """Synthetic year for Lhasa: pvlib clear-sky x seeded cloudiness, industrial load, temps."""
    import pvlib

    idx = pd.date_range("2030-01-01", "2031-01-01", freq=freq, tz="Asia/Shanghai", inclusive="left")
    n = len(idx)
    rng = np.random.default_rng(42)
    site = pvlib.location.Location(29.65, 91.13, tz="Asia/Shanghai", altitude=3650)
    ghi = site.get_clearsky(idx, model="simplified_solis")["ghi"].to_numpy()
    days = np.arange(n) // int(pd.Timedelta("1D") / (idx[1] - idx[0]))
    cloud = np.clip(rng.normal(0.85, 0.2, days.max() + 1), 0.2, 1.0)[days]
    pv = 150.0 * ghi / 1000.0 * 0.82 * cloud
    hour = idx.hour.to_numpy() + idx.minute.to_numpy() / 60
    doy = idx.dayofyear.to_numpy()
    weekend = idx.dayofweek.to_numpy() >= 5
    load = 70 + 15 * np.sin((hour - 6) / 24 * 2 * np.pi) - 10 * weekend + rng.normal(0, 3, n)
    tco2 = 0.30 + 0.15 * np.cos((doy - 15) / 365 * 2 * np.pi) + 0.05 * (hour < 7)
    season = np.cos((doy - 15) / 365 * 2 * np.pi)
    enclosure_c = 12 - 10 * season + 5 * np.sin((hour - 9) / 24 * 2 * np.pi)
    battery = default_station().with_(
        grid_import_limit_mw=IMPORT_LIMIT_MW, grid_export_limit_mw=EXPORT_LIMIT_MW
    )
    tariff = load_tariff("example_tou_illustrative")
    return {
        "load": pd.Series(load, idx),
        "pv": pd.Series(pv, idx),
        "tco2": pd.Series(tco2, idx),
        "temp": pd.Series(enclosure_c, idx),
        "price": price_series(idx, tariff),
        "battery": battery,
    }


def ours(
    inp: dict, sl: slice = slice(None), warm: bool = True, demand: float = 0.0
) -> tuple[float, float, dict]:
    t0 = time.perf_counter()
    r = optimize_dispatch(
        inp["load"][sl], inp["pv"][sl], inp["battery"], price_yuan_per_mwh=inp["price"][sl],
        export_price_yuan_per_mwh=0.0, grid_tco2_per_mwh=inp["tco2"][sl],
        carbon_price_yuan_per_tco2=CARBON_PRICE, curtailment_penalty_yuan_per_mwh=CURTAIL_PENALTY,
        temperature_c=inp["temp"][sl], warm_start=warm, demand_charge_yuan_per_kw_month=demand,
    )
    return time.perf_counter() - t0, r.objective, r.kpis


def ours_rolling(inp: dict, sl: slice, window: int, commit: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    r = rolling_dispatch(
        inp["load"][sl], inp["pv"][sl], inp["battery"], window_steps=window, commit_steps=commit,
        price_yuan_per_mwh=inp["price"][sl], export_price_yuan_per_mwh=0.0,
        grid_tco2_per_mwh=inp["tco2"][sl], carbon_price_yuan_per_tco2=CARBON_PRICE,
        curtailment_penalty_yuan_per_mwh=CURTAIL_PENALTY, temperature_c=inp["temp"][sl],
        compare_perfect=False,
    )
    return time.perf_counter() - t0, r.objective, int(r.kpis["solves"])


def pypsa_network(inp: dict, sl: slice = slice(None)):
    import pypsa

    b = inp["battery"]
    load, pv = inp["load"][sl], inp["pv"][sl]
    idx = load.index
    step_h = float((idx[1] - idx[0]) / pd.Timedelta(hours=1))
    snaps = idx.tz_localize(None)
    n = pypsa.Network()
    n.set_snapshots(snaps)
    for col in n.snapshot_weightings.columns:
        n.snapshot_weightings[col] = float(step_h)
    n.add("Bus", "ac")
    n.add("Bus", "battery")
    n.add("Load", "load", bus="ac", p_set=(load.to_numpy() + b.aux_load_mw))
    pv_nom = float(pv.max())
    n.add("Generator", "pv", bus="ac", p_nom=pv_nom, p_max_pu=pv.to_numpy() / pv_nom,
          marginal_cost=-CURTAIL_PENALTY)
    n.add("Generator", "grid_import", bus="ac", p_nom=IMPORT_LIMIT_MW,
          marginal_cost=inp["price"][sl].to_numpy() + CARBON_PRICE * inp["tco2"][sl].to_numpy())
    n.add("Generator", "grid_export", bus="ac", p_nom=EXPORT_LIMIT_MW, p_min_pu=-1.0, p_max_pu=0.0,
          marginal_cost=0.0)
    e_min = np.full(len(idx), b.soc_min_pct / 100)
    e_min[-1] = max(b.soc_min_pct, b.soc_final_pct) / 100
    n.add("Store", "battery", bus="battery", e_nom=b.energy_mwh, e_min_pu=e_min,
          e_max_pu=b.soc_max_pct / 100, e_initial=b.soc_initial_mwh, e_cyclic=False,
          standing_loss=1 - (1 - b.self_discharge_pct_per_day / 100) ** (1 / 24))
    cold = b.charge_limit_mw(inp["temp"][sl].to_numpy(), len(idx)) / b.power_charge_mw
    n.add("Link", "charge", bus0="ac", bus1="battery", p_nom=b.power_charge_mw,
          p_max_pu=cold, efficiency=b.eta_charge, marginal_cost=b.degradation_cost_yuan_per_mwh)
    n.add("Link", "discharge", bus0="battery", bus1="ac",
          p_nom=b.power_discharge_mw / b.eta_discharge, efficiency=b.eta_discharge,
          marginal_cost=b.degradation_cost_yuan_per_mwh * b.eta_discharge)
    return n, step_h


def pypsa_constant(inp: dict, sl: slice, step_h: float) -> float:
    return CURTAIL_PENALTY * step_h * float(inp["pv"][sl].sum())


def pypsa_one_shot(inp: dict, sl: slice = slice(None)) -> tuple[float, float]:
    t0 = time.perf_counter()
    n, step_h = pypsa_network(inp, sl)
    n.optimize(solver_name="highs", io_api="direct", log_to_console=False)
    obj = float(n.objective) + pypsa_constant(inp, sl, step_h)
    return time.perf_counter() - t0, obj


def pypsa_rolling(inp: dict, sl: slice, window: int, commit: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    n, _ = pypsa_network(inp, sl)
    n.optimize.optimize_with_rolling_horizon(
        horizon=window, overlap=window - commit, solver_name="highs", io_api="direct",
        log_to_console=False,
    )
    elapsed = time.perf_counter() - t0
    # Evaluate PyPSA's realised schedule with our cost function.
    b = inp["battery"]
    p = make_problem(inp["load"][sl], inp["pv"][sl], b, price_yuan_per_mwh=inp["price"][sl],
                     export_price_yuan_per_mwh=0.0, grid_tco2_per_mwh=inp["tco2"][sl],
                     carbon_price_yuan_per_tco2=CARBON_PRICE,
                     curtailment_penalty_yuan_per_mwh=CURTAIL_PENALTY,
                     temperature_c=inp["temp"][sl])
    gp = n.generators_t.p
    sched = schedule_frame(
        p.index,
        charge_mw=n.links_t.p0["charge"].to_numpy(),
        discharge_mw=-n.links_t.p1["discharge"].to_numpy(),
        soc_mwh=n.stores_t.e["battery"].to_numpy(),
        grid_import_mw=gp["grid_import"].to_numpy(),
        grid_export_mw=-gp["grid_export"].to_numpy(),
        pv_curtailed_mw=inp["pv"][sl].to_numpy() - gp["pv"].to_numpy(),
    )
    windows = -(-len(p.index) // commit)
    return elapsed, compute_kpis(sched, p)["weighted_objective"], windows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rolling-windows", type=int, default=20)
    ap.add_argument("--skip-15min-pypsa", action="store_true")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore", FutureWarning)
    rows: list[str] = []

    def row(case: str, t_ours: float, t_ref: float | None, o_ours: float, o_ref: float | None,
            note: str = "") -> None:
        ratio = f"{t_ref / t_ours:.1f}x" if t_ref else "-"
        rel = f"{abs(o_ours - o_ref) / abs(o_ref):.1e}" if o_ref else "-"
        ref = f"{t_ref:.2f}" if t_ref else "-"
        rows.append(f"| {case} | {t_ours:.2f} | {ref} | {ratio} | {o_ours:,.2f} | {rel} | {note} |")
        print(rows[-1], flush=True)

    hourly = make_inputs("h")
    ours(hourly, slice(0, 48))  # warm-up imports
    t_o, o_o, k = ours(hourly)
    t_p, o_p = pypsa_one_shot(hourly)
    row("one year hourly (8,760 steps), one-shot", t_o, t_p, o_o, o_p,
        f"simultaneous steps {k['simultaneous_steps']}")
    t_c, o_c, _ = ours(hourly, warm=False)
    row("  same, without the chunked warm start", t_c, t_p, o_c, o_p)
    t_d, o_d, _ = ours(hourly, demand=30.0)
    t_dc, o_dc, _ = ours(hourly, warm=False, demand=30.0)
    row("  same + demand charge 30 yuan/kW-month (zcpark only)", t_d, None, o_d, None,
        f"without warm start {t_dc:.2f} s, objective {o_dc:,.2f}")

    q = make_inputs("15min")
    t_o, o_o, k = ours(q)
    t_c, o_c, _ = ours(q, warm=False)
    if args.skip_15min_pypsa:
        row("one year 15-min (35,040 steps), one-shot", t_o, None, o_o, None)
    else:
        t_p, o_p = pypsa_one_shot(q)
        row("one year 15-min (35,040 steps), one-shot", t_o, t_p, o_o, o_p)
    row("  same, without the chunked warm start", t_c, t_p if not args.skip_15min_pypsa else None,
        o_c, o_p if not args.skip_15min_pypsa else None)

    t_o, o_o, solves = ours_rolling(hourly, slice(None), 48, 24)
    rows_sub = args.rolling_windows * 24 + 24
    t_os, o_os, _ = ours_rolling(hourly, slice(0, rows_sub), 48, 24)
    t_ps, o_ps, win_ps = pypsa_rolling(hourly, slice(0, rows_sub), 48, 24)
    row(f"rolling 48 h / commit 24 h, first {win_ps} windows", t_os, t_ps, o_os, o_ps,
        "realised schedules costed by our KPI function")
    per_window = t_ps / win_ps
    row(f"rolling 48 h / commit 24 h, full year ({solves} solves)", t_o, per_window * solves, o_o,
        None, f"PyPSA extrapolated linearly: {per_window:.2f} s/window x {solves}")
    print("\nRolling 48 h / 24 h on forecasts (PV: expected x AR(1) log-error sigma 0.25, phi 0.8,")
    print("seed 1; load: seasonal naive, same hour last week), realised against actuals:")
    t0 = time.perf_counter()
    fc = rolling_dispatch(
        hourly["load"], hourly["pv"], hourly["battery"], window_steps=48, commit_steps=24,
        pv_forecast_mw=pv_forecast_with_error(hourly["pv"], sigma=0.25, phi=0.8, seed=1),
        load_forecast_mw=seasonal_naive_forecast(hourly["load"], "7D"),
        price_yuan_per_mwh=hourly["price"], export_price_yuan_per_mwh=0.0,
        grid_tco2_per_mwh=hourly["tco2"], carbon_price_yuan_per_tco2=CARBON_PRICE,
        curtailment_penalty_yuan_per_mwh=CURTAIL_PENALTY, temperature_c=hourly["temp"],
    )
    lost = fc.kpis["value_lost_vs_perfect_yuan"]
    print(f"  {time.perf_counter() - t0:.2f} s incl. the perfect-foresight solve; objective "
          f"{fc.objective:,.0f} vs perfect {fc.kpis['perfect_objective']:,.0f} yuan: value lost "
          f"{lost:,.0f} yuan ({100 * lost / fc.kpis['perfect_objective']:.2f} %)")
    print("\n| case | zcpark s | PyPSA s | speed-up | objective yuan | rel. diff | note |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
