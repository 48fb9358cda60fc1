"""The energy-carbon ledger of one entity (enterprise or park) for one period.

Energy: GB/T 2589, E_tce,i = Q_i x k_i (exports deducted). CO2 (附件4 structure, CO2 only):
E = E_fuels + E_electricity (net imported) + E_heat (net imported) + E_process;
bunkers listed apart.
Every figure names the factor-set version, the policy, the input totals and each factor used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from carbon.factors import (
    Factor,
    FactorSet,
    ProvinceFactorUnavailable,
    load_factor_set,
)
from carbon.inputs import (
    ENERGY_INPUTS,
    FUEL_CARRIERS,
    Activity,
    InputError,
    normalise_energy,
    period_year,
)
from carbon.instruments import Claims, Holder, Instrument, claim, grid_basis_kwh, park_claims
from carbon.policy import AccountingPolicy, load_policy
from carbon.scope2 import KWH_PER_MWH, Scope2Electricity, allocate_electricity

SCOPES = ("park", "enterprise")


@dataclass(frozen=True)
class Ledger:
    """Energy and CO2 of one entity and period, with provenance. `to_dict()` is JSON-ready."""

    scope: str
    code: str
    period: str
    factor_set: str
    policy: dict[str, Any]
    energy_by_carrier: dict[str, dict[str, Any]]
    energy_tce: float
    energy_tce_excl_renewable_electricity: float
    energy_tce_assessed: float
    """Energy as assessed under the policy's ``energy_assessment_rule``: the total less the
    deducted renewable electricity (113号 and 1258号); equal to ``energy_tce`` under 'none'."""
    energy_tce_for_intensity_assessed: float
    """The numerator of the assessed intensity: deducted under 113号 only."""
    electricity_consumed_kwh: float
    clean_energy_tce: float
    clean_energy_by_source_tce: dict[str, float]
    co2_by_source: dict[str, float]
    co2_fuels_by_carrier: dict[str, float]
    co2_bunkers_memo_t: float
    scope2_electricity: dict[str, Any]
    co2_t: float
    co2_location_based_t: float
    co2_market_based_t: float
    inputs: dict[str, Any]
    factors_used: dict[str, dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    unused_instruments_mwh: float = 0.0
    instrument_claims: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _electricity_location_factor(
    fs: FactorSet, policy: AccountingPolicy, year: int
) -> Factor:
    try:
        return fs.electricity_co2_province(policy.electricity_province, year)
    except ProvinceFactorUnavailable:
        fb = policy.electricity_location_fallback
        note = (
            f"no published provincial factor for {policy.electricity_province}; "
            f"fallback {fb} (policy electricity_location_fallback)"
        )
        if fb == "national_average":
            f = fs.electricity_co2("national_average", year)
        else:
            f = fs.electricity_co2_region(fb.removeprefix("region:"), year)
        return Factor(f.key, f.value, f.unit, f.source, f.year, f.confidence, note)


def compute_ledger(
    energy_by_carrier: Mapping[str, Any],
    activity: Activity | None = None,
    factor_set: FactorSet | str | None = None,
    policy: AccountingPolicy | None = None,
    *,
    period: str,
    scope: str = "park",
    code: str = "park",
    instruments: Sequence[Instrument] | None = None,
    green_direct_metered_kwh: float = 0.0,
    holders: Sequence[Holder] | None = None,
) -> Ledger:
    """Compute the ledger from energy inputs (keys of `carbon.inputs.ENERGY_INPUTS`, canonical
    units, e.g. {"electricity_import_kwh": 1.2e6, "diesel_t": 3.0}) and activity data.

    factor_set: a FactorSet, a version string, or None (policy's version, else newest).
    period: 'YYYY', 'YYYY-MM' or 'YYYY-Qn'; its year selects the MEE factor year.

    Instrument mode (`instruments` for one enterprise, or `holders` for the park: each
    enterprise's grid basis, metered green-direct kWh and instruments): the market-based method
    uses the instruments only, by the rules of `carbon.instruments` (the activity's green_*
    amounts must then be 0); `green_direct_metered_kwh` is the part of electricity_import_kwh
    metered on green-direct lines. Without either, the activity's green_* amounts are used.
    """
    if scope not in SCOPES:
        raise InputError(f"scope {scope!r}; use one of {SCOPES}")
    policy = policy or load_policy()
    activity = activity or Activity()
    if isinstance(factor_set, FactorSet):
        fs = factor_set
    else:
        fs = load_factor_set(factor_set or policy.factor_set_version)
    year = period_year(period)
    factor_year = policy.electricity_factor_year or year
    q = normalise_energy(energy_by_carrier)
    warnings: list[str] = []
    used: dict[str, dict[str, Any]] = {}

    def use(f: Factor, note: str = "") -> Factor:
        d = f.to_dict()
        if note:
            d["note"] = note
        used[f.key] = d
        return f

    def get(key: str) -> float:
        return q.get(key, 0.0)

    carriers: dict[str, dict[str, Any]] = {}

    # ---- electricity (energy) ----
    if policy.electricity_tce_basis == "equivalent":
        k_elec, _, f_elec = fs.tce_per_unit("electricity_equivalent")
        use(f_elec, "tce per kWh = value / 1000 (当量值)")
    else:
        f_elec = fs.electricity_generation_coal(factor_year)
        k_elec = f_elec.value / 1e6  # gce/kWh -> tce/kWh
        use(f_elec, "tce per kWh = value / 1e6 (等价值)")
    imp, exp, pv = get("electricity_import_kwh"), get("electricity_export_kwh"), get(
        "pv_generation_kwh"
    )
    consumed_kwh = imp + pv - exp
    if consumed_kwh < 0:
        raise InputError(
            f"electricity_export_kwh ({exp}) exceeds import + PV generation ({imp + pv})"
        )
    for key, sign in (("electricity_import_kwh", 1.0), ("pv_generation_kwh", 1.0),
                      ("electricity_export_kwh", -1.0)):
        if key in q:
            carrier, unit = ENERGY_INPUTS[key]
            carriers[carrier] = {"quantity": q[key], "unit": unit,
                                 "tce": sign * q[key] * k_elec, "factor": f_elec.key}

    # ---- fossil fuels ----
    k_ng, _, f_ng = fs.tce_per_unit(policy.natural_gas_standard_coal_key)
    gas_nm3 = get("natural_gas_nm3") + get("natural_gas_m3") / policy.natural_gas_m3_per_nm3
    fuel_qty = {
        "natural_gas": gas_nm3,
        "diesel": get("diesel_t"),
        "gasoline": get("gasoline_t"),
        "lpg": get("lpg_t"),
        "coal": get("coal_t"),
    }
    fuel_present = {
        "natural_gas": "natural_gas_m3" in q or "natural_gas_nm3" in q,
        **{c: f"{c}_t" in q for c in ("diesel", "gasoline", "lpg", "coal")},
    }
    co2_fuels: dict[str, float] = {}
    fuel_ef: dict[str, float] = {}
    for carrier in FUEL_CARRIERS:
        if not fuel_present[carrier]:
            continue
        if carrier == "natural_gas":
            k, f_k = k_ng, f_ng
        else:
            k, _, f_k = fs.tce_per_unit(carrier)
        use(f_k)
        ff = fs.fuel(carrier, policy.fuel_factor_method)
        used[f"fuel_co2.{ff.method}.{carrier}"] = ff.to_dict()
        fuel_ef[carrier] = ff.co2_t_per_unit
        qty = fuel_qty[carrier]
        co2_fuels[carrier] = qty * ff.co2_t_per_unit
        carriers[carrier] = {"quantity": qty, "unit": "Nm3" if carrier == "natural_gas" else "t",
                             "tce": qty * k, "co2_t": co2_fuels[carrier], "factor": f_k.key}

    # ---- heat and steam ----
    k_heat, _, f_heat = fs.tce_per_unit("heat")
    f_heat_co2 = fs.heat_co2()
    heat_in_gj = get("heat_gj") + get("steam_gj")
    if "heat_gj" in q:
        carriers["heat"] = {"quantity": q["heat_gj"], "unit": "GJ",
                            "tce": q["heat_gj"] * k_heat, "factor": f_heat.key}
    if "heat_export_gj" in q:
        carriers["heat_export"] = {"quantity": q["heat_export_gj"], "unit": "GJ",
                                   "tce": -q["heat_export_gj"] * k_heat, "factor": f_heat.key}
    steam_tce = get("steam_gj") * k_heat
    steam_entry: dict[str, Any] = {}
    if "steam_gj" in q:
        steam_entry["quantity_gj"] = q["steam_gj"]
    if "steam_t" in q:
        steam_entry["quantity_t"] = q["steam_t"]
        if policy.steam_net_enthalpy_gj_per_t is not None:
            steam_t_gj = q["steam_t"] * policy.steam_net_enthalpy_gj_per_t
            steam_tce += steam_t_gj * k_heat
        else:
            k_steam, _, f_steam = fs.tce_per_unit("steam_low_pressure")
            use(f_steam, "fallback: steam metered by mass, enthalpy not set")
            steam_tce += q["steam_t"] * k_steam
            steam_entry["factor_t"] = f_steam.key
            steam_t_gj = q["steam_t"] * k_steam / k_heat  # 128.6 kgce/t / 34.12 kgce/GJ
            warnings.append(
                "steam_t converted with the GB/T 2589 fallback 128.6 kgce/t "
                f"(= {k_steam / k_heat:.4f} GJ/t); set steam_net_enthalpy_gj_per_t"
            )
        heat_in_gj += steam_t_gj
    if steam_entry:
        steam_entry.update({"tce": steam_tce, "factor": f_heat.key})
        if "steam_t" in q:
            steam_entry["gj_per_t"] = steam_t_gj / q["steam_t"] if q["steam_t"] else None
        carriers["steam"] = steam_entry
    if heat_in_gj > 0 or "heat_export_gj" in q:
        use(f_heat, "tce per GJ = kgce per MJ")
    net_heat_gj = max(0.0, heat_in_gj - get("heat_export_gj"))
    co2_heat = net_heat_gj * f_heat_co2.value
    if heat_in_gj > 0:
        use(f_heat_co2)

    if "water_m3" in q:
        carriers["water"] = {"quantity": q["water_m3"], "unit": "m3", "tce": 0.0,
                             "note": "not energy"}

    # ---- electricity (CO2, scope 2) ----
    f_loc = _electricity_location_factor(fs, policy, factor_year)
    f_res = fs.electricity_co2("national_residual", factor_year)
    claims: Claims | None = None
    holder_claims: list[Claims] = []
    instrument_mode = instruments is not None or holders is not None
    if instrument_mode:
        legacy = {k: getattr(activity, k) for k in ("green_certificates_mwh",
                  "green_power_trades_mwh", "direct_green_supply_mwh") if getattr(activity, k)}
        if legacy:
            raise InputError(f"activity {sorted(legacy)}: record green electricity as"
                             " instruments (ids claimed once), not as activity amounts")
        if green_direct_metered_kwh > imp + 1e-6:
            raise InputError("green_direct_metered_kwh exceeds electricity_import_kwh")
        grid = grid_basis_kwh(imp, exp, pv, policy.electricity_export_netting)
        if holders is not None:
            claims, holder_claims = park_claims(
                holders, policy.deductible_instruments, park_grid_basis_kwh=grid,
                pool=policy.pool_instruments_in_park,
                export_netting=policy.electricity_export_netting)
        else:
            claims = claim(Holder(code, q, green_direct_metered_kwh, instruments or ()),
                           policy.deductible_instruments,
                           export_netting=policy.electricity_export_netting)
        instruments_mwh = dict(claims.applied_mwh)
        warnings.extend(claims.warnings)
    else:
        instruments_mwh = {
            "direct_green_supply": activity.direct_green_supply_mwh,
            "green_power_trades": activity.green_power_trades_mwh,
            "green_certificates": activity.green_certificates_mwh,
        }
    s2: Scope2Electricity = allocate_electricity(
        import_kwh=imp,
        export_kwh=exp,
        pv_generation_kwh=pv,
        instruments_mwh=instruments_mwh,
        instrument_order=policy.deductible_instruments,
        export_netting=policy.electricity_export_netting,
        direct_green_zero_in_location_based=policy.direct_green_supply_zero_in_location_based,
        location_factor_t_per_mwh=f_loc.value,
        residual_factor_t_per_mwh=f_res.value,
        direct_green_physical_kwh=green_direct_metered_kwh if instrument_mode else None,
    )
    if activity.direct_green_supply_mwh * KWH_PER_MWH > imp:
        raise InputError("direct_green_supply_mwh exceeds electricity_import_kwh")
    if imp > 0:
        use(f_loc, f_loc.note or "location-based")
        use(f_res, "market-based residual (excl. market-traded non-fossil)")
    if imp > 0 and factor_year > f_loc.year:
        warnings.append(
            f"electricity factors of {f_loc.year} used for {factor_year} (latest published)"
        )
    for name, u in s2.instruments.items():
        if u.unused_mwh > 0 and not instrument_mode:
            warnings.append(
                f"{name}: {u.unused_mwh:.3f} MWh not applied (exceeds grid electricity)"
            )

    co2_elec = (
        s2.market_based_t if policy.co2_total_electricity_method == "market_based"
        else s2.location_based_t
    )
    co2_fuels_t = sum(co2_fuels.values())
    co2_by_source = {
        "fuels": co2_fuels_t,
        "electricity": co2_elec,
        "heat": co2_heat,
        "process": activity.process_co2_t,
    }
    common = co2_fuels_t + co2_heat + activity.process_co2_t
    co2_bunkers = 0.0
    for k, v in activity.bunker_fuels.items():
        carrier = ENERGY_INPUTS[k][0]
        v = float(v) / (policy.natural_gas_m3_per_nm3 if k == "natural_gas_m3" else 1.0)
        co2_bunkers += v * fuel_ef.get(carrier, 0.0)
        if v > fuel_qty.get(carrier, 0.0) + 1e-9:
            raise InputError(f"bunker_fuels.{k} ({v}) exceeds the {carrier} input")

    energy_tce = sum(c["tce"] for c in carriers.values())
    renewable_elec_kwh = s2.pv_consumed_kwh + s2.zero_carbon_grid_kwh
    clean = {
        "onsite_pv": s2.pv_consumed_kwh * k_elec,
        "green_electricity": s2.zero_carbon_grid_kwh * k_elec,
        "natural_gas": carriers.get("natural_gas", {}).get("tce", 0.0),
        "heat": max(0.0, heat_in_gj - get("heat_export_gj")) * k_heat,
        "grid_electricity_share": s2.residual_kwh * k_elec
        * policy.grid_electricity_clean_share_pct / 100.0,
    }
    clean_by_source = {k: v for k, v in clean.items()
                       if k in policy.clean_energy_sources or k == "grid_electricity_share"}

    inputs: dict[str, Any] = {"energy": q, "activity": activity.to_dict(),
                              "factor_year": factor_year}
    claims_doc: dict[str, Any] = {}
    if claims is not None:
        held = holders if holders is not None else [
            Holder(code, q, green_direct_metered_kwh, instruments or ())]
        inputs["instruments"] = sorted((i.to_dict() for h in held for i in h.instruments),
                                       key=lambda d: d["id"])
        inputs["green_direct_metered_kwh"] = green_direct_metered_kwh
        if holders is not None:
            inputs["holders"] = [
                {"code": h.code, "green_direct_metered_kwh": h.green_direct_metered_kwh,
                 "energy": {k: float(v) for k, v in sorted(h.energy.items()) if k in (
                     "electricity_import_kwh", "electricity_export_kwh", "pv_generation_kwh")}}
                for h in sorted(holders, key=lambda h: h.code)]
        claims_doc = {
            "order": list(policy.deductible_instruments),
            "pooled": bool(holders is not None and policy.pool_instruments_in_park),
            "applied_mwh": claims.applied_mwh,
            "unused_instruments_mwh": claims.unused_mwh,
            "instruments": [asdict(u) for u in claims.instruments],
        }
        if holders is not None:
            claims_doc["by_enterprise"] = [
                {"code": c.holder, "applied_mwh": sum(c.applied_mwh.values()),
                 "unused_mwh": c.unused_mwh} for c in holder_claims]
    return Ledger(
        scope=scope,
        code=code,
        period=period,
        factor_set=fs.version,
        policy=policy.to_dict(),
        energy_by_carrier=carriers,
        energy_tce=energy_tce,
        energy_tce_excl_renewable_electricity=energy_tce - renewable_elec_kwh * k_elec,
        energy_tce_assessed=energy_tce - (
            0.0 if policy.energy_assessment_rule == "none" else renewable_elec_kwh * k_elec),
        energy_tce_for_intensity_assessed=energy_tce - (
            renewable_elec_kwh * k_elec if policy.energy_assessment_rule == "non_fossil_2024"
            else 0.0),
        electricity_consumed_kwh=consumed_kwh,
        clean_energy_tce=sum(clean_by_source.values()),
        clean_energy_by_source_tce=clean_by_source,
        co2_by_source=co2_by_source,
        co2_fuels_by_carrier=co2_fuels,
        co2_bunkers_memo_t=co2_bunkers,
        scope2_electricity=s2.to_dict(),
        co2_t=common + co2_elec,
        co2_location_based_t=common + s2.location_based_t,
        co2_market_based_t=common + s2.market_based_t,
        inputs=inputs,
        factors_used=dict(sorted(used.items())),
        warnings=warnings,
        unused_instruments_mwh=claims.unused_mwh if claims else 0.0,
        instrument_claims=claims_doc,
    )


def ledgers_to_frame(ledgers: list[Ledger]) -> pd.DataFrame:
    """One row per ledger: totals, CO2 by source and tce by carrier (for tables, CSV, charts)."""
    rows = []
    for led in ledgers:
        row: dict[str, Any] = {
            "scope": led.scope, "code": led.code, "period": led.period,
            "factor_set": led.factor_set, "energy_tce": led.energy_tce, "co2_t": led.co2_t,
            "co2_location_based_t": led.co2_location_based_t,
            "co2_market_based_t": led.co2_market_based_t,
            "co2_bunkers_memo_t": led.co2_bunkers_memo_t,
            "electricity_consumed_kwh": led.electricity_consumed_kwh,
            "clean_energy_tce": led.clean_energy_tce,
        }
        row.update({f"co2_{k}_t": v for k, v in led.co2_by_source.items()})
        row.update({f"{k}_tce": c["tce"] for k, c in led.energy_by_carrier.items()})
        rows.append(row)
    return pd.DataFrame(rows)
