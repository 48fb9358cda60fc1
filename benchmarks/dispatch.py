"""Benchmark: the same storage dispatch problem in PyPSA and in zcpark's energy.storage, one run.

Problem: one bus with an industrial load, a PV plant (curtailable, penalty per MWh curtailed),
grid import (TOU price + carbon price x time-varying grid factor, 200 MW limit), grid export
(20 MW limit, price 0) and the default 63 MW / 252 MWh LFP station (split efficiencies, SOC window,
self-discharge, final SOC, degradation cost per MWh throughput, cold-weather charge limit).
PyPSA model: Store + charge/discharge Links (a StorageUnit has no SOC floor), PV Generator with
marginal cost -penalty (objective differs from ours by the constant penalty x PV energy), import
and export Generators. Demand charges are off (PyPSA has no native monthly-peak term).

Run (from the repository root, after ``pip install -e ".[bench]"``):
    python benchmarks/dispatch.py [--runs 5] [--rolling-windows 20] [--write]

Every timed call runs in a fresh process (benchmarks/harness.py) after its imports (``import
pypsa`` included), its inputs and one untimed warm-up call of the same side; runs are paired and
alternate the order. PyPSA's time includes building its network (our time includes building the
LP), as a user of either tool pays both.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import TABLE_HEADER, machine_line, paired
from energy.forecasting import pv_forecast_with_error, seasonal_naive_forecast
from energy.storage import DispatchSignals, default_station, optimize_dispatch, rolling_dispatch
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
        DispatchSignals(
            inp["load"][sl], inp["pv"][sl], price_yuan_per_mwh=inp["price"][sl],
            export_price_yuan_per_mwh=0.0, grid_tco2_per_mwh=inp["tco2"][sl],
            carbon_price_yuan_per_tco2=CARBON_PRICE,
            curtailment_penalty_yuan_per_mwh=CURTAIL_PENALTY, temperature_c=inp["temp"][sl],
            demand_charge_yuan_per_kw_month=demand,
        ),
        inp["battery"], warm_start=warm,
    )
    return time.perf_counter() - t0, r.objective, r.kpis


def ours_rolling(inp: dict, sl: slice, window: int, commit: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    r = rolling_dispatch(
        DispatchSignals(
            inp["load"][sl], inp["pv"][sl], price_yuan_per_mwh=inp["price"][sl],
            export_price_yuan_per_mwh=0.0, grid_tco2_per_mwh=inp["tco2"][sl],
            carbon_price_yuan_per_tco2=CARBON_PRICE,
            curtailment_penalty_yuan_per_mwh=CURTAIL_PENALTY, temperature_c=inp["temp"][sl],
        ),
        inp["battery"], window_steps=window, commit_steps=commit, compare_perfect=False,
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
    p = make_problem(
        DispatchSignals(
            inp["load"][sl], inp["pv"][sl], price_yuan_per_mwh=inp["price"][sl],
            export_price_yuan_per_mwh=0.0, grid_tco2_per_mwh=inp["tco2"][sl],
            carbon_price_yuan_per_tco2=CARBON_PRICE,
            curtailment_penalty_yuan_per_mwh=CURTAIL_PENALTY, temperature_c=inp["temp"][sl],
        ),
        b,
    )
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


RESULTS = Path(__file__).with_name("RESULTS_dispatch.md")


def _quiet() -> None:
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore", FutureWarning)


def ours_side(freq: str, steps: int | None = None, rolling: bool = False
              ) -> Callable[[], float]:
    """Set-up of our one-shot LP (or rolling 48 h / 24 h) on the first ``steps`` steps."""
    _quiet()
    inp = make_inputs(freq)
    sl = slice(0, steps)
    if rolling:
        return lambda: ours_rolling(inp, sl, 48, 24)[1]
    return lambda: ours(inp, sl)[1]


def pypsa_side(freq: str, steps: int | None = None, rolling: bool = False
               ) -> Callable[[], float]:
    """Set-up of PyPSA on the same problem (``import pypsa`` happens here, not in the timing)."""
    _quiet()
    import pypsa  # noqa: F401 - imported outside the timed call on purpose

    logging.getLogger("linopy").setLevel(logging.ERROR)
    logging.getLogger("pypsa").setLevel(logging.ERROR)
    inp = make_inputs(freq)
    sl = slice(0, steps)
    if rolling:
        return lambda: pypsa_rolling(inp, sl, 48, 24)[1]
    return lambda: pypsa_one_shot(inp, sl)[1]


def forecast_note() -> str:
    """Value lost by the rolling horizon on forecasts against perfect foresight (one run)."""
    _quiet()
    hourly = make_inputs("h")
    t0 = time.perf_counter()
    fc = rolling_dispatch(
        DispatchSignals(
            hourly["load"], hourly["pv"], price_yuan_per_mwh=hourly["price"],
            export_price_yuan_per_mwh=0.0, grid_tco2_per_mwh=hourly["tco2"],
            carbon_price_yuan_per_tco2=CARBON_PRICE,
            curtailment_penalty_yuan_per_mwh=CURTAIL_PENALTY, temperature_c=hourly["temp"],
        ),
        hourly["battery"], window_steps=48, commit_steps=24,
        pv_forecast_mw=pv_forecast_with_error(hourly["pv"], sigma=0.25, phi=0.8, seed=1),
        load_forecast_mw=seasonal_naive_forecast(hourly["load"], "7D"),
    )
    lost = fc.kpis["value_lost_vs_perfect_yuan"]
    return (f"Rolling 48 h / 24 h over the hourly year on forecasts (PV: expected × AR(1) "
            f"log-error σ 0.25, φ 0.8, seed 1; load: same hour last week), realised against "
            f"actuals: {time.perf_counter() - t0:.2f} s incl. the perfect-foresight solve; value "
            f"lost {lost:,.0f} yuan ({100 * lost / fc.kpis['perfect_objective']:.2f} % of the "
            "perfect-foresight cost).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rolling-windows", type=int, default=20)
    ap.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = ap.parse_args()
    rolling_steps = args.rolling_windows * 24 + 24
    cases = [
        ("one year hourly (8,760 steps), one-shot LP", {"freq": "h"}),
        ("one year 15-min (35,040 steps), one-shot LP", {"freq": "15min"}),
        (f"rolling 48 h / commit 24 h, hourly, {args.rolling_windows + 1} windows",
         {"freq": "h", "steps": rolling_steps, "rolling": True}),
    ]
    rows, notes = [], []
    for label, kw in cases:
        print(label, flush=True)
        r = paired("benchmarks.dispatch:ours_side", "benchmarks.dispatch:pypsa_side",
                   runs=args.runs, ours_kwargs=kw, ref_kwargs=kw)
        rows.append(r.row(label))
        o, p = r.results["ours"][0], r.results["ref"][0]
        notes.append(f"- {label}: objectives {o:,.2f} (ours) vs {p:,.2f} yuan (PyPSA), "
                     f"relative difference {abs(o - p) / abs(p):.1e}"
                     + (" (PyPSA's realised schedule costed by our KPI function)"
                        if kw.get("rolling") else "") + ".")
    lines = [
        "## Dispatch: the same storage LP in PyPSA and in `energy.storage`",
        "",
        f"Command: `python benchmarks/dispatch.py --runs {args.runs} "
        f"--rolling-windows {args.rolling_windows} --write`",
        "",
        machine_line(),
        "",
        "One bus: industrial load, curtailable PV, grid import (TOU + carbon price), export "
        "limit, the 63 MW / 252 MWh LFP station (see the module docstring). Every timed call in "
        "a fresh process after imports (`import pypsa` included), inputs and one warm-up call "
        "of the same side; PyPSA's time includes building its network, ours building the LP.",
        "",
        TABLE_HEADER,
        *rows,
        "",
        *notes,
        "",
        forecast_note(),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
