"""Rolling-horizon (model-predictive) dispatch: plan on forecasts, commit, observe, repeat.

The HiGHS model is built ONCE for the window length; between windows only column bounds, costs and
row bounds change (``changeColsBounds``/``changeColsCost``/``changeRowsBounds``), so HiGHS restarts
from the previous basis. Windows running past the end of the data are padded with zero-flow steps.
"""

from __future__ import annotations

import highspy
import numpy as np
import pandas as pd

from energy.storage.battery import BatterySpec
from energy.storage.dispatch import diagnose, solve_problem
from energy.storage.lp_model import DispatchLp
from energy.storage.problem import (
    DispatchInfeasible,
    DispatchResult,
    DispatchSignals,
    Problem,
    compute_kpis,
    make_problem,
    schedule_frame,
    soc_path_mwh,
)
from energy.storage.windows import Windows


def realise(
    plan_charge_mw: np.ndarray,
    plan_discharge_mw: np.ndarray,
    load_mw: np.ndarray,
    pv_mw: np.ndarray,
    soc0_mwh: float,
    p: Problem,
) -> dict[str, np.ndarray]:
    """Apply planned battery power to the actual load/PV; the grid and curtailment take the rest.

    If the import limit binds, charging is cut first; if surplus exceeds export + PV curtailment,
    discharging is cut. Vectorised over the committed block.
    """
    b = p.battery
    c = plan_charge_mw.copy()
    d = plan_discharge_mw.copy()
    net = load_mw + b.aux_load_mw - pv_mw + c - d  # >0: needs import
    over = np.maximum(net - p.import_limit_mw, 0.0)
    cut_c = np.minimum(over, c)
    c -= cut_c
    net -= cut_c
    surplus = np.maximum(-net, 0.0)
    exp = np.minimum(surplus, p.export_limit_mw)
    cur = np.minimum(surplus - exp, pv_mw)
    cut_d = np.minimum(surplus - exp - cur, d)
    d -= cut_d
    imp = np.maximum(net, 0.0)
    gain = b.eta_charge * p.step_h * c - p.step_h * d / b.eta_discharge
    soc = soc_path_mwh(soc0_mwh, gain, b.retention_per_step(p.step_h))
    return {
        "charge_mw": c,
        "discharge_mw": d,
        "soc_mwh": soc,
        "grid_import_mw": imp,
        "grid_export_mw": exp,
        "pv_curtailed_mw": cur,
    }


def rolling_dispatch(
    signals: DispatchSignals,
    battery: BatterySpec,
    *,
    window_steps: int,
    commit_steps: int,
    load_forecast_mw: pd.Series | None = None,
    pv_forecast_mw: pd.Series | None = None,
    compare_perfect: bool = True,
) -> DispatchResult:
    """Receding-horizon dispatch over the actual load and PV of ``signals``.

    Each window of ``window_steps`` is planned on the forecasts (``None`` = perfect foresight),
    its first ``commit_steps`` are committed and realised against the actual series, and the SOC
    carries over. The final SOC requirement applies once the end of the data enters a window.
    ``objective`` is the weighted objective of the realised schedule; with ``compare_perfect``
    the KPIs carry ``perfect_objective`` (one-shot LP on actuals) and
    ``value_lost_vs_perfect_yuan``. A monthly demand charge is optimised on the increase over the
    month's realised peak so far (windows up to 28 days, crossing at most one month boundary).
    """
    if not 1 <= commit_steps <= window_steps:
        raise ValueError("need 1 <= commit_steps <= window_steps")
    actual = make_problem(signals, battery)
    n, w = actual.n, window_steps
    fc_load = actual.load_mw if load_forecast_mw is None else _aligned(load_forecast_mw, actual)
    fc_pv = (
        actual.pv_mw
        if pv_forecast_mw is None
        else np.maximum(_aligned(pv_forecast_mw, actual), 0.0)
    )
    windows = Windows(actual, w, {"load_mw": fc_load, "pv_mw": fc_pv})
    peaks = actual.has_demand_charge
    if peaks and w * actual.step_h > 28 * 24:
        raise ValueError("with a demand charge the window may span at most 28 days")
    model = DispatchLp(w, actual.step_h, windows.first, rolling_peaks=peaks)
    month = np.concatenate([actual.month_code, np.full(w, actual.month_code[-1])])
    realised_import = np.zeros(n)
    blocks: list[dict[str, np.ndarray]] = []
    soc0 = battery.soc_initial_mwh
    solves = 0
    for start in range(0, n, commit_steps):
        win = windows.at(start)
        valid = min(w, n - start)
        final_pos = n - 1 - start if n - 1 - start < w else None
        group, floor = None, 0.0
        if peaks:
            group = month[start : start + w] - month[start]
            this_month = month[:start] == month[start]
            floor = float(realised_import[:start][this_month].max()) if this_month.any() else 0.0
        model.set_data(win, soc0, final_pos if final_pos is not None else -1, valid, group, floor)
        status, _, x = model.solve()
        solves += 1
        if status != highspy.HighsModelStatus.kOptimal:
            raise DispatchInfeasible(
                f"window starting {actual.index[start]}: " + diagnose(win, status, soc0)
            )
        k = min(commit_steps, n - start)
        plan = model.split(x, k)
        sl = slice(start, start + k)
        block = realise(plan["charge_mw"], plan["discharge_mw"], actual.load_mw[sl],
                        actual.pv_mw[sl], soc0, actual)
        blocks.append(block)
        realised_import[sl] = block["grid_import_mw"]
        soc0 = float(block["soc_mwh"][-1])
    cols = {c: np.concatenate([b[c] for b in blocks]) for c in blocks[0]}
    schedule = schedule_frame(actual.index, **cols)
    kpis = compute_kpis(schedule, actual)
    kpis["solves"] = solves
    objective = kpis["weighted_objective"]
    if compare_perfect:
        perfect = solve_problem(actual).objective
        kpis["perfect_objective"] = perfect
        kpis["value_lost_vs_perfect_yuan"] = objective - perfect
    return DispatchResult(objective=objective, kpis=kpis, schedule=schedule)


def _aligned(s: pd.Series | np.ndarray, p: Problem) -> np.ndarray:
    if isinstance(s, pd.Series):
        s = s.reindex(p.index).to_numpy(dtype=float)
    arr = np.asarray(s, dtype=float)
    if arr.shape != (p.n,) or np.isnan(arr).any():
        raise ValueError("forecast must cover every step of the horizon")
    return arr
