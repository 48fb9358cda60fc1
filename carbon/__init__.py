"""Carbon and energy accounting for the Lhasa ETDZ zero-carbon park (plain library).

Entry points:
    load_factor_set(version=None) -> FactorSet
    load_policy(path=None, **overrides) -> AccountingPolicy
    compute_ledger(energy_by_carrier, activity, factor_set, policy, *, period, scope, code)
        -> Ledger
    compute_indicators(ledger, base=None) -> Indicators
    history_frame({year: Indicators}) -> pandas.DataFrame
    ledgers_to_frame([Ledger]) -> pandas.DataFrame
    sum_energy([energy]) -> dict; combine_activities([Activity]) -> Activity   # park from firms
    load_targets(name) -> TargetSet            # "plan" or "zero_carbon_park"
    target_status(history, targets, as_of_year, policy=None, trend=None) -> list[TargetStatus]
"""

from carbon.accounting import Ledger, compute_ledger, ledgers_to_frame
from carbon.factors import (
    FactorSet,
    ProvinceFactorUnavailable,
    UnknownFactorError,
    available_factor_sets,
    load_factor_set,
)
from carbon.indicators import Indicators, compute_indicators, history_frame
from carbon.inputs import ENERGY_INPUTS, Activity, InputError, combine_activities, sum_energy
from carbon.instruments import Holder, Instrument, check_instruments
from carbon.policy import (
    AccountingPolicy,
    PolicyError,
    load_policy,
    parse_policy,
    policy_by_name,
    shipped_policies,
)
from carbon.targets import TargetSet, TargetStatus, load_targets, target_status

__all__ = [
    "ENERGY_INPUTS",
    "AccountingPolicy",
    "Activity",
    "FactorSet",
    "Holder",
    "Indicators",
    "InputError",
    "Instrument",
    "Ledger",
    "PolicyError",
    "ProvinceFactorUnavailable",
    "TargetSet",
    "TargetStatus",
    "UnknownFactorError",
    "available_factor_sets",
    "check_instruments",
    "combine_activities",
    "compute_indicators",
    "compute_ledger",
    "history_frame",
    "ledgers_to_frame",
    "load_factor_set",
    "load_policy",
    "load_targets",
    "parse_policy",
    "policy_by_name",
    "shipped_policies",
    "sum_energy",
    "target_status",
]
