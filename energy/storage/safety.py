"""Safe operating window of a station and the telemetry excursions leaving it (vectorised).

Telemetry convention (energy/data/units.yaml): ``power_mw`` + discharge / - charge, ``soc_pct``,
``temperature_c`` (enclosure/cell), each an interval mean on a DatetimeIndex of interval starts.
Defaults in data/safety_window_lfp.yaml (sources there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from energy.storage.battery import BatterySpec

SAFETY_FILE = Path(__file__).parent / "data" / "safety_window_lfp.yaml"


@dataclass(frozen=True)
class SafetyWindow:
    """Limits per telemetry quantity: [min, max] for SOC (%), temperature (degC), power (MW)."""

    soc_min_pct: float
    soc_max_pct: float
    temperature_min_c: float
    temperature_max_c: float
    power_charge_max_mw: float
    power_discharge_max_mw: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def with_overrides(self, overrides: dict[str, Any] | None) -> SafetyWindow:
        names = {f.name for f in fields(self)}
        return replace(self, **{k: float(v) for k, v in (overrides or {}).items() if k in names})


def safety_window(battery: BatterySpec, path: Path | str = SAFETY_FILE) -> SafetyWindow:
    """The default window of ``battery``: its SOC window widened by the data file's margin, the
    file's temperature window, and rated power plus the file's tolerance."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    margin = float(raw["soc_margin_pct"])
    tol = 1.0 + float(raw["power_tolerance_frac"])
    return SafetyWindow(
        soc_min_pct=max(battery.soc_min_pct - margin, 0.0),
        soc_max_pct=min(battery.soc_max_pct + margin, 100.0),
        temperature_min_c=float(raw["temperature_min_c"]),
        temperature_max_c=float(raw["temperature_max_c"]),
        power_charge_max_mw=battery.power_charge_mw * tol,
        power_discharge_max_mw=battery.power_discharge_mw * tol,
    )


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[first, last] positions of each run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def excursions(
    telemetry: pd.DataFrame, window: SafetyWindow, step: pd.Timedelta
) -> pd.DataFrame:
    """Contiguous runs of telemetry outside ``window``, one row per run and side.

    ``telemetry`` may hold any of ``power_mw``, ``soc_pct``, ``temperature_c`` (NaN = no reading;
    a missing reading ends a run). Columns of the answer: quantity, side ('low'/'high'), start,
    end (= last interval start + ``step``), extreme (the worst value), limit, steps.
    """
    w = window
    checks = {
        "soc_pct": (w.soc_min_pct, w.soc_max_pct),
        "temperature_c": (w.temperature_min_c, w.temperature_max_c),
        "power_mw": (-w.power_charge_max_mw, w.power_discharge_max_mw),
    }
    rows: list[dict[str, Any]] = []
    idx = telemetry.index
    for col, (lo, hi) in checks.items():
        if col not in telemetry:
            continue
        v = telemetry[col].to_numpy(dtype=float)
        for side, mask, limit, pick in (("low", v < lo, lo, np.min), ("high", v > hi, hi, np.max)):
            for a, b in _runs(mask):
                rows.append({"quantity": col, "side": side, "start": idx[a], "end": idx[b] + step,
                             "extreme": float(pick(v[a : b + 1])), "limit": float(limit),
                             "steps": b - a + 1})
    cols = ["quantity", "side", "start", "end", "extreme", "limit", "steps"]
    return pd.DataFrame(rows, columns=cols).sort_values("start", kind="stable").reset_index(
        drop=True)
