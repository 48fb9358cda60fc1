"""Rule-based baseline: charge on PV surplus and in the valley, discharge at the peak."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy.storage.battery import BatterySpec
from energy.storage.problem import (
    DispatchResult,
    ObjectiveWeights,
    compute_kpis,
    make_problem,
    schedule_frame,
)
from energy.storage.rolling import realise
from energy.tariffs import Tariff, period_series


def rule_based_dispatch(
    load_mw: pd.Series,
    pv_mw: pd.Series | np.ndarray | float | None,
    battery: BatterySpec,
    *,
    price_yuan_per_mwh: pd.Series | np.ndarray | float | None = None,
    tariff: Tariff | None = None,
    valley_quantile: float = 0.25,
    peak_quantile: float = 0.75,
    grid_tco2_per_mwh: pd.Series | np.ndarray | float | None = None,
    carbon_price_yuan_per_tco2: float = 0.0,
    curtailment_penalty_yuan_per_mwh: float = 0.0,
    temperature_c: pd.Series | np.ndarray | float | None = None,
    weights: ObjectiveWeights | None = None,
    step_h: float | None = None,
) -> DispatchResult:
    """Greedy baseline. Valley/peak steps are the tariff's 'valley'/'peak' periods, or without a
    tariff the steps priced at or below/above the given price quantiles. Charging is capped by the
    (cold-limited) charge power and SOC room; discharge serves net load only (no export).
    KPI ``final_soc_shortfall_mwh`` says how far the end SOC falls short of ``soc_final_pct``.
    """
    p = make_problem(
        load_mw, pv_mw, battery, price_yuan_per_mwh=price_yuan_per_mwh, tariff=tariff,
        grid_tco2_per_mwh=grid_tco2_per_mwh, carbon_price_yuan_per_tco2=carbon_price_yuan_per_tco2,
        curtailment_penalty_yuan_per_mwh=curtailment_penalty_yuan_per_mwh,
        temperature_c=temperature_c, weights=weights, step_h=step_h,
    )
    if tariff is not None:
        periods = period_series(p.index, tariff).to_numpy()
        valley, peak = periods == "valley", periods == "peak"
    else:
        price = p.price_yuan_per_mwh
        valley = price <= np.quantile(price, valley_quantile)
        peak = price >= np.quantile(price, peak_quantile)
    net = p.net_load_mw - p.pv_mw
    want_c = np.where(valley, p.charge_limit_mw, np.minimum(np.maximum(-net, 0), p.charge_limit_mw))
    want_d = np.where(peak & ~valley, np.minimum(np.maximum(net, 0), battery.power_discharge_mw), 0)
    want_c = np.where(want_d > 0, 0.0, want_c)
    b, dt = battery, p.step_h
    r = b.retention_per_step(dt)
    c = np.zeros(p.n)
    d = np.zeros(p.n)
    soc = b.soc_initial_mwh
    # The SOC recursion with clipping is sequential by nature: one cheap float loop.
    for t in range(p.n):
        kept = r * soc
        if want_c[t] > 0:
            c[t] = min(want_c[t], max(b.soc_max_mwh - kept, 0.0) / (b.eta_charge * dt))
        elif want_d[t] > 0:
            d[t] = min(want_d[t], max(kept - b.soc_min_mwh, 0.0) * b.eta_discharge / dt)
        soc = kept + b.eta_charge * dt * c[t] - dt * d[t] / b.eta_discharge
    cols = realise(c, d, p.load_mw, p.pv_mw, b.soc_initial_mwh, p)
    schedule = schedule_frame(p.index, **cols)
    kpis = compute_kpis(schedule, p)
    return DispatchResult(objective=kpis["weighted_objective"], kpis=kpis, schedule=schedule)
