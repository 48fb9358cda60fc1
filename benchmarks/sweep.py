"""Sweep benchmark: 100 one-year hourly cases, serial vs the process pool, in one run.

The cases: the plan example (simulations/examples/plan_as_written.yaml) cut to one year (2029,
when the storage station is in service), rooftop PV scale 0–1.8 × 140 MWp (10 values) × storage
(none, 31.5/126, 63/252, 94.5/378, 126/504 MW/MWh) × dispatch strategy (optimal LP, rule) = 100.
Each case: synthetic load, pvlib PV on the typical Lhasa year, dispatch, direct line, ledger,
targets, costs (no plots, no series kept). Serial = the same cases in this process, one by one.

    /work/venv/bin/python benchmarks/sweep.py [--workers N] [--cases 100] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulations import parse_sweep  # noqa: E402
from simulations.sweep import run_cases  # noqa: E402

EXAMPLE = ROOT / "simulations" / "examples" / "plan_as_written.yaml"
RESULTS = Path(__file__).with_name("RESULTS_sweep.md")
COMPARED = ["case", "total_cost_yuan", "total_co2_t", "status"]


def make_cases(n: int) -> list[dict]:
    spec = parse_sweep({
        "name": "bench",
        "scenario": EXAMPLE.name,
        "set": {"start_year": 2029, "end_year": 2029},
        "grid": {
            "pv_scale": [round(float(x), 2) for x in np.linspace(0.0, 1.8, 10)],
            "storage.0.power_mw,storage.0.energy_mwh": [
                [0, 0], [31.5, 126], [63, 252], [94.5, 378], [126, 504]],
            "dispatch.strategy": ["optimal", "rule"],
        },
    }, base_dir=EXAMPLE.parent)
    return spec.cases()[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = ap.parse_args()
    cases = make_cases(args.cases)

    t0 = time.perf_counter()
    serial = run_cases(cases, workers=1)
    t_serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    pooled = run_cases(cases, workers=args.workers)
    t_pool = time.perf_counter() - t0

    same = serial[COMPARED].equals(pooled[COMPARED])
    failed = int((serial["status"] != "done").sum())
    per_case = serial["seconds"]
    front = pooled[pooled["pareto"]].sort_values("total_cost_yuan")
    lines = [
        "# Sweep benchmark: serial vs process pool (one run)",
        "",
        "Command (worktree root, shared venv):",
        "",
        f"    /work/venv/bin/python benchmarks/sweep.py --workers {args.workers} "
        f"--cases {args.cases} --write",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, pandas {pd.__version__}; other jobs shared "
        f"the cores (load average at the start: {os.getloadavg()[0]:.2f}).",
        "",
        f"Cases: {len(cases)} one-year hourly (8,760 steps) runs of the plan example in 2029: "
        "PV scale 0–1.8 × 140 MWp (10) × storage none / 126 / 252 / 378 / 504 MWh (5) × "
        "optimal LP / rule dispatch (2). Each case: load, pvlib PV on the typical year, "
        "dispatch, ledger, targets, cost.",
        "",
        "| run | wall time s | per case s | speed-up |",
        "| --- | --- | --- | --- |",
        f"| serial (this process) | {t_serial:.1f} | {t_serial / len(cases):.3f} | 1.00x |",
        f"| process pool, {args.workers} workers | {t_pool:.1f} | {t_pool / len(cases):.3f} | "
        f"{t_serial / t_pool:.2f}x |",
        "",
        f"Per-case time (serial): median {per_case.median():.3f} s, max {per_case.max():.3f} s; "
        f"optimal-LP cases median "
        f"{serial.loc[serial['dispatch.strategy'] == 'optimal', 'seconds'].median():.3f} s, "
        f"rule cases {serial.loc[serial['dispatch.strategy'] == 'rule', 'seconds'].median():.3f}"
        " s.",
        f"Goal: 100 cases < 2 min: {'met' if t_pool < 120 else 'NOT met'} "
        f"({t_pool:.1f} s on the pool). Pool and serial tables identical: {same}; "
        f"failed cases: {failed}. Pareto front: {len(front)} cases "
        f"(cases {', '.join(str(c) for c in front['case'])}).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
