"""Battery parameters (`BatterySpec`) and the cold-weather charge limit.

Defaults for the park's 63 MW / 252 MWh LFP station come from data/lfp_63mw_252mwh.yaml (sources
cited there).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_STATION_FILE = DATA_DIR / "lfp_63mw_252mwh.yaml"


@dataclass(frozen=True)
class BatterySpec:
    """Battery station parameters. Power at the grid (AC) side; SOC in percent of ``energy_mwh``.

    ``soc_final_pct`` is the minimum state of charge required at the end of a horizon.
    ``grid_import_limit_mw``/``grid_export_limit_mw`` are the site's connection limits (``None`` =
    unlimited). Charging is blocked below ``charge_block_below_c`` (cell/enclosure temperature,
    degC) and derated linearly up to full power at ``charge_full_above_c``.
    """

    power_charge_mw: float
    power_discharge_mw: float
    energy_mwh: float
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    soc_min_pct: float = 0.0
    soc_max_pct: float = 100.0
    soc_initial_pct: float = 50.0
    soc_final_pct: float = 0.0
    aux_load_mw: float = 0.0
    self_discharge_pct_per_day: float = 0.0
    grid_import_limit_mw: float | None = None
    grid_export_limit_mw: float | None = None
    degradation_cost_yuan_per_mwh: float = 0.0
    charge_block_below_c: float = -math.inf
    charge_full_above_c: float = -math.inf

    def __post_init__(self) -> None:
        if min(self.power_charge_mw, self.power_discharge_mw, self.energy_mwh) < 0:
            raise ValueError("power and energy must be non-negative")
        if not (0 < self.eta_charge <= 1 and 0 < self.eta_discharge <= 1):
            raise ValueError("efficiencies must be in (0, 1]")
        if not 0 <= self.soc_min_pct <= self.soc_max_pct <= 100:
            raise ValueError("need 0 <= soc_min_pct <= soc_max_pct <= 100")
        if not self.soc_min_pct <= self.soc_initial_pct <= self.soc_max_pct:
            raise ValueError("soc_initial_pct must lie in the SOC window")
        if self.soc_final_pct > self.soc_max_pct:
            raise ValueError("soc_final_pct above soc_max_pct can never be reached")
        if not 0 <= self.self_discharge_pct_per_day < 100:
            raise ValueError("self_discharge_pct_per_day must be in [0, 100)")
        if self.charge_full_above_c < self.charge_block_below_c:
            raise ValueError("charge_full_above_c must be >= charge_block_below_c")

    # --- derived quantities -------------------------------------------------------------
    @property
    def soc_min_mwh(self) -> float:
        return self.energy_mwh * self.soc_min_pct / 100.0

    @property
    def soc_max_mwh(self) -> float:
        return self.energy_mwh * self.soc_max_pct / 100.0

    @property
    def soc_initial_mwh(self) -> float:
        return self.energy_mwh * self.soc_initial_pct / 100.0

    @property
    def soc_final_mwh(self) -> float:
        return self.energy_mwh * self.soc_final_pct / 100.0

    @property
    def round_trip_efficiency(self) -> float:
        return self.eta_charge * self.eta_discharge

    def retention_per_step(self, step_h: float) -> float:
        """Fraction of stored energy kept over one step after self-discharge."""
        return float((1.0 - self.self_discharge_pct_per_day / 100.0) ** (step_h / 24.0))

    def charge_limit_mw(self, temperature_c: np.ndarray | None, n: int) -> np.ndarray:
        """Per-step maximum charge power (MW) from the cell/enclosure temperature (degC)."""
        full = np.full(n, self.power_charge_mw)
        if temperature_c is None:
            return full
        t = np.asarray(temperature_c, dtype=float)
        lo, hi = self.charge_block_below_c, self.charge_full_above_c
        frac = np.clip((t - lo) / (hi - lo), 0.0, 1.0) if hi > lo else (t >= lo).astype(float)
        limit_mw: np.ndarray = full * frac
        return limit_mw

    def with_(self, **changes: Any) -> BatterySpec:
        """Copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatterySpec:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def default_station(path: Path | str = DEFAULT_STATION_FILE) -> BatterySpec:
    """The park's 63 MW / 252 MWh LFP station with parameters from the cited data file."""
    file = Path(path)
    stat = file.stat()
    raw = _station_document(str(file.resolve()), stat.st_mtime_ns, stat.st_size)
    return BatterySpec.from_dict(copy.deepcopy(raw))


@lru_cache(maxsize=16)
def _station_document(path: str, mtime_ns: int, size: int) -> Any:
    """A station file's document, parsed once per file version (modification time and size)."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
