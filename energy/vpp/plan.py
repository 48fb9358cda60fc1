"""Least-cost plan of a demand-response event: a HiGHS LP over 15-minute steps.

Horizon: ``precharge_hours`` before the event (the station may charge beyond its day-ahead plan,
but not before the notice), the event, and ``rebound_hours`` after it (shifted load returns).

Variables (kW, per step): x[r,t] >= 0 reduction of each available curtailable/shiftable load (or
curtailed PV for an ``increase`` event) in event steps, below min(max_reduction_kw, available_kw);
y[r,t] >= 0 rebound of each shiftable load after the event; c[s,t], d[s,t] >= 0 charge and
discharge of each station with SOC e[s,t]; f[t] >= 0 shortfall in event steps.

Rows:
  delivery   (event step t)  sum_r x[r,t] + sign * sum_s (d - c)[s,t] + f[t]
                             = req[t] + sign * sum_s da[s,t]
             sign = +1 to reduce, -1 to increase; da = day-ahead power (+ discharge); req = the
             target less what the forecast already delivers against the baseline, at least 0.
  rebound    sum_t y[r,t] = rebound_fraction * sum_t x[r,t]           (each shiftable load)
  duration   sum_t x[r,t] <= max_reduction_kw * duration steps        (when shorter than the event)
  SOC        e[s,t] - e[s,t-1] - eta_c dt c[s,t] + dt/eta_d d[s,t] = 0 (e[s,-1] = start SOC)
             e[s,T-1] >= the day-ahead plan's end SOC (the rest of its day stays feasible)
  connection -export_limit <= expected - sum_s ((d-c) - da) - sum x_load + sum y + sum x_pv
             <= import_limit                                          (when a limit is given)
Cost (yuan): resource cost + energy at the tariff (load not bought, rebound and curtailed PV
bought, station charge/discharge) + station wear per kWh through it + a high penalty per kWh of
shortfall (data/dr_practice.yaml). The reported plan cost is the change against the day-ahead plan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

from energy.storage.lp_model import new_highs
from energy.vpp.baseline import practice
from energy.vpp.resources import EventSignal, FlexResource, StorageResource

INF = highspy.kHighsInf
STEP = pd.Timedelta(minutes=15)
STATUS_MET = "target met"
STATUS_SHORT = "shortfall"
TOL_KW = 1e-6


class PlanError(ValueError):
    """The plan's inputs are inconsistent (the message names the field)."""


@dataclass(frozen=True)
class PlanSettings:
    """Step, penalty and windows of the plan (defaults from data/dr_practice.yaml)."""

    step: pd.Timedelta = STEP
    shortfall_penalty_yuan_per_kwh: float = 1000.0
    rebound_hours: float = 2.0
    precharge_hours: float = 2.0

    @classmethod
    def from_practice(cls) -> PlanSettings:
        raw = practice()["plan"]
        return cls(shortfall_penalty_yuan_per_kwh=float(raw["shortfall_penalty_yuan_per_kwh"]),
                   rebound_hours=float(raw["rebound_hours"]),
                   precharge_hours=float(raw["precharge_hours"]))

    @property
    def step_h(self) -> float:
        return self.step / pd.Timedelta(hours=1)


@dataclass
class PlanInputs:
    """Everything the plan needs. Per-step arrays cover :func:`plan_index` (the horizon) except
    a resource's ``available_kw``, which covers the event steps only.

    ``baseline_kw``: the park's baseline at the grid connection (only event steps are used).
    ``expected_kw``: forecast import at the connection without the event (with the stations'
    day-ahead plans); None = the baseline (the forecast delivers nothing by itself).
    """

    event: EventSignal
    baseline_kw: np.ndarray
    tariff_yuan_per_kwh: np.ndarray
    resources: Sequence[FlexResource] = ()
    storage: Sequence[StorageResource] = ()
    expected_kw: np.ndarray | None = None
    import_limit_kw: float | None = None
    export_limit_kw: float | None = None
    settings: PlanSettings = field(default_factory=PlanSettings)


@dataclass
class PlanResult:
    """The plan: instructions per resource and step, delivery against the requirement, cost."""

    index: pd.DatetimeIndex
    event_index: pd.DatetimeIndex
    status: str
    required_kw: pd.Series
    delivered_kw: pd.Series
    shortfall_kw: pd.Series
    shortfall_kwh: float
    cost_yuan: float
    objective_yuan: float
    instructions_kw: pd.DataFrame  # reduction (loads, PV) or new setpoint (storage), horizon
    rebound_kw: pd.DataFrame  # shiftable loads returning after the event
    storage_soc_kwh: pd.DataFrame
    summary: pd.DataFrame  # one row per resource
    unavailable: dict[str, str]

    def by_enterprise(self) -> pd.DataFrame:
        """Planned event energy, peak and cost per enterprise."""
        s = self.summary
        if s.empty:
            return pd.DataFrame(columns=["energy_kwh", "cost_yuan"])
        return s.groupby("enterprise")[["energy_kwh", "cost_yuan"]].sum()


def plan_index(event: EventSignal, settings: PlanSettings) -> pd.DatetimeIndex:
    """Steps of the plan horizon: pre-charge window, event, rebound window."""
    start = pd.Timestamp(event.start) - pd.Timedelta(hours=settings.precharge_hours)
    end = pd.Timestamp(event.end) + pd.Timedelta(hours=settings.rebound_hours)
    return pd.date_range(start, end, freq=settings.step, inclusive="left")


def _vector(x: np.ndarray | None, n: int, name: str, default: float | None = None) -> np.ndarray:
    if x is None:
        if default is None:
            raise PlanError(f"{name}: required")
        return np.full(n, default)
    arr = np.asarray(x, dtype=float)
    if arr.shape != (n,):
        raise PlanError(f"{name}: expected {n} values, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise PlanError(f"{name}: contains missing or non-finite values")
    return arr


class _Cols:
    """Column allocator: named blocks of consecutive columns."""

    def __init__(self) -> None:
        self.n = 0
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []

    def add(self, lo: np.ndarray, hi: np.ndarray, cost: np.ndarray) -> np.ndarray:
        k = len(lo)
        idx = np.arange(self.n, self.n + k)
        self.n += k
        self.lo.append(lo)
        self.hi.append(hi)
        self.cost.append(cost)
        return idx


class _Rows:
    """Row builder: COO triplets and row bounds."""

    def __init__(self) -> None:
        self.n = 0
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []

    def new(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        k = len(lo)
        idx = np.arange(self.n, self.n + k)
        self.n += k
        self.lo.append(np.array(lo, dtype=float))
        self.hi.append(np.array(hi, dtype=float))
        return idx

    def coef(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray | float) -> None:
        rows = np.asarray(rows)
        self.r.append(rows)
        self.c.append(np.asarray(cols))
        self.v.append(np.broadcast_to(np.asarray(vals, dtype=float), rows.shape).copy())


def plan_event(inputs: PlanInputs) -> PlanResult:
    """Solve the least-cost plan of ``inputs`` (see the module docstring for the model)."""
    ev, st = inputs.event, inputs.settings
    dt = st.step_h
    index = plan_index(ev, st)
    h = len(index)
    in_event = (index >= pd.Timestamp(ev.start)) & (index < pd.Timestamp(ev.end))
    ev_pos = np.flatnonzero(in_event)
    after_pos = np.flatnonzero(index >= pd.Timestamp(ev.end))
    e = len(ev_pos)
    if e == 0:
        raise PlanError("the event is shorter than one plan step")
    if st.rebound_hours > 0 and len(after_pos) == 0:
        raise PlanError("rebound_hours is shorter than one plan step")
    sign = 1.0 if ev.direction == "reduce" else -1.0
    tariff = _vector(inputs.tariff_yuan_per_kwh, h, "tariff_yuan_per_kwh")
    baseline = _vector(inputs.baseline_kw, h, "baseline_kw")
    expected = _vector(inputs.expected_kw, h, "expected_kw", default=math.nan) \
        if inputs.expected_kw is not None else baseline.copy()
    # What the event asks beyond what the forecast already gives against the baseline.
    req = ev.target_kw - sign * (baseline[ev_pos] - expected[ev_pos])
    req = np.maximum(req, 0.0)
    codes = [r.code for r in inputs.resources] + [s.code for s in inputs.storage]
    if len(set(codes)) != len(codes):
        raise PlanError("resources: codes must be unique")

    cols, rows = _Cols(), _Rows()
    delivery = rows.new(req, req)  # equality; storage day-ahead terms added to the bounds below
    del_lo, del_hi = rows.lo[-1], rows.hi[-1]
    net_coef: list[tuple[np.ndarray, np.ndarray, float]] = []  # (cols, horizon pos, coef)
    unavailable: dict[str, str] = {}
    flex_cols: dict[str, np.ndarray] = {}
    reb_cols: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for r in inputs.resources:
        kinds[r.code] = r.kind
        why = r.unavailable_reason(ev)
        if why:
            unavailable[r.code] = why
            continue
        cap = np.full(e, r.max_reduction_kw)
        if r.available_kw is not None:
            cap = np.minimum(cap, np.maximum(_vector(r.available_kw, e,
                                                     f"{r.code}.available_kw"), 0.0))
        # Load not bought saves the tariff; curtailed PV has to be bought instead.
        energy_sign = -1.0 if r.kind != "pv_curtailment" else 1.0
        cost = (r.cost_yuan_per_kwh + energy_sign * tariff[ev_pos]) * dt
        x = cols.add(np.zeros(e), cap, cost)
        flex_cols[r.code] = x
        rows.coef(delivery, x, 1.0)
        net_coef.append((x, ev_pos, energy_sign))
        if r.max_duration_minutes is not None:
            steps = r.max_duration_minutes / (st.step / pd.Timedelta(minutes=1))
            if steps < e:
                dur = rows.new(np.array([-INF]), np.array([r.max_reduction_kw * steps]))
                rows.coef(np.repeat(dur, e), x, 1.0)
        if r.kind == "shiftable" and r.rebound_fraction > 0:
            y = cols.add(np.zeros(len(after_pos)), np.full(len(after_pos), r.max_reduction_kw),
                         tariff[after_pos] * dt)
            reb_cols[r.code] = y
            rb = rows.new(np.zeros(1), np.zeros(1))
            rows.coef(np.repeat(rb, len(y)), y, 1.0)
            rows.coef(np.repeat(rb, e), x, -r.rebound_fraction)
            net_coef.append((y, after_pos, 1.0))

    notice_ok = index >= pd.Timestamp(ev.notified_at).floor(st.step)
    const_cost = 0.0
    store_cols: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    da_total = np.zeros(h)
    for s in inputs.storage:
        kinds[s.code] = "storage"
        da = _vector(s.day_ahead_kw, h, f"{s.code}.day_ahead_kw")
        if (da > s.power_discharge_kw + TOL_KW).any() or (-da > s.power_charge_kw + TOL_KW).any():
            raise PlanError(f"{s.code}.day_ahead_kw: beyond the station's power limits")
        soc_da = s.soc_path_kwh(da, dt)
        if (soc_da < s.soc_min_kwh - 1e-3).any() or (soc_da > s.soc_max_kwh + 1e-3).any():
            raise PlanError(f"{s.code}.day_ahead_kw: leaves the SOC window")
        c_da, d_da = np.maximum(-da, 0.0), np.maximum(da, 0.0)
        may_act = notice_ok.copy()
        if ev.notice_minutes < s.min_notice_minutes:
            unavailable[s.code] = (f"notice of {ev.notice_minutes:g} min is shorter than the "
                                   f"{s.min_notice_minutes:g} min it needs")
            may_act[:] = False
        c = cols.add(np.where(may_act, 0.0, c_da), np.where(may_act, s.power_charge_kw, c_da),
                     (tariff + s.wear_cost_yuan_per_kwh) * dt)
        d = cols.add(np.where(may_act, 0.0, d_da), np.where(may_act, s.power_discharge_kw, d_da),
                     (-tariff + s.wear_cost_yuan_per_kwh) * dt)
        soc_lo = np.full(h, s.soc_min_kwh)
        soc_lo[-1] = min(max(soc_da[-1], s.soc_min_kwh), s.soc_max_kwh)
        soc = cols.add(soc_lo, np.full(h, s.soc_max_kwh), np.zeros(h))
        store_cols[s.code] = (c, d, soc)
        const_cost += float((((tariff + s.wear_cost_yuan_per_kwh) * c_da
                              + (-tariff + s.wear_cost_yuan_per_kwh) * d_da) * dt).sum())
        rhs = np.zeros(h)
        rhs[0] = s.soc_start_kwh
        bal = rows.new(rhs, rhs)
        rows.coef(bal, soc, 1.0)
        rows.coef(bal[1:], soc[:-1], -1.0)
        rows.coef(bal, c, -s.eta_charge * dt)
        rows.coef(bal, d, dt / s.eta_discharge)
        rows.coef(delivery, d[ev_pos], sign)
        rows.coef(delivery, c[ev_pos], -sign)
        da_total += da
        net_coef.append((d, np.arange(h), -1.0))
        net_coef.append((c, np.arange(h), 1.0))
    del_lo += sign * da_total[ev_pos]
    del_hi += sign * da_total[ev_pos]
    f = cols.add(np.zeros(e), np.full(e, INF), np.full(e, st.shortfall_penalty_yuan_per_kwh * dt))
    rows.coef(delivery, f, 1.0)

    imp = INF if inputs.import_limit_kw is None else float(inputs.import_limit_kw)
    exp_ = INF if inputs.export_limit_kw is None else float(inputs.export_limit_kw)
    if imp < INF or exp_ < INF:
        if inputs.expected_kw is None:
            raise PlanError("expected_kw: required with a connection limit")
        base_net = expected + da_total  # import without any station flow, then add its terms
        lo = np.where(exp_ < INF, -exp_ - base_net, -INF)
        hi = np.where(imp < INF, imp - base_net, INF)
        conn = rows.new(lo, hi)
        for cc, pos, coef in net_coef:
            rows.coef(conn[pos], cc, coef)
    return _solve(inputs, index, ev_pos, after_pos, req, cols, rows, flex_cols, reb_cols,
                  store_cols, f, kinds, unavailable, const_cost, da_total, sign)


def _solve(
    inputs: PlanInputs,
    index: pd.DatetimeIndex,
    ev_pos: np.ndarray,
    after_pos: np.ndarray,
    req: np.ndarray,
    cols: _Cols,
    rows: _Rows,
    flex_cols: dict[str, np.ndarray],
    reb_cols: dict[str, np.ndarray],
    store_cols: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    f: np.ndarray,
    kinds: dict[str, str],
    unavailable: dict[str, str],
    const_cost: float,
    da_total: np.ndarray,
    sign: float,
) -> PlanResult:
    st = inputs.settings
    dt = st.step_h
    a = sp.coo_matrix(
        (np.concatenate(rows.v), (np.concatenate(rows.r), np.concatenate(rows.c))),
        shape=(rows.n, cols.n),
    ).tocsc()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = cols.n, rows.n
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    lp.col_lower_ = np.concatenate(cols.lo)
    hi = np.concatenate(cols.hi)
    hi[~np.isfinite(hi)] = INF
    lp.col_upper_ = hi
    lp.col_cost_ = np.concatenate(cols.cost)
    rlo, rhi = np.concatenate(rows.lo), np.concatenate(rows.hi)
    rlo[rlo == -np.inf] = -INF
    rhi[rhi == np.inf] = INF
    lp.row_lower_, lp.row_upper_ = rlo, rhi
    solver = new_highs()
    solver.setOptionValue("output_flag", False)
    solver.passModel(lp)
    solver.run()
    status = solver.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise PlanError(f"the plan has no solution ({solver.modelStatusToString(status)}): "
                        "check the connection limits against the expected import")
    x = np.asarray(solver.getSolution().col_value)
    objective = float(solver.getInfo().objective_function_value)

    h = len(index)
    event_index = index[ev_pos]
    instr: dict[str, np.ndarray] = {}
    rebound: dict[str, np.ndarray] = {}
    socs: dict[str, np.ndarray] = {}
    summary = []
    tariff = np.asarray(inputs.tariff_yuan_per_kwh, dtype=float)
    ent = {r.code: r.enterprise for r in inputs.resources}
    ent.update({s.code: s.enterprise for s in inputs.storage})
    res_by_code = {r.code: r for r in inputs.resources}
    for code, xc in flex_cols.items():
        v = np.zeros(h)
        v[ev_pos] = np.maximum(x[xc], 0.0)
        instr[code] = v
        r = res_by_code[code]
        energy_sign = -1.0 if r.kind != "pv_curtailment" else 1.0
        cost = float(((r.cost_yuan_per_kwh + energy_sign * tariff[ev_pos]) * x[xc]).sum() * dt)
        reb_kwh = 0.0
        if code in reb_cols:
            rv = np.zeros(h)
            rv[after_pos] = np.maximum(x[reb_cols[code]], 0.0)
            rebound[code] = rv
            reb_kwh = float(rv.sum() * dt)
            cost += float((tariff * rv).sum() * dt)
        summary.append(_summary_row(code, ent[code], r.kind, v[ev_pos], dt, cost, reb_kwh,
                                    event_index))
    for s in inputs.storage:
        c, d, soc = store_cols[s.code]
        setpoint = x[d] - x[c]
        instr[s.code] = setpoint
        socs[s.code] = x[soc]
        da = np.asarray(s.day_ahead_kw, dtype=float)
        dev = sign * (setpoint - da)
        c_da, d_da = np.maximum(-da, 0.0), np.maximum(da, 0.0)
        w = s.wear_cost_yuan_per_kwh
        cost = float((((tariff + w) * (x[c] - c_da) + (-tariff + w) * (x[d] - d_da)) * dt).sum())
        summary.append(_summary_row(s.code, s.enterprise, "storage", dev[ev_pos], dt, cost, 0.0,
                                    event_index))
    short = np.maximum(x[f], 0.0)
    delivered = req - short
    shortfall_kwh = float(short.sum() * dt)
    cost_yuan = objective - const_cost - st.shortfall_penalty_yuan_per_kwh * shortfall_kwh
    return PlanResult(
        index=index,
        event_index=event_index,
        status=STATUS_SHORT if shortfall_kwh > TOL_KW * dt * len(ev_pos) else STATUS_MET,
        required_kw=pd.Series(req, index=event_index, name="required_kw"),
        delivered_kw=pd.Series(delivered, index=event_index, name="delivered_kw"),
        shortfall_kw=pd.Series(short, index=event_index, name="shortfall_kw"),
        shortfall_kwh=shortfall_kwh,
        cost_yuan=cost_yuan,
        objective_yuan=objective,
        instructions_kw=pd.DataFrame(instr, index=index),
        rebound_kw=pd.DataFrame(rebound, index=index),
        storage_soc_kwh=pd.DataFrame(socs, index=index),
        summary=pd.DataFrame(summary, columns=_SUMMARY_COLUMNS),
        unavailable=unavailable,
    )


_SUMMARY_COLUMNS = ["code", "enterprise", "kind", "energy_kwh", "max_kw", "rebound_kwh",
                    "cost_yuan", "first_step", "last_step"]


def _summary_row(code: str, enterprise: str, kind: str, event_kw: np.ndarray, dt: float,
                 cost: float, rebound_kwh: float, event_index: pd.DatetimeIndex) -> list[Any]:
    active = np.flatnonzero(np.abs(event_kw) > TOL_KW)
    return [code, enterprise, kind, float(event_kw.sum() * dt),
            float(event_kw.max()) if len(event_kw) else 0.0, rebound_kwh, cost,
            event_index[active[0]] if len(active) else None,
            event_index[active[-1]] if len(active) else None]
