"""The dispatch LP as sparse matrices in HiGHS (highspy), built once and updated in place.

Variables per step t (MW unless said): charge c_t, discharge d_t, state of charge s_t (MWh, end of
step), grid import i_t, grid export e_t, PV curtailment k_t; plus one peak-import variable per
calendar month when a demand charge is active.

Rows per step:
  balance   c_t - d_t - i_t + e_t + k_t = pv_t - load_t - aux
            (i.e. load + charge + export + curtail = pv + discharge + import)
  SOC       s_t - r s_{t-1} - eta_c dt c_t + dt/eta_d d_t = 0   (r s_init on the first row)
  peak      i_t - P_month(t) <= 0                               (only with a demand charge)
            (rolling windows: i_t - P0 <= 0 and i_t - P1 <= 0, one switched off by its bound)
Bounds: 0 <= c_t <= cold-limited charge power, 0 <= d_t <= discharge power, SOC window on s_t (in
the leading steps where charging is blocked, the floor yields to self-discharge from the start SOC),
the final SOC as a lower bound on the last s_t, grid limits on i_t/e_t, 0 <= k_t <= pv_t.

Simultaneous charge and discharge: c_t and d_t are separate non-negative variables with no binary.
Replacing a simultaneous pair by its net flow keeps the SOC and frees (1 - eta_c eta_d) min(c,d)
MWh/h on the bus. With eta < 1 and a positive import price or degradation cost this is never
optimal while the step imports; it can only be optimal (and then harmless to the energy balance but
physically wasteful) when the freed energy would have to be exported or curtailed at no gain, or
when a curtailment penalty pays for burning surplus in losses. Such steps are counted in the KPI
``simultaneous_steps``; ``optimize_dispatch(fix_simultaneous=True)`` nets them after solving.
"""

from __future__ import annotations

import os
import sys

import highspy
import numpy as np
import scipy.sparse as sp

from energy.storage.problem import Problem

INF = highspy.kHighsInf
_banner_shown = False


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance. The first one of a process prints a copyright banner straight to
    file descriptor 1 (before any option can be set); it goes to /dev/null here, not into the
    service's log or a command's output."""
    global _banner_shown
    if _banner_shown:
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _banner_shown = True
    return h


class DispatchLp:
    """A HiGHS model for ``n`` steps of one battery; bounds and costs updated by ``set_data``."""

    def __init__(
        self, n: int, step_h: float, problem: Problem, n_months: int = 0,
        rolling_peaks: bool = False,
    ) -> None:
        """``n_months`` peak variables tied to ``problem.month_code`` (one-shot demand charge), or
        with ``rolling_peaks`` two peak variables (this month, next month) whose per-step rows are
        switched on and off by row bounds, so a window can move across a month boundary."""
        b = problem.battery
        self.n = n
        self.rolling_peaks = rolling_peaks
        self.m = 2 if rolling_peaks else n_months
        self.step_h = step_h
        self.retention = b.retention_per_step(step_h)
        self.num_col = 6 * n + self.m
        self.num_row = 2 * n + (2 * n if rolling_peaks else n if n_months else 0)
        self.C, self.D, self.S, self.I, self.E, self.K = (j * n for j in range(6))
        self.P = 6 * n
        self.highs = new_highs()
        self.highs.setOptionValue("output_flag", False)
        # Measured on this LP (benchmarks/dispatch.py): dual simplex without presolve is faster.
        self.highs.setOptionValue("presolve", "off")
        self._month_code = problem.month_code if n_months else None
        a = self._matrix(b.eta_charge, b.eta_discharge)
        lp = highspy.HighsLp()
        lp.num_col_ = self.num_col
        lp.num_row_ = self.num_row
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        lo, hi, cost, rlo, rhi = self._data(problem)
        lp.col_lower_, lp.col_upper_, lp.col_cost_ = lo, hi, cost
        lp.row_lower_, lp.row_upper_ = rlo, rhi
        self.highs.passModel(lp)
        self._cols = np.arange(self.num_col, dtype=np.int32)
        self._rows = np.arange(self.num_row, dtype=np.int32)

    def _matrix(self, eta_c: float, eta_d: float) -> sp.csc_matrix:
        n, dt, r = self.n, self.step_h, self.retention
        t = np.arange(n)
        ones = np.ones(n)
        rows = [t, t, t, t, t]  # balance
        cols = [self.C + t, self.D + t, self.I + t, self.E + t, self.K + t]
        vals = [ones, -ones, -ones, ones, ones]
        rows += [n + t, n + t[1:], n + t, n + t]  # SOC
        cols += [self.S + t, self.S + t[:-1], self.C + t, self.D + t]
        vals += [ones, np.full(n - 1, -r), np.full(n, -eta_c * dt), np.full(n, dt / eta_d)]
        if self.rolling_peaks:
            rows += [2 * n + t, 2 * n + t, 3 * n + t, 3 * n + t]
            cols += [self.I + t, np.full(n, self.P), self.I + t, np.full(n, self.P + 1)]
            vals += [ones, -ones, ones, -ones]
        elif self._month_code is not None:  # self.m > 0
            rows += [2 * n + t, 2 * n + t]
            cols += [self.I + t, self.P + self._month_code]
            vals += [ones, -ones]
        coo = sp.coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.num_row, self.num_col),
        )
        return coo.tocsc()

    def _data(
        self,
        p: Problem,
        soc0_mwh: float | None = None,
        final_pos: int | None = None,
        valid: int | None = None,
        peak_group: np.ndarray | None = None,
        peak_floor_mw: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Bounds and costs; steps at/after ``valid`` are padding (all flows zero)."""
        n, dt, b = self.n, self.step_h, p.battery
        valid = n if valid is None else valid
        final_pos = n - 1 if final_pos is None else final_pos
        soc0 = b.soc_initial_mwh if soc0_mwh is None else soc0_mwh
        lo = np.zeros(self.num_col)
        hi = np.empty(self.num_col)
        cost = np.zeros(self.num_col)
        w = p.weights
        on = np.arange(n) < valid
        hi[self.C : self.C + n] = np.where(on, p.charge_limit_mw, 0.0)
        hi[self.D : self.D + n] = np.where(on, b.power_discharge_mw, 0.0)
        lo[self.S : self.S + n] = np.where(on, b.soc_min_mwh, 0.0)
        # While charging is blocked from the first step on (cold), the floor yields to pure
        # self-discharge from the starting SOC; otherwise a plan that starts at the floor before a
        # cold night would be infeasible. Elsewhere the floor is soc_min (time-consistent).
        blocked = p.charge_limit_mw <= 0.0
        lead = n if blocked.all() else int(np.argmin(blocked))
        if lead:
            decay = soc0 * self.retention ** np.arange(1, lead + 1)
            lo[self.S : self.S + lead] = np.minimum(lo[self.S : self.S + lead], decay)
        hi[self.S : self.S + n] = b.soc_max_mwh
        if 0 <= final_pos < n:
            lo[self.S + final_pos] = max(b.soc_min_mwh, b.soc_final_mwh)
        hi[self.I : self.I + n] = np.where(on, p.import_limit_mw, 0.0)
        hi[self.E : self.E + n] = np.where(on, p.export_limit_mw, 0.0)
        hi[self.K : self.K + n] = np.where(on, p.pv_mw, 0.0)
        hi[self.P :] = INF
        hi[hi == np.inf] = INF
        degr = w.degradation * b.degradation_cost_yuan_per_mwh * dt
        cost[self.C : self.C + n] = degr
        cost[self.D : self.D + n] = degr
        cost[self.I : self.I + n] = dt * p.import_cost_yuan_per_mwh()
        cost[self.E : self.E + n] = -dt * w.energy_cost * p.export_price_yuan_per_mwh
        cost[self.K : self.K + n] = dt * w.curtailment * p.curtailment_penalty_yuan_per_mwh
        cost[self.P :] = w.demand_charge * p.demand_charge_yuan_per_mw_month
        rhs = np.zeros(self.num_row)
        rhs[:n] = np.where(on, p.pv_mw - p.net_load_mw, 0.0)
        rhs[n] = self.retention * soc0
        rlo = rhs.copy()
        rhi = rhs.copy()
        if self.rolling_peaks:
            # Step t's import is tied to peak P0 (month of the window start) or P1 (next month).
            group = np.zeros(n, dtype=int) if peak_group is None else peak_group
            rlo[2 * n :] = -INF
            rhi[2 * n : 3 * n] = np.where(on & (group == 0), 0.0, INF)
            rhi[3 * n :] = np.where(on & (group == 1), 0.0, INF)
            lo[self.P] = peak_floor_mw  # the month's peak so far is already billed
        elif self.m:
            rlo[2 * n :] = -INF
            rhi[2 * n :] = 0.0
        return lo, hi, cost, rlo, rhi

    def set_data(
        self,
        p: Problem,
        soc0_mwh: float,
        final_pos: int | None,
        valid: int,
        peak_group: np.ndarray | None = None,
        peak_floor_mw: float = 0.0,
    ) -> None:
        """Update bounds and costs in place for a new window (same n, step and battery)."""
        lo, hi, cost, rlo, rhi = self._data(
            p, soc0_mwh, final_pos, valid, peak_group, peak_floor_mw
        )
        h = self.highs
        h.changeColsBounds(self.num_col, self._cols, lo, hi)
        h.changeColsCost(self.num_col, self._cols, cost)
        h.changeRowsBounds(self.num_row, self._rows, rlo, rhi)  # type: ignore[attr-defined]

    def solve(self) -> tuple[highspy.HighsModelStatus, float, np.ndarray]:
        """Run HiGHS; returns (status, objective, column values)."""
        self.highs.run()
        status = self.highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            return status, np.nan, np.zeros(self.num_col)
        x = np.asarray(self.highs.getSolution().col_value)
        return status, float(self.highs.getInfo().objective_function_value), x

    def basis_status(self) -> tuple[np.ndarray, np.ndarray]:
        """Current basis as (column status, row status) object arrays of HighsBasisStatus."""
        basis = self.highs.getBasis()
        return np.array(basis.col_status, dtype=object), np.array(basis.row_status, dtype=object)

    def set_basis(self, col_status: np.ndarray, row_status: np.ndarray) -> bool:
        """Start the next solve from this basis; False if HiGHS rejects it."""
        basis = highspy.HighsBasis()
        basis.col_status = list(col_status)
        basis.row_status = list(row_status)
        basis.valid = True
        return self.highs.setBasis(basis) == highspy.HighsStatus.kOk

    def split(self, x: np.ndarray, steps: int | None = None) -> dict[str, np.ndarray]:
        """Column values as named schedule arrays (first ``steps`` steps)."""
        n = self.n
        k = n if steps is None else steps
        return {
            "charge_mw": x[self.C : self.C + k],
            "discharge_mw": x[self.D : self.D + k],
            "soc_mwh": x[self.S : self.S + k],
            "grid_import_mw": x[self.I : self.I + k],
            "grid_export_mw": x[self.E : self.E + k],
            "pv_curtailed_mw": x[self.K : self.K + k],
        }
