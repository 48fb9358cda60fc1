"""Dispatch problem data: input series normalised to numpy arrays, weights, result shape, KPIs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from energy.storage.battery import BatterySpec
from energy.tariffs import Tariff, price_series
from energy.units import KW_PER_MW

SCHEDULE_COLUMNS = (
    "charge_mw",
    "discharge_mw",
    "soc_mwh",
    "grid_import_mw",
    "grid_export_mw",
    "pv_curtailed_mw",
)
SIMULTANEOUS_TOL_MW = 1e-6


class DispatchInfeasible(ValueError):
    """The dispatch problem has no solution; ``reason`` says which requirement cannot be met."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ObjectiveWeights:
    """Weights of the objective terms (0 switches a term off). All terms are in yuan."""

    energy_cost: float = 1.0
    demand_charge: float = 1.0
    co2: float = 1.0
    degradation: float = 1.0
    curtailment: float = 1.0


Signal = pd.Series | np.ndarray | float | None
"""A per-step input: a Series on the load's index, an array of its length, a constant, or None."""


@dataclass(frozen=True)
class DispatchSignals:
    """What every dispatch strategy plans on (one object instead of a dozen keyword arguments).

    Series are MW per step on ``load_mw``'s regular DatetimeIndex (hourly, 15-min, ...).
    Prices in yuan/MWh (explicit series, else ``tariff``, else zero); the export price likewise
    (else the tariff's); ``demand_charge_yuan_per_kw_month`` on the monthly peak import (None:
    the tariff's, else zero); CO2 cost = ``carbon_price_yuan_per_tco2`` x ``grid_tco2_per_mwh``
    x import; ``curtailment_penalty_yuan_per_mwh`` per MWh of PV curtailed; ``temperature_c`` the
    cell/enclosure temperature of the cold charge limit; ``weights`` of the objective terms;
    ``step_h`` the step in hours (None: from the index). The grid's import and export limits
    belong to the station (``BatterySpec``).
    """

    load_mw: pd.Series
    pv_mw: Signal = None
    price_yuan_per_mwh: Signal = None
    tariff: Tariff | None = None
    export_price_yuan_per_mwh: Signal = None
    demand_charge_yuan_per_kw_month: float | None = None
    grid_tco2_per_mwh: Signal = None
    carbon_price_yuan_per_tco2: float = 0.0
    curtailment_penalty_yuan_per_mwh: float = 0.0
    temperature_c: Signal = None
    weights: ObjectiveWeights | None = None
    step_h: float | None = None

    def with_(self, **changes: Any) -> DispatchSignals:
        """A copy with some fields changed (e.g. a slice of the horizon, another price)."""
        return replace(self, **changes)


@dataclass
class DispatchResult:
    """One result shape for every strategy (optimal, rolling, rule)."""

    objective: float
    kpis: dict[str, float]
    schedule: pd.DataFrame


@dataclass
class Problem:
    """Arrays of one dispatch problem (length n, step ``step_h`` hours)."""

    index: pd.DatetimeIndex
    step_h: float
    load_mw: np.ndarray
    pv_mw: np.ndarray
    price_yuan_per_mwh: np.ndarray
    export_price_yuan_per_mwh: np.ndarray
    grid_tco2_per_mwh: np.ndarray
    charge_limit_mw: np.ndarray
    month_code: np.ndarray
    battery: BatterySpec
    carbon_price_yuan_per_tco2: float = 0.0
    demand_charge_yuan_per_mw_month: float = 0.0
    curtailment_penalty_yuan_per_mwh: float = 0.0
    weights: ObjectiveWeights = field(default_factory=ObjectiveWeights)

    @property
    def n(self) -> int:
        return len(self.index)

    @property
    def net_load_mw(self) -> np.ndarray:
        """Load plus station auxiliary load (MW)."""
        return self.load_mw + self.battery.aux_load_mw

    @property
    def import_limit_mw(self) -> float:
        lim = self.battery.grid_import_limit_mw
        return np.inf if lim is None else float(lim)

    @property
    def export_limit_mw(self) -> float:
        lim = self.battery.grid_export_limit_mw
        return np.inf if lim is None else float(lim)

    @property
    def has_demand_charge(self) -> bool:
        return self.demand_charge_yuan_per_mw_month * self.weights.demand_charge != 0.0

    def import_cost_yuan_per_mwh(self) -> np.ndarray:
        w = self.weights
        return (
            w.energy_cost * self.price_yuan_per_mwh
            + w.co2 * self.carbon_price_yuan_per_tco2 * self.grid_tco2_per_mwh
        )


def _as_array(x: Signal, index: pd.DatetimeIndex, default: float,
              name: str) -> np.ndarray:
    n = len(index)
    if x is None:
        return np.full(n, float(default))
    if np.isscalar(x):
        return np.full(n, float(x))  # type: ignore[arg-type]
    if isinstance(x, pd.Series):
        if not x.index.equals(index):
            x = x.reindex(index)
        arr = x.to_numpy(dtype=float)
    else:
        arr = np.asarray(x, dtype=float)
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected {n} values, got {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name}: missing values at {int(np.isnan(arr).sum())} steps")
    return arr


def infer_step_h(index: pd.DatetimeIndex, step_h: float | None) -> float:
    """Step length in hours from a regular index (or the given ``step_h``)."""
    if step_h is not None:
        return float(step_h)
    if len(index) < 2:
        raise ValueError("give step_h for a single-step horizon")
    deltas = pd.TimedeltaIndex(np.diff(index.to_numpy()))
    if not (deltas == deltas[0]).all():
        raise ValueError("the time index must be regular")
    return float(deltas[0] / pd.Timedelta(hours=1))


def month_codes(index: pd.DatetimeIndex) -> np.ndarray:
    """0-based code of the calendar month of each step (in the index's own time zone)."""
    ym = np.asarray(index.year * 12 + index.month)
    return pd.factorize(ym)[0].astype(np.int64)


def make_problem(signals: DispatchSignals, battery: BatterySpec) -> Problem:
    """Normalise inputs. Prices: explicit series win; else the tariff; else zero."""
    load_mw = signals.load_mw
    if not isinstance(load_mw, pd.Series) or not isinstance(load_mw.index, pd.DatetimeIndex):
        raise TypeError("load_mw must be a pandas Series on a DatetimeIndex")
    index = load_mw.index
    tariff = signals.tariff
    price_yuan_per_mwh = signals.price_yuan_per_mwh
    if price_yuan_per_mwh is None and tariff is not None:
        price_yuan_per_mwh = price_series(index, tariff)
    export_price_yuan_per_mwh = signals.export_price_yuan_per_mwh
    if export_price_yuan_per_mwh is None and tariff is not None:
        export_price_yuan_per_mwh = tariff.export_price_yuan_per_mwh
    demand_charge_yuan_per_kw_month = signals.demand_charge_yuan_per_kw_month
    if demand_charge_yuan_per_kw_month is None:
        demand_charge_yuan_per_kw_month = (
            tariff.demand_charge_yuan_per_kw_month if tariff is not None else 0.0
        )
    pv = _as_array(signals.pv_mw, index, 0.0, "pv_mw")
    temperature_c = signals.temperature_c
    temps = None if temperature_c is None else _as_array(temperature_c, index, 0.0, "temperature_c")
    return Problem(
        index=index,
        step_h=infer_step_h(index, signals.step_h),
        load_mw=_as_array(load_mw, index, 0.0, "load_mw"),
        pv_mw=np.maximum(pv, 0.0),
        price_yuan_per_mwh=_as_array(price_yuan_per_mwh, index, 0.0, "price_yuan_per_mwh"),
        export_price_yuan_per_mwh=_as_array(
            export_price_yuan_per_mwh, index, 0.0, "export_price_yuan_per_mwh"
        ),
        grid_tco2_per_mwh=_as_array(signals.grid_tco2_per_mwh, index, 0.0, "grid_tco2_per_mwh"),
        charge_limit_mw=battery.charge_limit_mw(temps, len(index)),
        month_code=month_codes(index),
        battery=battery,
        carbon_price_yuan_per_tco2=float(signals.carbon_price_yuan_per_tco2),
        demand_charge_yuan_per_mw_month=float(demand_charge_yuan_per_kw_month) * KW_PER_MW,
        curtailment_penalty_yuan_per_mwh=float(signals.curtailment_penalty_yuan_per_mwh),
        weights=signals.weights or ObjectiveWeights(),
    )


def schedule_frame(index: pd.DatetimeIndex, **cols: np.ndarray) -> pd.DataFrame:
    """The schedule DataFrame with the standard columns in the standard order."""
    data = {c: np.asarray(cols[c], dtype=float) for c in SCHEDULE_COLUMNS}
    return pd.DataFrame(data, index=index)


def compute_kpis(schedule: pd.DataFrame, p: Problem) -> dict[str, float]:
    """KPIs of a schedule under problem ``p``.

    ``weighted_objective``: the weighted sum of all cost terms (equals the LP objective);
    ``cost_yuan``: money paid to the grid = energy cost (import x price - export x export price)
    + monthly demand charge on the peak import; ``co2_t``: grid import x grid factor (no credit for
    export); ``throughput_mwh``: charge + discharge energy at the AC side, and
    ``equivalent_full_cycles`` = throughput / (2 x energy_mwh); ``pv_absorbed_mwh``: charging
    that soaks up PV surplus over load (min(charge, max(pv - load - aux, 0))); ``peak_import_mw``;
    ``simultaneous_steps``: steps with both charge and discharge > 1e-6 MW;
    ``max_balance_error_mw``: the largest energy-balance residual (a check, ~0);
    ``final_soc_shortfall_mwh``: how far the last SOC falls short of the required final SOC.
    """
    dt = p.step_h
    c = schedule["charge_mw"].to_numpy()
    d = schedule["discharge_mw"].to_numpy()
    imp = schedule["grid_import_mw"].to_numpy()
    exp = schedule["grid_export_mw"].to_numpy()
    cur = schedule["pv_curtailed_mw"].to_numpy()
    w = p.weights
    energy_cost = float(dt * (p.price_yuan_per_mwh @ imp - p.export_price_yuan_per_mwh @ exp))
    monthly_peak = pd.Series(imp).groupby(p.month_code).max().to_numpy() if p.n else np.zeros(0)
    demand_cost = float(p.demand_charge_yuan_per_mw_month * monthly_peak.sum())
    co2_t = float(dt * (p.grid_tco2_per_mwh @ imp))
    co2_cost = co2_t * p.carbon_price_yuan_per_tco2
    throughput = float(dt * (c.sum() + d.sum()))
    degr_cost = p.battery.degradation_cost_yuan_per_mwh * throughput
    curt_mwh = float(dt * cur.sum())
    curt_cost = p.curtailment_penalty_yuan_per_mwh * curt_mwh
    surplus = np.maximum(p.pv_mw - p.net_load_mw, 0.0)
    balance = p.net_load_mw + c + exp + cur - p.pv_mw - d - imp
    return {
        "weighted_objective": w.energy_cost * energy_cost
        + w.demand_charge * demand_cost
        + w.co2 * co2_cost
        + w.degradation * degr_cost
        + w.curtailment * curt_cost,
        "cost_yuan": energy_cost + demand_cost,
        "energy_cost_yuan": energy_cost,
        "demand_charge_yuan": demand_cost,
        "co2_t": co2_t,
        "co2_cost_yuan": co2_cost,
        "degradation_cost_yuan": degr_cost,
        "curtailment_penalty_yuan": curt_cost,
        "charge_mwh": float(dt * c.sum()),
        "discharge_mwh": float(dt * d.sum()),
        "throughput_mwh": throughput,
        "equivalent_full_cycles": throughput / (2.0 * p.battery.energy_mwh)
        if p.battery.energy_mwh > 0
        else 0.0,
        "import_mwh": float(dt * imp.sum()),
        "export_mwh": float(dt * exp.sum()),
        "peak_import_mw": float(imp.max()) if p.n else 0.0,
        "pv_mwh": float(dt * p.pv_mw.sum()),
        "pv_curtailed_mwh": curt_mwh,
        "pv_absorbed_mwh": float(dt * np.minimum(c, surplus).sum()),
        "simultaneous_steps": int((np.minimum(c, d) > SIMULTANEOUS_TOL_MW).sum()),
        "max_balance_error_mw": float(np.abs(balance).max()) if p.n else 0.0,
        "final_soc_mwh": float(schedule["soc_mwh"].iloc[-1]) if p.n else 0.0,
        "final_soc_shortfall_mwh": max(
            max(p.battery.soc_final_mwh, p.battery.soc_min_mwh)
            - (float(schedule["soc_mwh"].iloc[-1]) if p.n else p.battery.soc_initial_mwh),
            0.0,
        ),
    }


def soc_path_mwh(soc0_mwh: float, gain_mwh: np.ndarray, retention: float) -> np.ndarray:
    """s_t = retention*s_{t-1} + gain_t from s_{-1} = soc0, vectorised (for short blocks)."""
    k = np.arange(1, len(gain_mwh) + 1)
    if retention == 1.0:
        return soc0_mwh + np.cumsum(gain_mwh)
    rk = retention**k
    return rk * (soc0_mwh + np.cumsum(gain_mwh / rk))
