"""Sweep benchmark: 100 one-year hourly cases, serial vs the process pool, in one run.

The cases: the plan example (simulations/examples/plan_as_written.yaml) cut to one year (2029,
when the storage station is in service), rooftop PV scale 0–1.8 × 140 MWp (10 values) × storage
(none, 31.5/126, 63/252, 94.5/378, 126/504 MW/MWh) × dispatch strategy (optimal LP, rule) = 100.
Each case: synthetic load, pvlib PV on the typical Lhasa year, dispatch, direct line, ledger,
targets, costs (no plots, no series kept).

Serial (one process, case after case) and pool (``--workers`` processes) each run in a fresh
process (benchmarks/harness.py) after its imports and the case list are built, with no warm-up on
either side: each starts as cold as the other, and the pool's time includes starting its workers.
Runs are paired and alternate the order.

    python benchmarks/sweep.py [--workers N] [--cases 100] [--runs 5] [--write]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import TABLE_HEADER, machine_line, paired  # noqa: E402
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


def sweep_side(cases: int, workers: int) -> Callable[[], dict]:
    """Set-up: the case list; the timed call runs every case on ``workers`` processes."""
    specs = make_cases(cases)

    def call() -> dict:
        table = run_cases(specs, workers=workers)
        return {"table": table[COMPARED].to_dict("list"),
                "failed": int((table["status"] != "done").sum()),
                "front": [int(c) for c in table.loc[table["pareto"], "case"]]}

    return call


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = ap.parse_args()
    label = f"{args.cases} one-year hourly cases, pool of {args.workers} vs serial"
    print(label, flush=True)
    r = paired("benchmarks.sweep:sweep_side", "benchmarks.sweep:sweep_side", runs=args.runs,
               ours_kwargs={"cases": args.cases, "workers": args.workers},
               ref_kwargs={"cases": args.cases, "workers": 1}, warmup=False)
    pool, serial = r.results["ours"], r.results["ref"]
    same = all(p["table"] == serial[0]["table"] for p in pool + serial)
    failed = max(x["failed"] for x in pool + serial)
    lines = [
        "# Sweep benchmark: process pool vs serial",
        "",
        f"Command: `python benchmarks/sweep.py --workers {args.workers} --cases {args.cases} "
        f"--runs {args.runs} --write`",
        "",
        machine_line(),
        "",
        f"Cases: {args.cases} one-year hourly (8,760 steps) runs of the plan example in 2029: "
        "PV scale 0–1.8 × 140 MWp × storage none / 126 / 252 / 378 / 504 MWh × optimal LP / "
        "rule dispatch. Each case: load, pvlib PV on the typical year, dispatch, ledger, "
        "targets, cost. 'Ours' is the pool, the reference the serial run; both in fresh "
        "processes, both cold (no warm-up), the pool's time includes starting its workers.",
        "",
        TABLE_HEADER,
        r.row(label),
        "",
        f"Pool and serial tables identical in every run: {same}; failed cases: {failed}; "
        f"Pareto front: cases {', '.join(str(c) for c in pool[0]['front'])}. "
        f"Goal: 100 cases < 2 min: {'met' if r.ours.median < 120 else 'NOT met'}.",
        "RSS growth is the coordinating process's; the pool's workers are separate processes.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
