"""Paired, fresh-process timing of two sides of a comparison (ours vs a reference).

Every timed run happens in a new Python process (``spawn``): the process imports the side's
module and builds its inputs (``setup``), optionally warms it up with one untimed call, then
resets its peak-RSS counter (Linux ``/proc/self/clear_refs``) and times one call. Imports, process
start and set-up are outside the timing; both sides are treated alike. Runs are paired and the
order alternates (ours first on even runs, the reference first on odd ones), so a change of
machine load hits both sides. Reported: median with min–max of each side, the median and range of
the per-pair ratio, the peak RSS growth during the timed call, and the load average.

A side is ``"module:function"``; the function takes the keyword arguments given and returns a
zero-argument callable (the timed call). Keep setup work out of that callable.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any


def _vm_kib(name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _worker(conn: Connection, side: str, kwargs: dict[str, Any], warmup: bool) -> None:
    try:
        module_name, func_name = side.split(":")
        factory = getattr(importlib.import_module(module_name), func_name)
        call = factory(**kwargs)
        if warmup:
            call()
        base_kib = _vm_kib("VmRSS")
        _reset_peak_rss()
        t0 = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - t0
        peak_kib = _vm_kib("VmHWM")
        conn.send({"seconds": seconds, "peak_rss_mib": peak_kib / 1024,
                   "rss_growth_mib": max(peak_kib - base_kib, 0) / 1024, "result": result})
    except BaseException as exc:  # report, never hang the parent
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def run_once(side: str, kwargs: dict[str, Any] | None = None, *, warmup: bool = True,
             timeout_s: float = 1800.0) -> dict[str, Any]:
    """One timed call of ``side`` in a fresh process; returns seconds, memory and its result."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(child, side, kwargs or {}, warmup))
    proc.start()
    child.close()
    if not parent.poll(timeout_s):
        proc.kill()
        raise TimeoutError(f"{side} took more than {timeout_s} s")
    out = parent.recv()
    proc.join()
    if "error" in out:
        raise RuntimeError(f"{side} failed: {out['error']}")
    return out


@dataclass
class Stats:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def fmt(self, unit: str = "s", digits: int = 2) -> str:
        return (f"{self.median:.{digits}f} {unit} ({min(self.values):.{digits}f}–"
                f"{max(self.values):.{digits}f})")


@dataclass
class Paired:
    """Paired runs of two sides: times, per-pair ratios (reference / ours) and memory."""

    ours: Stats
    ref: Stats
    ratio: Stats
    ours_rss_growth_mib: Stats
    ref_rss_growth_mib: Stats
    load_average: tuple[float, float]
    results: dict[str, list[Any]] = field(default_factory=dict)

    def row(self, label: str) -> str:
        return (f"| {label} | {self.ours.fmt()} | {self.ref.fmt()} | **{self.ratio.median:.1f}×** "
                f"({min(self.ratio.values):.1f}–{max(self.ratio.values):.1f}) | "
                f"{self.ours_rss_growth_mib.median:,.0f} / {self.ref_rss_growth_mib.median:,.0f} "
                f"| {self.load_average[0]:.2f} → {self.load_average[1]:.2f} |")


TABLE_HEADER = ("| comparison | ours, median (min–max) | reference, median (min–max) | "
                "speed-up, median of pairs (min–max) | peak RSS growth MiB, ours / reference | "
                "load average, start → end |\n| --- | --- | --- | --- | --- | --- |")


def paired(ours: str, ref: str, *, runs: int = 5, ours_kwargs: dict[str, Any] | None = None,
           ref_kwargs: dict[str, Any] | None = None, warmup: bool = True,
           progress: Callable[[str], None] | None = print) -> Paired:
    """``runs`` pairs of fresh-process timings of ``ours`` and ``ref``, alternating the order."""
    load0 = os.getloadavg()[0]
    times: dict[str, list[float]] = {"ours": [], "ref": []}
    growth: dict[str, list[float]] = {"ours": [], "ref": []}
    results: dict[str, list[Any]] = {"ours": [], "ref": []}
    sides = {"ours": (ours, ours_kwargs), "ref": (ref, ref_kwargs)}
    for i in range(runs):
        order = ("ours", "ref") if i % 2 == 0 else ("ref", "ours")
        for name in order:
            side, kwargs = sides[name]
            out = run_once(side, kwargs, warmup=warmup)
            times[name].append(out["seconds"])
            growth[name].append(out["rss_growth_mib"])
            results[name].append(out["result"])
        if progress:
            progress(f"  pair {i + 1}/{runs}: ours {times['ours'][-1]:.3f} s, "
                     f"reference {times['ref'][-1]:.3f} s")
    ratios = [r / o for o, r in zip(times["ours"], times["ref"], strict=True)]
    return Paired(Stats(times["ours"]), Stats(times["ref"]), Stats(ratios),
                  Stats(growth["ours"]), Stats(growth["ref"]), (load0, os.getloadavg()[0]),
                  results)


def machine_line() -> str:
    import numpy as np
    import pandas as pd

    return (f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs; "
            f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}.")
