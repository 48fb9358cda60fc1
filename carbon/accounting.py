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
from carbon.scope2 import Scope2Electricity, allocate_electricity
from energy.balance import site_load
from energy.units import KWH_PER_MWH

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


@dataclass
class _Provenance:
    """What the steps of one ledger used and noticed: factors by key (with a note), warnings."""

    used: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def use(self, f: Factor, note: str = "") -> Factor:
        d = f.to_dict()
        if note:
            d["note"] = note
        self.used[f.key] = d
        return f


@dataclass(frozen=True)
class _Electricity:
    """Metered electricity (kWh) and its standard-coal factor (tce/kWh)."""

    import_kwh: float
    export_kwh: float
    pv_kwh: float
    consumed_kwh: float
    tce_per_kwh: float
    carriers: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Fuels:
    """Fossil fuels: quantity (Nm3 or t), CO2 factor (t per unit) and CO2 (t), by carrier."""

    quantity: dict[str, float]
    co2_t_per_unit: dict[str, float]
    co2_t: dict[str, float]
    carriers: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Heat:
    """Heat and steam bought (GJ), net of heat exported, its tce factor and CO2 (t)."""

    in_gj: float
    net_gj: float
    tce_per_gj: float
    co2_t: float
    carriers: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Claims:
    """Green electricity applied to the grid basis: by instrument (MWh) and, in instrument mode,
    the claims of the entity (and of each enterprise of the park)."""

    instruments_mwh: dict[str, float]
    claims: Claims | None
    holder_claims: list[Claims]

    @property
    def instrument_mode(self) -> bool:
        return self.claims is not None


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

    The steps, in order: electricity energy, fossil fuels, heat and steam, water, green
    electricity claims, scope-2 electricity, bunkers, clean energy, provenance.
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
    prov = _Provenance()

    elec = _electricity_energy(q, fs, policy, factor_year, prov)
    fuels = _fossil_fuels(q, fs, policy, prov)
    heat = _heat_and_steam(q, fs, policy, prov)
    carriers = {**elec.carriers, **fuels.carriers, **heat.carriers, **_water(q)}
    f_loc = _electricity_location_factor(fs, policy, factor_year)
    f_res = fs.electricity_co2("national_residual", factor_year)
    if instruments is not None or holders is not None:
        green = _instrument_claims(q, activity, policy, elec, code=code, instruments=instruments,
                                   green_direct_metered_kwh=green_direct_metered_kwh,
                                   holders=holders)
        prov.warnings.extend(green.claims.warnings if green.claims else [])
    else:
        green = _activity_claims(activity)
    s2 = _scope2_electricity(activity, policy, factor_year, (f_loc, f_res), elec, green,
                             green_direct_metered_kwh, prov)

    co2_elec = (
        s2.market_based_t if policy.co2_total_electricity_method == "market_based"
        else s2.location_based_t
    )
    co2_fuels_t = sum(fuels.co2_t.values())
    co2_by_source = {
        "fuels": co2_fuels_t,
        "electricity": co2_elec,
        "heat": heat.co2_t,
        "process": activity.process_co2_t,
    }
    common = co2_fuels_t + heat.co2_t + activity.process_co2_t
    co2_bunkers = _bunkers_memo_t(activity, policy, fuels)

    energy_tce = sum(c["tce"] for c in carriers.values())
    renewable_elec_tce = (s2.pv_consumed_kwh + s2.zero_carbon_grid_kwh) * elec.tce_per_kwh
    clean_by_source = _clean_energy_tce(policy, s2, elec, heat, carriers)
    inputs = _inputs_doc(q, activity, factor_year, green, code=code, instruments=instruments,
                         green_direct_metered_kwh=green_direct_metered_kwh, holders=holders)
    return Ledger(
        scope=scope,
        code=code,
        period=period,
        factor_set=fs.version,
        policy=policy.to_dict(),
        energy_by_carrier=carriers,
        energy_tce=energy_tce,
        energy_tce_excl_renewable_electricity=energy_tce - renewable_elec_tce,
        energy_tce_assessed=energy_tce - (
            0.0 if policy.energy_assessment_rule == "none" else renewable_elec_tce),
        energy_tce_for_intensity_assessed=energy_tce - (
            renewable_elec_tce if policy.energy_assessment_rule == "non_fossil_2024" else 0.0),
        electricity_consumed_kwh=elec.consumed_kwh,
        clean_energy_tce=sum(clean_by_source.values()),
        clean_energy_by_source_tce=clean_by_source,
        co2_by_source=co2_by_source,
        co2_fuels_by_carrier=fuels.co2_t,
        co2_bunkers_memo_t=co2_bunkers,
        scope2_electricity=s2.to_dict(),
        co2_t=common + co2_elec,
        co2_location_based_t=common + s2.location_based_t,
        co2_market_based_t=common + s2.market_based_t,
        inputs=inputs,
        factors_used=dict(sorted(prov.used.items())),
        warnings=prov.warnings,
        unused_instruments_mwh=green.claims.unused_mwh if green.claims else 0.0,
        instrument_claims=_claims_doc(policy, green, pooled=holders is not None),
    )


def _electricity_energy(q: Mapping[str, float], fs: FactorSet, policy: AccountingPolicy,
                        factor_year: int, prov: _Provenance) -> _Electricity:
    """Electricity in, out and generated on site (kWh), in tce at the policy's basis: 当量值
    (equivalent, GB/T 2589) or 等价值 (the grid's coal per kWh generated of ``factor_year``)."""
    if policy.electricity_tce_basis == "equivalent":
        k_elec, _, f_elec = fs.tce_per_unit("electricity_equivalent")
        prov.use(f_elec, "tce per kWh = value / 1000 (当量值)")
    else:
        f_elec = fs.electricity_generation_coal(factor_year)
        k_elec = f_elec.value / 1e6  # gce/kWh -> tce/kWh
        prov.use(f_elec, "tce per kWh = value / 1e6 (等价值)")
    imp = q.get("electricity_import_kwh", 0.0)
    exp = q.get("electricity_export_kwh", 0.0)
    pv = q.get("pv_generation_kwh", 0.0)
    consumed_kwh = site_load(imp, pv, exp)
    if consumed_kwh < 0:
        raise InputError(
            f"electricity_export_kwh ({exp}) exceeds import + PV generation ({imp + pv})"
        )
    carriers: dict[str, dict[str, Any]] = {}
    for key, sign in (("electricity_import_kwh", 1.0), ("pv_generation_kwh", 1.0),
                      ("electricity_export_kwh", -1.0)):
        if key in q:
            carrier, unit = ENERGY_INPUTS[key]
            carriers[carrier] = {"quantity": q[key], "unit": unit,
                                 "tce": sign * q[key] * k_elec, "factor": f_elec.key}
    return _Electricity(imp, exp, pv, consumed_kwh, k_elec, carriers)


def _fossil_fuels(q: Mapping[str, float], fs: FactorSet, policy: AccountingPolicy,
                  prov: _Provenance) -> _Fuels:
    """Fuels burnt on site: tce (GB/T 2589) and CO2 by the policy's fuel factor method.
    Natural gas metered in m3 is brought to Nm3 with the policy's m3 per Nm3."""
    k_ng, _, f_ng = fs.tce_per_unit(policy.natural_gas_standard_coal_key)
    gas_nm3 = (q.get("natural_gas_nm3", 0.0)
               + q.get("natural_gas_m3", 0.0) / policy.natural_gas_m3_per_nm3)
    quantity = {
        "natural_gas": gas_nm3,
        "diesel": q.get("diesel_t", 0.0),
        "gasoline": q.get("gasoline_t", 0.0),
        "lpg": q.get("lpg_t", 0.0),
        "coal": q.get("coal_t", 0.0),
    }
    present = {
        "natural_gas": "natural_gas_m3" in q or "natural_gas_nm3" in q,
        **{c: f"{c}_t" in q for c in ("diesel", "gasoline", "lpg", "coal")},
    }
    co2_t: dict[str, float] = {}
    ef: dict[str, float] = {}
    carriers: dict[str, dict[str, Any]] = {}
    for carrier in FUEL_CARRIERS:
        if not present[carrier]:
            continue
        if carrier == "natural_gas":
            k, f_k = k_ng, f_ng
        else:
            k, _, f_k = fs.tce_per_unit(carrier)
        prov.use(f_k)
        ff = fs.fuel(carrier, policy.fuel_factor_method)
        prov.used[f"fuel_co2.{ff.method}.{carrier}"] = ff.to_dict()
        ef[carrier] = ff.co2_t_per_unit
        qty = quantity[carrier]
        co2_t[carrier] = qty * ff.co2_t_per_unit
        carriers[carrier] = {"quantity": qty, "unit": "Nm3" if carrier == "natural_gas" else "t",
                             "tce": qty * k, "co2_t": co2_t[carrier], "factor": f_k.key}
    return _Fuels(quantity, ef, co2_t, carriers)


def _heat_and_steam(q: Mapping[str, float], fs: FactorSet, policy: AccountingPolicy,
                    prov: _Provenance) -> _Heat:
    """Heat and steam bought (GJ; steam metered by mass at the policy's net enthalpy, else at
    GB/T 2589's 128.6 kgce/t with a warning) less heat exported, in tce and CO2."""
    k_heat, _, f_heat = fs.tce_per_unit("heat")
    f_heat_co2 = fs.heat_co2()
    heat_in_gj = q.get("heat_gj", 0.0) + q.get("steam_gj", 0.0)
    carriers: dict[str, dict[str, Any]] = {}
    if "heat_gj" in q:
        carriers["heat"] = {"quantity": q["heat_gj"], "unit": "GJ",
                            "tce": q["heat_gj"] * k_heat, "factor": f_heat.key}
    if "heat_export_gj" in q:
        carriers["heat_export"] = {"quantity": q["heat_export_gj"], "unit": "GJ",
                                   "tce": -q["heat_export_gj"] * k_heat, "factor": f_heat.key}
    steam_tce = q.get("steam_gj", 0.0) * k_heat
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
            prov.use(f_steam, "fallback: steam metered by mass, enthalpy not set")
            steam_tce += q["steam_t"] * k_steam
            steam_entry["factor_t"] = f_steam.key
            steam_t_gj = q["steam_t"] * k_steam / k_heat  # 128.6 kgce/t / 34.12 kgce/GJ
            prov.warnings.append(
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
        prov.use(f_heat, "tce per GJ = kgce per MJ")
    net_heat_gj = max(0.0, heat_in_gj - q.get("heat_export_gj", 0.0))
    co2_heat = net_heat_gj * f_heat_co2.value
    if heat_in_gj > 0:
        prov.use(f_heat_co2)
    return _Heat(heat_in_gj, net_heat_gj, k_heat, co2_heat, carriers)


def _water(q: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Water is listed with the carriers (it is metered) but is not energy."""
    if "water_m3" not in q:
        return {}
    return {"water": {"quantity": q["water_m3"], "unit": "m3", "tce": 0.0, "note": "not energy"}}


def _instrument_claims(q: Mapping[str, float], activity: Activity, policy: AccountingPolicy,
                       elec: _Electricity, *, code: str,
                       instruments: Sequence[Instrument] | None,
                       green_direct_metered_kwh: float,
                       holders: Sequence[Holder] | None) -> _Claims:
    """Instrument mode: the entity's (or each enterprise's, for the park) instruments applied
    to the grid basis by the rules of `carbon.instruments`."""
    legacy = {k: getattr(activity, k) for k in ("green_certificates_mwh",
              "green_power_trades_mwh", "direct_green_supply_mwh") if getattr(activity, k)}
    if legacy:
        raise InputError(f"activity {sorted(legacy)}: record green electricity as"
                         " instruments (ids claimed once), not as activity amounts")
    if green_direct_metered_kwh > elec.import_kwh + 1e-6:
        raise InputError("green_direct_metered_kwh exceeds electricity_import_kwh")
    holder_claims: list[Claims] = []
    if holders is not None:
        grid = grid_basis_kwh(elec.import_kwh, elec.export_kwh, elec.pv_kwh,
                              policy.electricity_export_netting)
        claims, holder_claims = park_claims(
            holders, policy.deductible_instruments, park_grid_basis_kwh=grid,
            pool=policy.pool_instruments_in_park,
            export_netting=policy.electricity_export_netting)
    else:
        claims = claim(Holder(code, q, green_direct_metered_kwh, instruments or ()),
                       policy.deductible_instruments,
                       export_netting=policy.electricity_export_netting)
    return _Claims(dict(claims.applied_mwh), claims, holder_claims)


def _activity_claims(activity: Activity) -> _Claims:
    """Without instruments: the green electricity amounts recorded with the activity data."""
    return _Claims({
        "direct_green_supply": activity.direct_green_supply_mwh,
        "green_power_trades": activity.green_power_trades_mwh,
        "green_certificates": activity.green_certificates_mwh,
    }, None, [])


def _scope2_electricity(activity: Activity, policy: AccountingPolicy, factor_year: int,
                        factors: tuple[Factor, Factor], elec: _Electricity, green: _Claims,
                        green_direct_metered_kwh: float, prov: _Provenance) -> Scope2Electricity:
    """Scope-2 electricity, location- and market-based (see carbon.scope2) with ``factors``
    (location-based, residual; t/MWh), the factors used and a warning when the factors are older
    than ``factor_year``."""
    f_loc, f_res = factors
    s2 = allocate_electricity(
        import_kwh=elec.import_kwh,
        export_kwh=elec.export_kwh,
        pv_generation_kwh=elec.pv_kwh,
        instruments_mwh=green.instruments_mwh,
        instrument_order=policy.deductible_instruments,
        export_netting=policy.electricity_export_netting,
        direct_green_zero_in_location_based=policy.direct_green_supply_zero_in_location_based,
        location_factor_t_per_mwh=f_loc.value,
        residual_factor_t_per_mwh=f_res.value,
        direct_green_physical_kwh=green_direct_metered_kwh if green.instrument_mode else None,
    )
    imp = elec.import_kwh
    if activity.direct_green_supply_mwh * KWH_PER_MWH > imp:
        raise InputError("direct_green_supply_mwh exceeds electricity_import_kwh")
    if imp > 0:
        prov.use(f_loc, f_loc.note or "location-based")
        prov.use(f_res, "market-based residual (excl. market-traded non-fossil)")
    if imp > 0 and factor_year > f_loc.year:
        prov.warnings.append(
            f"electricity factors of {f_loc.year} used for {factor_year} (latest published)"
        )
    for name, u in s2.instruments.items():
        if u.unused_mwh > 0 and not green.instrument_mode:
            prov.warnings.append(
                f"{name}: {u.unused_mwh:.3f} MWh not applied (exceeds grid electricity)"
            )
    return s2


def _bunkers_memo_t(activity: Activity, policy: AccountingPolicy, fuels: _Fuels) -> float:
    """CO2 (t) of the fuels used for international aviation and shipping, listed apart (附件4);
    a bunker amount may not exceed the fuel input it is part of."""
    co2_bunkers = 0.0
    for k, v in activity.bunker_fuels.items():
        carrier = ENERGY_INPUTS[k][0]
        v = float(v) / (policy.natural_gas_m3_per_nm3 if k == "natural_gas_m3" else 1.0)
        co2_bunkers += v * fuels.co2_t_per_unit.get(carrier, 0.0)
        if v > fuels.quantity.get(carrier, 0.0) + 1e-9:
            raise InputError(f"bunker_fuels.{k} ({v}) exceeds the {carrier} input")
    return co2_bunkers


def _clean_energy_tce(policy: AccountingPolicy, s2: Scope2Electricity, elec: _Electricity,
                      heat: _Heat, carriers: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Clean energy (tce) by the sources the policy counts, plus the grid's clean share."""
    k_elec = elec.tce_per_kwh
    clean = {
        "onsite_pv": s2.pv_consumed_kwh * k_elec,
        "green_electricity": s2.zero_carbon_grid_kwh * k_elec,
        "natural_gas": carriers.get("natural_gas", {}).get("tce", 0.0),
        "heat": heat.net_gj * heat.tce_per_gj,
        "grid_electricity_share": s2.residual_kwh * k_elec
        * policy.grid_electricity_clean_share_pct / 100.0,
    }
    return {k: v for k, v in clean.items()
            if k in policy.clean_energy_sources or k == "grid_electricity_share"}


def _inputs_doc(q: dict[str, float], activity: Activity, factor_year: int, green: _Claims, *,
                code: str, instruments: Sequence[Instrument] | None,
                green_direct_metered_kwh: float,
                holders: Sequence[Holder] | None) -> dict[str, Any]:
    """The inputs the ledger was computed from (energy, activity, instruments, holders)."""
    inputs: dict[str, Any] = {"energy": q, "activity": activity.to_dict(),
                              "factor_year": factor_year}
    if green.claims is None:
        return inputs
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
    return inputs


def _claims_doc(policy: AccountingPolicy, green: _Claims, *, pooled: bool) -> dict[str, Any]:
    """How the instruments were applied (instrument mode; empty otherwise). ``pooled``: the
    park's ledger over its enterprises (holders)."""
    claims = green.claims
    if claims is None:
        return {}
    doc: dict[str, Any] = {
        "order": list(policy.deductible_instruments),
        "pooled": bool(pooled and policy.pool_instruments_in_park),
        "applied_mwh": claims.applied_mwh,
        "unused_instruments_mwh": claims.unused_mwh,
        "instruments": [asdict(u) for u in claims.instruments],
    }
    if pooled:
        doc["by_enterprise"] = [
            {"code": c.holder, "applied_mwh": sum(c.applied_mwh.values()),
             "unused_mwh": c.unused_mwh} for c in green.holder_claims]
    return doc


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
