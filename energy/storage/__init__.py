"""The storage station: battery model, optimal/rolling/rule dispatch, resilience, ageing."""

from energy.storage.battery import BatterySpec, default_station
from energy.storage.degradation import soh_estimate, soh_from_capacity_test, soh_projection
from energy.storage.dispatch import optimize_dispatch
from energy.storage.problem import (
    DispatchInfeasible,
    DispatchResult,
    DispatchSignals,
    ObjectiveWeights,
)
from energy.storage.resilience import outage_endurance_h, planned_soc_mwh
from energy.storage.rolling import rolling_dispatch
from energy.storage.rules import rule_based_dispatch

__all__ = [
    "BatterySpec",
    "DispatchInfeasible",
    "DispatchResult",
    "DispatchSignals",
    "ObjectiveWeights",
    "default_station",
    "optimize_dispatch",
    "outage_endurance_h",
    "planned_soc_mwh",
    "rolling_dispatch",
    "rule_based_dispatch",
    "soh_estimate",
    "soh_from_capacity_test",
    "soh_projection",
]
