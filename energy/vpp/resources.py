"""What a demand-response plan is made of: the grid's event signal and the park's flexible
resources (curtailable and shiftable loads, PV curtailment, storage on top of its day-ahead plan).

Powers in kW at the grid side, energies in kWh, prices in yuan/kWh. Storage power is + discharge /
- charge (energy/data/units.yaml convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy.storage.battery import BatterySpec
from energy.storage.safety import SafetyWindow

KW_PER_MW = 1000.0
DIRECTIONS = ("reduce", "increase")
FLEX_KINDS = ("curtailable", "shiftable", "pv_curtailment")
# Which kinds can move the grid connection in each direction.
KINDS_FOR = {"reduce": ("curtailable", "shiftable"), "increase": ("pv_curtailment",)}


@dataclass(frozen=True)
class EventSignal:
    """A DR event at the park's grid connection: [start, end), reduce or increase the import by
    ``target_kw`` against the baseline, paid ``price_yuan_per_kwh``; notified at ``notified_at``."""

    start: pd.Timestamp
    end: pd.Timestamp
    direction: str
    target_kw: float
    price_yuan_per_kwh: float
    notified_at: pd.Timestamp

    def __post_init__(self) -> None:
        for name in ("start", "end", "notified_at"):
            if pd.Timestamp(getattr(self, name)).tzinfo is None:
                raise ValueError(f"{name} must carry a time zone")
        if self.end <= self.start:
            raise ValueError("end must lie after start")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}")
        if not (math.isfinite(self.target_kw) and self.target_kw > 0):
            raise ValueError("target_kw must be a positive finite number")
        if not (math.isfinite(self.price_yuan_per_kwh) and self.price_yuan_per_kwh >= 0):
            raise ValueError("price_yuan_per_kwh must be a non-negative finite number")

    @property
    def notice_minutes(self) -> float:
        return (pd.Timestamp(self.start) - pd.Timestamp(self.notified_at)).total_seconds() / 60.0

    @property
    def duration_minutes(self) -> float:
        return (pd.Timestamp(self.end) - pd.Timestamp(self.start)).total_seconds() / 60.0


@dataclass(frozen=True)
class FlexResource:
    """A curtailable or shiftable load, or a PV array's curtailment.

    ``available_kw``: optional per-event-step ceiling (the forecast load of the meter, or the
    forecast PV output) below ``max_reduction_kw``. ``max_duration_minutes`` bounds the energy
    (max_reduction_kw x duration), the LP's convex form of a duration limit. A shiftable load's
    ``rebound_fraction`` of the shifted energy returns after the event.
    """

    code: str
    enterprise: str
    kind: str
    max_reduction_kw: float
    min_notice_minutes: float = 0.0
    max_duration_minutes: float | None = None
    max_events_per_month: int | None = None
    events_this_month: int = 0
    rebound_fraction: float = 0.0
    cost_yuan_per_kwh: float = 0.0
    available_kw: np.ndarray | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FLEX_KINDS:
            raise ValueError(f"{self.code}: kind must be one of {FLEX_KINDS}")
        if not (math.isfinite(self.max_reduction_kw) and self.max_reduction_kw >= 0):
            raise ValueError(f"{self.code}: max_reduction_kw must be finite and >= 0")
        if not 0.0 <= self.rebound_fraction <= 2.0:
            raise ValueError(f"{self.code}: rebound_fraction must lie in [0, 2]")
        if not math.isfinite(self.cost_yuan_per_kwh):
            raise ValueError(f"{self.code}: cost_yuan_per_kwh must be finite")

    def unavailable_reason(self, event: EventSignal) -> str | None:
        """Why this resource cannot take part in ``event`` (None = it can)."""
        if self.kind not in KINDS_FOR[event.direction]:
            return f"a {self.kind} resource does not serve {event.direction} events"
        if event.notice_minutes < self.min_notice_minutes:
            return (f"notice of {event.notice_minutes:g} min is shorter than the "
                    f"{self.min_notice_minutes:g} min it needs")
        if (self.max_events_per_month is not None
                and self.events_this_month >= self.max_events_per_month):
            return f"monthly limit of {self.max_events_per_month} events reached"
        if self.max_reduction_kw <= 0:
            return "no capacity"
        return None


@dataclass(frozen=True)
class StorageResource:
    """A storage station that may deviate from its day-ahead plan ``day_ahead_kw`` (one value
    per plan step, + discharge / - charge) within its power, SOC and safety limits."""

    code: str
    enterprise: str
    power_charge_kw: float
    power_discharge_kw: float
    soc_min_kwh: float
    soc_max_kwh: float
    soc_start_kwh: float
    day_ahead_kw: np.ndarray = field(compare=False)
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    wear_cost_yuan_per_kwh: float = 0.0
    min_notice_minutes: float = 0.0

    def __post_init__(self) -> None:
        if min(self.power_charge_kw, self.power_discharge_kw) < 0:
            raise ValueError(f"{self.code}: power limits must be >= 0")
        if not 0 <= self.soc_min_kwh <= self.soc_max_kwh:
            raise ValueError(f"{self.code}: need 0 <= soc_min_kwh <= soc_max_kwh")
        if not (0 < self.eta_charge <= 1 and 0 < self.eta_discharge <= 1):
            raise ValueError(f"{self.code}: efficiencies must be in (0, 1]")

    @classmethod
    def from_battery(
        cls,
        code: str,
        enterprise: str,
        battery: BatterySpec,
        day_ahead_kw: np.ndarray,
        *,
        soc_start_kwh: float | None = None,
        safety: SafetyWindow | None = None,
        min_notice_minutes: float = 0.0,
    ) -> StorageResource:
        """The station's limits: its SOC window and rated power, narrowed by the safety window."""
        soc_lo_pct, soc_hi_pct = battery.soc_min_pct, battery.soc_max_pct
        p_ch, p_dis = battery.power_charge_mw, battery.power_discharge_mw
        if safety is not None:
            soc_lo_pct = max(soc_lo_pct, safety.soc_min_pct)
            soc_hi_pct = min(soc_hi_pct, safety.soc_max_pct)
            p_ch = min(p_ch, safety.power_charge_max_mw)
            p_dis = min(p_dis, safety.power_discharge_max_mw)
        e_kwh = battery.energy_mwh * KW_PER_MW
        return cls(
            code=code, enterprise=enterprise,
            power_charge_kw=p_ch * KW_PER_MW, power_discharge_kw=p_dis * KW_PER_MW,
            soc_min_kwh=e_kwh * soc_lo_pct / 100.0, soc_max_kwh=e_kwh * soc_hi_pct / 100.0,
            soc_start_kwh=(battery.soc_initial_mwh * KW_PER_MW if soc_start_kwh is None
                           else soc_start_kwh),
            day_ahead_kw=np.asarray(day_ahead_kw, dtype=float),
            eta_charge=battery.eta_charge, eta_discharge=battery.eta_discharge,
            wear_cost_yuan_per_kwh=battery.degradation_cost_yuan_per_mwh / KW_PER_MW,
            min_notice_minutes=min_notice_minutes,
        )

    def soc_path_kwh(self, power_kw: np.ndarray, step_h: float) -> np.ndarray:
        """End-of-step SOC (kWh) when following ``power_kw`` (+ discharge / - charge)."""
        p = np.asarray(power_kw, dtype=float)
        delta = np.where(p < 0, -p * self.eta_charge, -p / self.eta_discharge) * step_h
        return self.soc_start_kwh + np.cumsum(delta)
