"""Scope-2 electricity, location-based and market-based (GHG Protocol Scope 2 Guidance, 2015).

Location-based: grid electricity x grid-average factor (direct green lines at 0 if the policy
says so).
Market-based: instrument-covered kWh at 0 (applied in policy order, capped at the grid electricity
consumed, so nothing is deducted twice or beyond consumption), the remainder at the MEE factor
excluding market-traded non-fossil power (a residual-mix proxy). On-site PV never enters the grid
figure, so it is at zero in both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from energy.balance import site_load
from energy.units import KWH_PER_MWH


@dataclass(frozen=True)
class InstrumentUse:
    """One contractual instrument: recorded, applied and unused amounts (MWh)."""

    available_mwh: float
    applied_mwh: float
    unused_mwh: float


@dataclass(frozen=True)
class Scope2Electricity:
    import_kwh: float
    export_kwh: float
    pv_generation_kwh: float
    pv_consumed_kwh: float
    pv_exported_kwh: float
    grid_basis_kwh: float  # grid electricity the indirect emissions are computed on
    basis: str  # "net_import" (附件4 净受入) or "grid_consumed"
    instruments: dict[str, InstrumentUse]
    zero_carbon_grid_kwh: float  # instrument-covered part of grid_basis_kwh
    residual_kwh: float  # grid_basis_kwh not covered, at the residual factor (market-based)
    location_factor_t_per_mwh: float
    residual_factor_t_per_mwh: float
    location_based_t: float
    market_based_t: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def allocate_electricity(
    *,
    import_kwh: float,
    export_kwh: float,
    pv_generation_kwh: float,
    instruments_mwh: dict[str, float],
    instrument_order: tuple[str, ...],
    export_netting: bool,
    direct_green_zero_in_location_based: bool,
    location_factor_t_per_mwh: float,
    residual_factor_t_per_mwh: float,
    direct_green_physical_kwh: float | None = None,
) -> Scope2Electricity:
    """Split electricity into on-site PV, instrument-covered grid kWh and residual grid kWh.

    Exports are taken from PV first (pv_exported = min(export, pv)); the rest of the export is
    re-exported grid power. pv_consumed_kwh + grid_basis_kwh = electricity consumed.
    `instruments_mwh` keys: direct_green_supply, green_power_trades, green_certificates;
    instruments not in `instrument_order` are recorded but not applied.
    direct_green_physical_kwh: metered green-direct electricity; when given, the location-based
    figure puts that physical quantity at zero (else the direct_green_supply instrument amount).
    """
    pv_exported = min(export_kwh, pv_generation_kwh)
    consumed_kwh = site_load(import_kwh, pv_generation_kwh, export_kwh)
    if export_netting:
        basis = "net_import"
        grid_kwh = max(0.0, import_kwh - export_kwh)
    else:
        basis = "grid_consumed"
        grid_kwh = max(0.0, import_kwh - (export_kwh - pv_exported))
    # PV attributed to own consumption on the same basis, so PV + grid = consumption: with
    # netting the export offsets grid import and all PV counts as used (unless the park is a net
    # exporter); without netting only PV not exported counts.
    pv_consumed = max(0.0, consumed_kwh - grid_kwh)

    remaining_kwh = grid_kwh
    uses: dict[str, InstrumentUse] = {}
    for name in ("direct_green_supply", "green_power_trades", "green_certificates"):
        available_mwh = float(instruments_mwh.get(name, 0.0))
        uses[name] = InstrumentUse(available_mwh, 0.0, available_mwh)
    for name in instrument_order:
        available_mwh = uses[name].available_mwh
        applied_kwh = min(available_mwh * KWH_PER_MWH, remaining_kwh)
        remaining_kwh -= applied_kwh
        applied_mwh = applied_kwh / KWH_PER_MWH
        uses[name] = InstrumentUse(available_mwh, applied_mwh, available_mwh - applied_mwh)
    zero_kwh = grid_kwh - remaining_kwh

    direct_kwh = 0.0
    if direct_green_zero_in_location_based:
        physical = (uses["direct_green_supply"].available_mwh * KWH_PER_MWH
                    if direct_green_physical_kwh is None else direct_green_physical_kwh)
        direct_kwh = min(physical, grid_kwh)
    location_t = (grid_kwh - direct_kwh) / KWH_PER_MWH * location_factor_t_per_mwh
    market_t = remaining_kwh / KWH_PER_MWH * residual_factor_t_per_mwh
    return Scope2Electricity(
        import_kwh=import_kwh,
        export_kwh=export_kwh,
        pv_generation_kwh=pv_generation_kwh,
        pv_consumed_kwh=pv_consumed,
        pv_exported_kwh=pv_exported,
        grid_basis_kwh=grid_kwh,
        basis=basis,
        instruments=uses,
        zero_carbon_grid_kwh=zero_kwh,
        residual_kwh=remaining_kwh,
        location_factor_t_per_mwh=location_factor_t_per_mwh,
        residual_factor_t_per_mwh=residual_factor_t_per_mwh,
        location_based_t=location_t,
        market_based_t=market_t,
    )
