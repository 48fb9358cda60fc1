"""Rule-based baseline: what a competent operator runs without an optimiser.

Rules, in order of priority at each step:
1. **PV surplus** is always stored first (up to the cold-limited charge power and SOC room).
2. **Peak shaving**: with a demand charge, a monthly import threshold is set as low as the battery
   can hold on every day of that month (the energy above it on each day fits in the usable
   energy and can be recharged the same day below the threshold, and the excess never exceeds
   the discharge power); whenever net load exceeds it, the battery discharges the excess, and
   grid charging never lifts the import above it: the baseline never sets a new monthly peak.
3. **Peak serving**: in the tariff's peak periods the battery serves the net load.
4. **Valley charging only to what is needed**: in a valley run the battery charges from the grid
   only up to the energy the following non-valley block will ask of it (rules 2–3, at the
   discharge efficiency) above the SOC floor (in the last block, above the end-SOC floor).
5. **End-SOC floor**: after the last valley run the battery does not discharge below
   ``soc_final_pct``; any shortfall that remains (e.g. an initial SOC below it and no valley left)
   is reported as ``final_soc_shortfall_mwh``.
Every money input (import price, export price, demand charge, carbon price, curtailment
penalty) is passed to the KPIs, so the baseline's cost is comparable with the optimal LP's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy.storage.battery import BatterySpec
from energy.storage.problem import (
    DispatchResult,
    DispatchSignals,
    Problem,
    compute_kpis,
    make_problem,
    schedule_frame,
)
from energy.storage.rolling import realise
from energy.tariffs import period_series

_BISECTION_STEPS = 50


def monthly_shaving_threshold_mw(p: Problem, net_mw: np.ndarray) -> np.ndarray:
    """Per step, the import threshold of its month that the battery can hold every day (MW);
    +inf without a demand charge. Vectorised bisection over each month's steps."""
    if p.demand_charge_yuan_per_mw_month <= 0:
        return np.full(p.n, np.inf)
    b, dt = p.battery, p.step_h
    usable_mwh = max(b.soc_max_mwh - b.soc_min_mwh, 0.0) * b.eta_discharge
    days = pd.factorize(p.index.normalize())[0]
    out = np.empty(p.n)
    for month in np.unique(p.month_code):
        sel = np.flatnonzero(p.month_code == month)
        net, day = net_mw[sel], days[sel]
        lo, hi = max(float(net.min()), 0.0), max(float(net.max()), 0.0)
        day = day - day.min()
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            excess = np.maximum(net - mid, 0.0)
            room = np.minimum(np.maximum(mid - net, 0.0), b.power_charge_mw)
            excess_day = np.bincount(day, weights=excess * dt)
            recharge_day = np.bincount(day, weights=room * dt) * b.eta_charge * b.eta_discharge
            if ((excess_day <= usable_mwh) & (excess_day <= recharge_day)).all() \
                    and excess.max() <= b.power_discharge_mw:
                hi = mid
            else:
                lo = mid
        out[sel] = hi
    return out


def _block_need_mwh(want_d: np.ndarray, valley: np.ndarray, dt: float,
                    eta_discharge: float) -> tuple[np.ndarray, np.ndarray]:
    """For each step: the id of its block (a valley run and the non-valley steps after it) and
    the stored energy the block's non-valley steps will draw (MWh, before discharge losses)."""
    starts = valley & ~np.concatenate(([False], valley[:-1]))
    block = np.cumsum(starts)
    draw = np.where(valley, 0.0, want_d) * dt / eta_discharge
    need = np.bincount(block, weights=draw)
    return block, need[block]


def _shaving_reserve_mwh(want_shave: np.ndarray, block: np.ndarray, dt: float,
                        eta_discharge: float) -> np.ndarray:
    """Stored energy (MWh) the shaving after each step, within its block, will still draw."""
    draw = want_shave * dt / eta_discharge
    rev = draw[::-1]
    rev_block = block[::-1]
    cum = np.cumsum(rev)
    # cumulative sum restarted at each block boundary (reverse order), then made exclusive
    starts = np.concatenate(([True], rev_block[1:] != rev_block[:-1]))
    offset = np.maximum.accumulate(np.where(starts, np.arange(len(rev)), 0))
    base = np.concatenate(([0.0], cum))[offset]
    inclusive = (cum - base)[::-1]
    return inclusive - draw


def rule_based_dispatch(
    signals: DispatchSignals,
    battery: BatterySpec,
    *,
    valley_quantile: float = 0.25,
    peak_quantile: float = 0.75,
) -> DispatchResult:
    """The baseline of the module docstring. Valley/peak steps are the tariff's 'valley'/'peak'
    periods, or without a tariff the steps priced at or below/above the given price quantiles.
    KPI ``final_soc_shortfall_mwh`` says how far the end SOC falls short of ``soc_final_pct``.
    """
    p = make_problem(signals, battery)
    tariff = signals.tariff
    if tariff is not None:
        periods = period_series(p.index, tariff).to_numpy()
        valley, peak = periods == "valley", periods == "peak"
    else:
        price = p.price_yuan_per_mwh
        valley = price <= np.quantile(price, valley_quantile)
        peak = (price >= np.quantile(price, peak_quantile)) & ~valley
    b, dt = battery, p.step_h
    net = p.net_load_mw - p.pv_mw
    threshold = monthly_shaving_threshold_mw(p, net)
    above = np.maximum(net - threshold, 0.0)
    want_shave = np.minimum(above, b.power_discharge_mw)
    want_serve = np.where(peak, np.minimum(np.maximum(net, 0.0), b.power_discharge_mw)
                          - want_shave, 0.0)
    block, need = _block_need_mwh(want_shave + want_serve, valley, dt, b.eta_discharge)
    reserve = _shaving_reserve_mwh(want_shave, block, dt, b.eta_discharge)
    last = block == block[-1]
    floor = np.where(last & ~valley, max(b.soc_min_mwh, b.soc_final_mwh), b.soc_min_mwh)
    target = np.minimum(np.where(last, max(b.soc_min_mwh, b.soc_final_mwh), b.soc_min_mwh)
                        + need, b.soc_max_mwh)
    surplus = np.minimum(np.maximum(-net, 0.0), p.charge_limit_mw)
    # grid charging may not lift the import above the shaving threshold or the import limit
    grid_room = np.maximum(np.minimum(threshold, p.import_limit_mw) - np.maximum(net, 0.0), 0.0)
    valley_c = np.where(valley & (surplus <= 0), np.minimum(p.charge_limit_mw, grid_room), 0.0)

    r = b.retention_per_step(dt)
    c = np.zeros(p.n)
    d = np.zeros(p.n)
    soc = b.soc_initial_mwh
    to_mw = b.eta_discharge / dt
    # The SOC recursion with clipping is sequential by nature: one cheap float loop.
    for t in range(p.n):
        kept = r * soc
        if surplus[t] > 0:
            c[t] = min(surplus[t], max(b.soc_max_mwh - kept, 0.0) / (b.eta_charge * dt))
        elif want_shave[t] > 0 or want_serve[t] > 0:
            # shaving may use the battery down to the floor; serving the peak only what the
            # shaving later in the block does not need
            shave = min(want_shave[t], max(kept - floor[t], 0.0) * to_mw)
            serve = min(want_serve[t],
                        max(kept - floor[t] - reserve[t] - shave / to_mw, 0.0) * to_mw)
            d[t] = shave + serve
        elif valley_c[t] > 0 and kept < target[t]:
            c[t] = min(valley_c[t], (target[t] - kept) / (b.eta_charge * dt))
        soc = kept + b.eta_charge * dt * c[t] - dt * d[t] / b.eta_discharge
    cols = realise(c, d, p.load_mw, p.pv_mw, b.soc_initial_mwh, p)
    schedule = schedule_frame(p.index, **cols)
    kpis = compute_kpis(schedule, p)
    if np.isfinite(threshold).all():
        kpis["shaving_threshold_max_mw"] = float(threshold.max())
    return DispatchResult(objective=kpis["weighted_objective"], kpis=kpis, schedule=schedule)
