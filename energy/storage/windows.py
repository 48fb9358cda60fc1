"""Windows over a long dispatch problem: padded slices, and a warm-start basis from chunks.

A one-shot year at 15-min steps is solved fastest by first solving month-long chunks in sequence
(one model, updated in place), stitching their optimal bases into a basis of the full LP and
starting HiGHS from it. The stitched basis is nonsingular (the full basis matrix is block lower
triangular with the chunks' bases on the diagonal) and primal feasible (the chunks' solutions
chain their SOC), so the full solve needs only a few hundred simplex iterations to reach the exact
optimum. Reference: benchmarks/RESULTS_dispatch.md.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

import highspy
import numpy as np
import pandas as pd

from energy.storage.lp_model import DispatchLp
from energy.storage.problem import Problem

WINDOW_ARRAYS = (
    "load_mw",
    "pv_mw",
    "price_yuan_per_mwh",
    "export_price_yuan_per_mwh",
    "grid_tco2_per_mwh",
    "charge_limit_mw",
)
CHUNK_DAYS = 30.0


class Windows:
    """Padded per-step arrays of ``p`` so any window [start, start + w) can be sliced."""

    def __init__(self, p: Problem, w: int, overrides: dict[str, np.ndarray] | None = None) -> None:
        self.p = p
        self.w = w
        src = {k: getattr(p, k) for k in WINDOW_ARRAYS} | (overrides or {})
        self.padded = {k: np.concatenate([v, np.zeros(w)]) for k, v in src.items()}
        idx = pd.date_range(p.index[0], periods=w, freq=pd.Timedelta(hours=p.step_h))
        head: dict[str, Any] = {k: v[:w] for k, v in self.padded.items()}
        self.first = replace(p, index=idx, month_code=np.zeros(w, dtype=np.int64), **head)

    def at(self, start: int) -> Problem:
        window: dict[str, Any] = {k: v[start : start + self.w] for k, v in self.padded.items()}
        return replace(self.first, **window)


def chunked_basis(p: Problem, model_full: DispatchLp) -> bool:
    """Solve month-long chunks in sequence and give ``model_full`` their stitched basis.

    Chunks are 30-day blocks, or calendar months when a demand charge is active (each chunk then
    carries its month's peak variable and rows). Returns False (and leaves the full model
    untouched) when the horizon is shorter than three chunks or a chunk is infeasible.
    """
    n = p.n
    if p.has_demand_charge:
        starts = np.flatnonzero(np.diff(p.month_code, prepend=-1) != 0)
    else:
        starts = np.arange(0, n, round(CHUNK_DAYS * 24 / p.step_h))
    if len(starts) < 3:
        return False
    bounds = np.append(starts, n)
    chunk = int(np.diff(bounds).max())
    win = Windows(p, chunk)
    lp = DispatchLp(chunk, p.step_h, win.first, 1 if p.has_demand_charge else 0)
    col = np.empty(model_full.num_col, dtype=object)
    row = np.empty(model_full.num_row, dtype=object)
    soc0 = p.battery.soc_initial_mwh
    for k, (t0, t1) in enumerate(pairwise(bounds.tolist())):
        m = int(t1 - t0)
        lp.set_data(win.at(int(t0)), soc0, m - 1, m)
        status, _, x = lp.solve()
        if status != highspy.HighsModelStatus.kOptimal:
            return False
        soc0 = float(x[lp.S + m - 1])
        cs, rs = lp.basis_status()
        for j in range(6):  # column blocks C, D, S, I, E, K
            col[j * n + t0 : j * n + t1] = cs[j * chunk : j * chunk + m]
        for j in range(lp.num_row // chunk):  # balance, SOC (and peak) rows
            row[j * n + t0 : j * n + t1] = rs[j * chunk : j * chunk + m]
        if p.has_demand_charge:
            col[6 * n + k] = cs[6 * chunk]  # this month's peak variable
    return model_full.set_basis(col, row)
