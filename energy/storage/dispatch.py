"""Optimal battery dispatch (one-shot LP with perfect foresight over the given horizon).

See energy.storage.lp_model for the formulation and the note on simultaneous charge/discharge.
"""

from __future__ import annotations

import highspy
import numpy as np
import pandas as pd

from energy.storage.battery import BatterySpec
from energy.storage.lp_model import DispatchLp
from energy.storage.problem import (
    DispatchInfeasible,
    DispatchResult,
    DispatchSignals,
    Problem,
    compute_kpis,
    make_problem,
    schedule_frame,
)
from energy.storage.windows import chunked_basis


def optimize_dispatch(
    signals: DispatchSignals,
    battery: BatterySpec,
    *,
    fix_simultaneous: bool = False,
    warm_start: bool = True,
) -> DispatchResult:
    """Minimum-cost dispatch of ``battery`` serving the load with PV and the grid.

    ``signals`` (see ``DispatchSignals``): load and PV in MW per step, prices, demand charge
    yuan/kW-month on the monthly peak import, CO2 cost = carbon price x grid factor x import,
    penalty per MWh curtailed, temperature for the cold charge limit; degradation cost per MWh of
    throughput (charge + discharge) comes from the battery.
    Raises ``DispatchInfeasible`` with the reason when no schedule meets the constraints.
    """
    p = make_problem(signals, battery)
    return solve_problem(p, fix_simultaneous=fix_simultaneous, warm_start=warm_start)


def solve_problem(
    p: Problem, fix_simultaneous: bool = False, warm_start: bool = True
) -> DispatchResult:
    """Solve a prepared ``Problem`` (see ``optimize_dispatch``).

    ``warm_start`` starts long horizons from a basis stitched from month-long chunks (exact: only
    the starting point of the simplex changes; see energy.storage.windows).
    """
    if p.n == 0:
        raise ValueError("empty horizon")
    n_months = int(p.month_code.max()) + 1 if p.has_demand_charge else 0
    model = DispatchLp(p.n, p.step_h, p, n_months)
    if warm_start:
        chunked_basis(p, model)
    status, objective, x = model.solve()
    if status != highspy.HighsModelStatus.kOptimal:
        raise DispatchInfeasible(diagnose(p, status))
    schedule = schedule_frame(p.index, **model.split(x))
    kpis = compute_kpis(schedule, p)
    if fix_simultaneous and kpis["simultaneous_steps"]:
        schedule = net_simultaneous(schedule, p)
        kpis = compute_kpis(schedule, p)
    kpis["lp_objective"] = objective
    return DispatchResult(objective=objective, kpis=kpis, schedule=schedule)


def diagnose(
    p: Problem, status: highspy.HighsModelStatus, soc0_mwh: float | None = None
) -> str:
    """A human reason for a non-optimal solve (error path only)."""
    b = p.battery
    soc0 = b.soc_initial_mwh if soc0_mwh is None else soc0_mwh
    short = p.net_load_mw - p.pv_mw - p.import_limit_mw - b.power_discharge_mw
    if (short > 1e-9).any():
        t = int(np.argmax(short > 1e-9))
        return (
            f"load cannot be served at {int((short > 1e-9).sum())} steps (first {p.index[t]}): "
            f"load {p.net_load_mw[t]:.3f} MW exceeds PV + import limit + discharge power"
        )
    # Highest SOC reachable by charging as fast as allowed (cold limit, grid limit) every step.
    room = np.minimum(p.charge_limit_mw, np.maximum(p.pv_mw + p.import_limit_mw - p.net_load_mw, 0))
    r = b.retention_per_step(p.step_h)
    soc = soc0
    for gain in b.eta_charge * p.step_h * room:  # error path only: plain recursion with a cap
        soc = min(b.soc_max_mwh, r * soc + gain)
    target = max(b.soc_min_mwh, b.soc_final_mwh)
    if soc < target - 1e-9:
        return (
            f"final state of charge {target:.3f} MWh ({b.soc_final_pct:g} %) is unreachable: "
            f"at most {soc:.3f} MWh can be reached from {soc0:.3f} MWh "
            f"with the charge, cold-weather and grid limits"
        )
    if status == highspy.HighsModelStatus.kUnbounded:
        return "unbounded: export price above import cost with unlimited grid connection"
    return f"HiGHS returned {status.name}: constraints cannot all be met"


def net_simultaneous(schedule: pd.DataFrame, p: Problem) -> pd.DataFrame:
    """Replace simultaneous charge/discharge by the net flow with the same SOC change.

    The freed power (the avoided conversion losses) first reduces import, then raises export up to
    its limit, then curtailment up to the PV available; steps where it fits nowhere stay as they
    are.
    """
    b = p.battery
    out = schedule.copy()
    c = out["charge_mw"].to_numpy()
    d = out["discharge_mw"].to_numpy()
    gain = b.eta_charge * c - d / b.eta_discharge
    c2 = np.where(gain > 0, gain / b.eta_charge, 0.0)
    d2 = np.where(gain < 0, -gain * b.eta_discharge, 0.0)
    freed = (c - d) - (c2 - d2)
    imp = out["grid_import_mw"].to_numpy()
    exp = out["grid_export_mw"].to_numpy()
    cur = out["pv_curtailed_mw"].to_numpy()
    r1 = np.minimum(imp, freed)
    r2 = np.minimum(np.maximum(p.export_limit_mw - exp, 0.0), freed - r1)
    r3 = np.minimum(np.maximum(p.pv_mw - cur, 0.0), freed - r1 - r2)
    ok = (np.minimum(c, d) > 0) & (freed - r1 - r2 - r3 <= 1e-9)
    out["charge_mw"] = np.where(ok, c2, c)
    out["discharge_mw"] = np.where(ok, d2, d)
    out["grid_import_mw"] = np.where(ok, imp - r1, imp)
    out["grid_export_mw"] = np.where(ok, exp + r2, exp)
    out["pv_curtailed_mw"] = np.where(ok, cur + r3, cur)
    return out
