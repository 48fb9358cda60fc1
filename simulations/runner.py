"""Run a scenario: every year at the scenario's step, PV → dispatch → grid → accounting → targets.

Per year (all vectorised over the year's steps):
1. Load (simulations.load), rooftop PV from the pvlib model on the typical Lhasa year laid on that
   year (energy.pv, energy.weather; arrays age from their commissioning year), direct-line supply.
2. Dispatch of the storage in service (energy.storage: 'optimal' = the HiGHS LP with perfect
   foresight over the year, 'rule' = the rule baseline; 'none' or no storage = renewables serve
   the load first, the rest is imported). Renewable surplus goes to export up to the export limit,
   the rest is curtailed, shared between rooftop PV and direct line in proportion to availability.
3. Accounting with carbon.compute_ledger: electricity import = grid import + direct-line energy
   delivered (declared as direct green supply), export, PV generation net of curtailment, fuels,
   green certificates, value added; indicators against the base year; carbon.target_status.
4. Cost: tariff energy cost and monthly demand charge, direct-line energy, certificates, capex
   annuities and O&M of PV and storage in service (when the scenario gives them).
Energy balance per step: load + aux + charge + export + curtailment = PV + direct + discharge +
import; its yearly residual is a KPI.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from carbon import (
    AccountingPolicy,
    Activity,
    FactorSet,
    PolicyError,
    compute_indicators,
    compute_ledger,
    history_frame,
    load_factor_set,
    load_policy,
    load_targets,
    policy_by_name,
    target_status,
)
from carbon.targets import Phase
from energy.balance import site_load
from energy.pv import PVArray, estimate_power_kw, pv_yield_kpis
from energy.pv.arrays import default_ac_kw
from energy.site import Site, lhasa_etdz
from energy.storage import (
    BatterySpec,
    DispatchInfeasible,
    DispatchSignals,
    default_station,
    optimize_dispatch,
    rule_based_dispatch,
)
from energy.tariffs import Tariff, load_tariff, parse_tariff, price_series
from energy.units import KW_PER_MW, KWH_PER_MWH
from energy.weather import typical_year
from simulations.load import HOURS_PER_STEP, load_mw
from simulations.plausibility import input_warnings, yield_warnings
from simulations.scenario import Scenario, ScenarioError

SERIES_COLUMNS = (
    "load_mw", "storage_aux_mw", "pv_mw", "direct_line_mw", "pv_curtailed_mw",
    "direct_curtailed_mw", "charge_mw", "discharge_mw", "soc_mwh", "grid_import_mw",
    "grid_export_mw", "price_yuan_per_mwh",
)


class SimulationError(RuntimeError):
    """A scenario is valid but cannot be simulated (e.g. infeasible dispatch in a year)."""


@dataclass
class ScenarioResult:
    """Everything a run produces. ``kpis`` is JSON-ready; ``series`` is per step (local time)."""

    scenario: Scenario
    kpis: dict[str, Any]
    series: pd.DataFrame
    yearly: pd.DataFrame
    targets: pd.DataFrame
    ledgers: dict[int, dict[str, Any]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# inputs per year

def site_of(scenario: Scenario) -> Site:
    """The scenario's site: given fields over the Lhasa ETDZ reference site."""
    ref = lhasa_etdz()
    s = scenario.site
    return Site(
        latitude_deg=ref.latitude_deg if s.latitude_deg is None else s.latitude_deg,
        longitude_deg=ref.longitude_deg if s.longitude_deg is None else s.longitude_deg,
        altitude_m=ref.altitude_m if s.altitude_m is None else s.altitude_m,
        tz=ref.tz if s.tz is None else s.tz,
        name=ref.name, albedo=ref.albedo,
    )


def pv_arrays(scenario: Scenario, year: int) -> list[PVArray]:
    """Rooftop arrays in service in ``year`` (capacity × ``pv_scale``)."""
    arrays = []
    for i, b in enumerate(scenario.pv):
        kwp = b.capacity_kwp * scenario.pv_scale
        if b.year > year or kwp <= 0:
            continue
        ac_kw = kwp / b.dc_ac_ratio if b.dc_ac_ratio else default_ac_kw(kwp)
        arrays.append(PVArray(code=f"pv{i}", capacity_kwp=kwp, ac_kw=ac_kw, tilt_deg=b.tilt_deg,
                              azimuth_deg=b.azimuth_deg, mounting=b.mounting,
                              enterprise=b.enterprise, zone=b.zone, install_year=b.year))
    return arrays


def _pv_mw(arrays: list[PVArray], weather: pd.DataFrame, site: Site, year: int) -> np.ndarray:
    if not arrays:
        return np.zeros(len(weather))
    return estimate_power_kw(arrays, weather, site, year=year).sum(axis=1).to_numpy() / KW_PER_MW


def _solar_shape(weather: pd.DataFrame, site: Site, year: int) -> np.ndarray:
    ref = PVArray(code="shape", capacity_kwp=1.0, ac_kw=default_ac_kw(1.0), tilt_deg=25.0,
                  mounting="open_rack")
    return _pv_mw([ref], weather, site, year)


def direct_line_mw(scenario: Scenario, year: int, n: int, dt_h: float,
                   solar_shape: np.ndarray | None) -> np.ndarray:
    """Direct-line supply available at each step, MW (sum over lines in service)."""
    out = np.zeros(n)
    for line in scenario.direct_lines:
        if line.start_year > year or line.annual_energy_mwh <= 0:
            continue
        if line.shape == "flat" or solar_shape is None or solar_shape.sum() <= 0:
            out += min(line.annual_energy_mwh / (n * dt_h), line.power_mw)
            continue
        s = solar_shape / (solar_shape.sum() * dt_h)  # MW per MWh/yr
        scale = line.annual_energy_mwh
        for _ in range(30):  # rescale so the clipped profile still delivers the annual energy
            got = np.minimum(s * scale, line.power_mw).sum() * dt_h
            if got >= line.annual_energy_mwh * (1 - 1e-9) or got <= 0:
                break
            scale *= line.annual_energy_mwh / got
        out += np.minimum(s * scale, line.power_mw)
    return out


def battery_for_year(scenario: Scenario, year: int) -> BatterySpec | None:
    """The storage in service in ``year`` as one BatterySpec (powers and energies added; the other
    parameters from the largest unit over the default station's), with the grid limits."""
    units = [u for u in scenario.storage
             if u.in_service_year <= year and u.power_mw > 0 and u.energy_mwh > 0]
    if not units or scenario.dispatch.strategy == "none":
        return None
    largest = max(units, key=lambda u: u.energy_mwh)
    base = default_station().with_(**largest.parameters)
    power = sum(u.power_mw for u in units)
    return base.with_(power_charge_mw=power, power_discharge_mw=power,
                      energy_mwh=sum(u.energy_mwh for u in units),
                      grid_import_limit_mw=scenario.grid.import_limit_mw,
                      grid_export_limit_mw=scenario.grid.export_limit_mw)


def _interp_path(path: dict[int, float], year: int) -> float:
    years = sorted(path)
    return float(np.interp(year, years, [path[y] for y in years]))


def factor_set_for(scenario: Scenario, policy: AccountingPolicy) -> FactorSet:
    """The policy's factor set, with the scenario's grid-factor paths written in for its years
    (national average = Tibet's location-based fallback; national residual = market-based)."""
    fs = load_factor_set(policy.factor_set_version)
    gef = scenario.grid_emission_factors
    if not gef.location_tco2_per_mwh and not gef.residual_tco2_per_mwh:
        return fs
    raw = copy.deepcopy(fs.raw)
    elec = raw["electricity_co2"]
    loc_path = gef.location_tco2_per_mwh
    res_path = gef.residual_tco2_per_mwh or loc_path
    fallback = policy.electricity_location_fallback
    for year in range(scenario.base_year, scenario.end_year + 1):
        def entry(value: float, what: str, y: int = year) -> dict[str, Any]:
            return {"value": value, "unit": "tCO2/MWh", "year": y, "confidence": "scenario",
                    "source": f"scenario {scenario.name!r} grid_emission_factors.{what}"}
        if loc_path:
            e = entry(_interp_path(loc_path, year), "location_tco2_per_mwh")
            elec["national_average"][year] = e
            if fallback.startswith("region:"):
                elec["regions"][fallback.removeprefix("region:")][year] = e
        if res_path:
            elec["national_residual"][year] = entry(_interp_path(res_path, year),
                                                    "residual_tco2_per_mwh")
    return FactorSet(version=f"{fs.version}+{scenario.name}", compiled=fs.compiled,
                     description=f"{fs.description} (grid factors from the scenario)", raw=raw)


def value_added_10k_yuan(scenario: Scenario, year: int) -> float:
    va = scenario.value_added
    if year in va.by_year:
        return float(va.by_year[year])
    assert va.base_10k_yuan is not None
    return va.base_10k_yuan * (1 + va.growth_pct_per_year / 100) ** (year - scenario.base_year)


def fuels_for_year(scenario: Scenario, year: int) -> dict[str, float]:
    g = (1 + scenario.fuels.growth_pct_per_year / 100) ** (year - scenario.base_year)
    return {k: v * g for k, v in scenario.fuels.base.items()}


def crf(rate_pct: float, years: int) -> float:
    """Capital recovery factor r / (1 − (1 + r)^−n); 1/n at r = 0."""
    r = rate_pct / 100
    return 1.0 / years if r == 0 else r / (1 - (1 + r) ** -years)


# ---------------------------------------------------------------------------------------------
# dispatch and balance of one year

def _no_storage(load: np.ndarray, renewables: np.ndarray, export_limit: float,
                import_limit: float, index: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    net = load - renewables
    imp = np.maximum(net, 0.0)
    if (imp > import_limit + 1e-9).any():
        t = int(np.argmax(imp > import_limit + 1e-9))
        raise SimulationError(f"load exceeds the grid import limit at {index[t]} "
                              f"({imp[t]:.3f} MW > {import_limit:g} MW) with no storage")
    surplus = np.maximum(-net, 0.0)
    exp = np.minimum(surplus, export_limit)
    zeros = np.zeros_like(load)
    return {"charge_mw": zeros, "discharge_mw": zeros, "soc_mwh": zeros, "grid_import_mw": imp,
            "grid_export_mw": exp, "curtailed_mw": surplus - exp}


def dispatch_year(scenario: Scenario, year: int, load: pd.Series, renewables_mw: np.ndarray,
                  battery: BatterySpec | None, tariff: Tariff,
                  grid_tco2_per_mwh: float) -> dict[str, np.ndarray]:
    """Storage dispatch and grid flows of one year (arrays in MW, SOC in MWh)."""
    g = scenario.grid
    export_limit = np.inf if g.export_limit_mw is None else g.export_limit_mw
    import_limit = np.inf if g.import_limit_mw is None else g.import_limit_mw
    if battery is None:
        return _no_storage(load.to_numpy(), renewables_mw, export_limit, import_limit,
                           cast(pd.DatetimeIndex, load.index))
    d = scenario.dispatch
    signals = DispatchSignals(
        load, renewables_mw, tariff=tariff, grid_tco2_per_mwh=grid_tco2_per_mwh,
        carbon_price_yuan_per_tco2=d.carbon_price_yuan_per_tco2,
        curtailment_penalty_yuan_per_mwh=d.curtailment_penalty_yuan_per_mwh,
    )
    try:
        if d.strategy == "optimal":
            res = optimize_dispatch(signals, battery, fix_simultaneous=True)
        else:
            res = rule_based_dispatch(signals, battery)
    except DispatchInfeasible as exc:
        raise SimulationError(f"{year}: dispatch infeasible: {exc.reason}") from exc
    s = res.schedule
    # surplus leaves by export first (up to the limit), the rest is curtailed: a tie in the LP
    # whenever the export price and the curtailment penalty are equal, settled the same way here
    disposed = s["grid_export_mw"].to_numpy() + s["pv_curtailed_mw"].to_numpy()
    exp = np.minimum(disposed, export_limit)
    return {"charge_mw": s["charge_mw"].to_numpy(), "discharge_mw": s["discharge_mw"].to_numpy(),
            "soc_mwh": s["soc_mwh"].to_numpy(), "grid_import_mw": s["grid_import_mw"].to_numpy(),
            "grid_export_mw": exp, "curtailed_mw": disposed - exp}


# ---------------------------------------------------------------------------------------------
# the run

def _policy(scenario: Scenario) -> AccountingPolicy:
    """``accounting_policy``: overrides of the default policy, of a shipped policy named by
    ``policy``, or (a local scenario file only) of the policy file at ``path``."""
    settings = dict(scenario.accounting_policy)
    name = settings.pop("policy", None)
    try:
        if name is not None:
            return policy_by_name(str(name), **settings)
        return load_policy(**settings)
    except (PolicyError, TypeError) as exc:
        raise ScenarioError([{"field": "accounting_policy", "message": str(exc)}]) from None


def _tariff(scenario: Scenario) -> Tariff:
    """``tariff``: a shipped name, a local file (command line), or the tariff itself (a
    mapping, as the API passes a tariff an operator uploaded)."""
    try:
        if isinstance(scenario.tariff, dict):
            return parse_tariff(scenario.tariff)
        return load_tariff(scenario.tariff)
    except (OSError, KeyError, ValueError) as exc:
        raise ScenarioError([{"field": "tariff",
                              "message": f"cannot load tariff {scenario.tariff!r}: {exc}"}]) \
            from None


def investment_yuan(scenario: Scenario) -> float:
    """Overnight capex of the PV and storage commissioned up to the last simulated year, yuan."""
    c = scenario.costs
    pv = sum(b.capacity_kwp * scenario.pv_scale
             * (c.pv_capex_yuan_per_kwp if b.capex_yuan_per_kwp is None else b.capex_yuan_per_kwp)
             for b in scenario.pv if b.year <= scenario.end_year)
    storage = 0.0
    if scenario.dispatch.strategy != "none":
        storage = sum(u.energy_mwh * KWH_PER_MWH * (c.storage_capex_yuan_per_kwh
                                                    if u.capex_yuan_per_kwh is None
                                                    else u.capex_yuan_per_kwh)
                      for u in scenario.storage if u.in_service_year <= scenario.end_year)
    return float(pv + storage)


def _annuities(scenario: Scenario, year: int) -> dict[str, float]:
    c = scenario.costs
    f_pv, f_st = crf(c.discount_rate_pct, c.pv_lifetime_years), crf(c.discount_rate_pct,
                                                                     c.storage_lifetime_years)
    pv_annuity = pv_om = 0.0
    for b in scenario.pv:
        kwp = b.capacity_kwp * scenario.pv_scale
        if b.year <= year:
            pv_om += kwp * c.pv_om_yuan_per_kwp_year
            if year < b.year + c.pv_lifetime_years:
                capex = c.pv_capex_yuan_per_kwp if b.capex_yuan_per_kwp is None \
                    else b.capex_yuan_per_kwp
                pv_annuity += kwp * capex * f_pv
    st_annuity = st_om = 0.0
    for u in scenario.storage:
        if u.in_service_year <= year and scenario.dispatch.strategy != "none":
            kwh = u.energy_mwh * KWH_PER_MWH
            st_om += kwh * c.storage_om_yuan_per_kwh_year
            if year < u.in_service_year + c.storage_lifetime_years:
                capex = c.storage_capex_yuan_per_kwh if u.capex_yuan_per_kwh is None \
                    else u.capex_yuan_per_kwh
                st_annuity += kwh * capex * f_st
    return {"pv_annuity_yuan": pv_annuity, "storage_annuity_yuan": st_annuity,
            "om_yuan": pv_om + st_om}


def simulate_year(scenario: Scenario, year: int, site: Site, tariff: Tariff,
                  grid_tco2_per_mwh: float) -> pd.DataFrame:
    """Per-step series of one year (columns ``SERIES_COLUMNS``; local-time index)."""
    load = load_mw(scenario, year, site.tz)
    dt_h = HOURS_PER_STEP[scenario.step]
    arrays = pv_arrays(scenario, year)
    needs_weather = bool(arrays) or any(
        ln.shape == "solar" and ln.start_year <= year for ln in scenario.direct_lines)
    weather = typical_year(site, year, scenario.step) if needs_weather else None
    pv = _pv_mw(arrays, weather, site, year) if weather is not None else np.zeros(len(load))
    shape = _solar_shape(weather, site, year) if weather is not None and any(
        ln.shape == "solar" for ln in scenario.direct_lines) else None
    direct = direct_line_mw(scenario, year, len(load), dt_h, shape)
    renewables = pv + direct
    battery = battery_for_year(scenario, year)
    flows = dispatch_year(scenario, year, load, renewables, battery, tariff, grid_tco2_per_mwh)
    curtailed = flows["curtailed_mw"]
    share_pv = np.divide(pv, renewables, out=np.zeros_like(pv), where=renewables > 0)
    pv_curt = curtailed * share_pv
    return pd.DataFrame({
        "load_mw": load.to_numpy(),
        "storage_aux_mw": np.full(len(load), battery.aux_load_mw if battery else 0.0),
        "pv_mw": pv, "direct_line_mw": direct,
        "pv_curtailed_mw": pv_curt, "direct_curtailed_mw": curtailed - pv_curt,
        "charge_mw": flows["charge_mw"], "discharge_mw": flows["discharge_mw"],
        "soc_mwh": flows["soc_mwh"], "grid_import_mw": flows["grid_import_mw"],
        "grid_export_mw": flows["grid_export_mw"],
        "price_yuan_per_mwh": price_series(cast(pd.DatetimeIndex, load.index), tariff).to_numpy(),
    }, index=load.index)


def year_energy(series: pd.DataFrame, dt_h: float) -> dict[str, float]:
    """Energy totals of one year's series, MWh, and the energy-balance residual."""
    e = {c.replace("_mw", "_mwh"): float(series[c].sum() * dt_h)
         for c in SERIES_COLUMNS if c.endswith("_mw")}
    supply = e["pv_mwh"] + e["direct_line_mwh"] + e["discharge_mwh"] + e["grid_import_mwh"]
    use = (e["load_mwh"] + e["storage_aux_mwh"] + e["charge_mwh"] + e["grid_export_mwh"]
           + e["pv_curtailed_mwh"] + e["direct_curtailed_mwh"])
    step_residual = (series["pv_mw"] + series["direct_line_mw"] + series["discharge_mw"]
                     + series["grid_import_mw"] - series["load_mw"] - series["storage_aux_mw"]
                     - series["charge_mw"] - series["grid_export_mw"] - series["pv_curtailed_mw"]
                     - series["direct_curtailed_mw"])
    e["pv_used_mwh"] = e["pv_mwh"] - e["pv_curtailed_mwh"]
    e["direct_delivered_mwh"] = e["direct_line_mwh"] - e["direct_curtailed_mwh"]
    e["balance_residual_mwh"] = supply - use
    e["max_step_balance_error_mw"] = float(step_residual.abs().max())
    return e


def electricity_shares(e: dict[str, float]) -> dict[str, float]:
    """Renewable electricity used on site as a share of the electricity the park consumed.

    Consumed = PV used + direct line delivered + grid import − export (load, auxiliaries and
    storage losses). Exports leave from the renewable surplus, so they are taken off the
    renewable side: renewable used on site = PV used + direct − export (never below 0). The share
    therefore never exceeds 100 %; exported renewable energy is reported apart.
    """
    renewable = e["pv_used_mwh"] + e["direct_delivered_mwh"]
    consumed = site_load(e["grid_import_mwh"], renewable, e["grid_export_mwh"])
    on_site = min(max(renewable - e["grid_export_mwh"], 0.0), max(consumed, 0.0))
    return {
        "electricity_consumed_mwh": consumed,
        "renewable_used_on_site_mwh": on_site,
        "renewable_exported_mwh": min(e["grid_export_mwh"], renewable),
        "renewable_electricity_share_pct": 100.0 * on_site / consumed if consumed > 0 else 0.0,
    }


def year_cost(series: pd.DataFrame, dt_h: float, tariff: Tariff) -> dict[str, float]:
    """Energy cost (import × TOU price − export × export price) and the monthly demand charge
    on the peak import, yuan."""
    imp = series["grid_import_mw"]
    import_cost = cast(float, series["price_yuan_per_mwh"] @ imp)
    energy = float(dt_h * (import_cost
                           - tariff.export_price_yuan_per_mwh * series["grid_export_mw"].sum()))
    times = cast(pd.DatetimeIndex, series.index)
    monthly_peak_mw = imp.groupby([times.year, times.month]).max()
    demand = float(monthly_peak_mw.sum() * KW_PER_MW * tariff.demand_charge_yuan_per_kw_month)
    return {"energy_cost_yuan": energy, "demand_charge_yuan": demand,
            "peak_import_mw": float(imp.max())}


def run_scenario(scenario: Scenario, *, keep_series: bool = True) -> ScenarioResult:
    """Simulate every year of ``scenario``; KPIs, per-step series, yearly table, target status."""
    site = site_of(scenario)
    tariff = _tariff(scenario)
    policy = _policy(scenario)
    fs = factor_set_for(scenario, policy)
    dt_h = HOURS_PER_STEP[scenario.step]

    base_energy = {"electricity_import_kwh": float(load_mw(scenario, scenario.base_year, site.tz)
                                                   .sum() * dt_h * KWH_PER_MWH),
                   **fuels_for_year(scenario, scenario.base_year)}
    base_ledger = compute_ledger(
        base_energy, Activity(value_added_10k_yuan=value_added_10k_yuan(scenario,
                                                                        scenario.base_year)),
        fs, policy, period=str(scenario.base_year), scope="park", code=scenario.name)
    indicators = {scenario.base_year: compute_indicators(base_ledger, base=base_ledger)}
    ledgers = {scenario.base_year: base_ledger.to_dict()}

    rows: dict[int, dict[str, float]] = {}
    frames = []
    for year in scenario.years:
        loc_factor = fs.electricity_co2("national_average", year).value
        series = simulate_year(scenario, year, site, tariff, loc_factor)
        e = year_energy(series, dt_h)
        cost = year_cost(series, dt_h, tariff)
        battery = battery_for_year(scenario, year)
        certificates_mwh = float(scenario.green_certificates.mwh_by_year.get(year, 0.0))
        direct_cost = _direct_line_cost(scenario, year, e["direct_delivered_mwh"])
        row: dict[str, float] = {
            **e, **cost, **_annuities(scenario, year),
            "direct_line_cost_yuan": direct_cost,
            "certificates_cost_yuan": certificates_mwh
            * scenario.green_certificates.price_yuan_per_mwh,
            "green_certificates_mwh": certificates_mwh,
            "pv_capacity_kwp": sum(a.capacity_kwp for a in pv_arrays(scenario, year)),
            **pv_yield_kpis(e["pv_mwh"], sum(a.capacity_kwp for a in pv_arrays(scenario, year))),
            "storage_power_mw": battery.power_discharge_mw if battery else 0.0,
            "storage_energy_mwh": battery.energy_mwh if battery else 0.0,
            "storage_loss_mwh": e["charge_mwh"] - e["discharge_mwh"],
            "equivalent_full_cycles": (e["charge_mwh"] + e["discharge_mwh"])
            / (2 * battery.energy_mwh) if battery else 0.0,
        }
        row["total_cost_yuan"] = (row["energy_cost_yuan"] + row["demand_charge_yuan"]
                                  + row["direct_line_cost_yuan"] + row["certificates_cost_yuan"]
                                  + row["pv_annuity_yuan"] + row["storage_annuity_yuan"]
                                  + row["om_yuan"])
        energy_in = {
            "electricity_import_kwh": (e["grid_import_mwh"] + e["direct_delivered_mwh"])
            * KWH_PER_MWH,
            "electricity_export_kwh": e["grid_export_mwh"] * KWH_PER_MWH,
            "pv_generation_kwh": e["pv_used_mwh"] * KWH_PER_MWH,
            **fuels_for_year(scenario, year),
        }
        activity = Activity(green_certificates_mwh=certificates_mwh,
                            direct_green_supply_mwh=e["direct_delivered_mwh"],
                            value_added_10k_yuan=value_added_10k_yuan(scenario, year))
        ledger = compute_ledger(energy_in, activity, fs, policy, period=str(year), scope="park",
                                code=scenario.name)
        ind = compute_indicators(ledger, base=base_ledger)
        indicators[year] = ind
        ledgers[year] = ledger.to_dict()
        shares = electricity_shares(e)
        row.update({
            "energy_tce": ledger.energy_tce, "co2_t": ledger.co2_t,
            "co2_location_based_t": ledger.co2_location_based_t,
            "co2_market_based_t": ledger.co2_market_based_t,
            "value_added_10k_yuan": activity.value_added_10k_yuan or 0.0,
            "energy_intensity_tce_per_10k_yuan": ind.energy_intensity_tce_per_10k_yuan or np.nan,
            "energy_tce_assessed": ledger.energy_tce_assessed,
            "energy_intensity_assessed_tce_per_10k_yuan":
                ind.energy_intensity_assessed_tce_per_10k_yuan or np.nan,
            "co2_per_energy_t_per_tce": ind.co2_per_energy_t_per_tce or np.nan,
            "clean_energy_share_pct": ind.clean_energy_share_pct or 0.0,
            **shares,
            "grid_location_factor_tco2_per_mwh": loc_factor,
        })
        rows[year] = row
        if keep_series:
            frames.append(series)

    yearly = pd.DataFrame.from_dict(rows, orient="index")
    yearly.index.name = "year"
    warnings = input_warnings(scenario)
    for year, row in rows.items():
        warnings += yield_warnings(row["pv_capacity_kwp"], row["pv_mwh"], year)
    history = history_frame(indicators)
    targets = _target_rows(scenario, history, policy)
    series_all = pd.concat(frames) if frames else pd.DataFrame(columns=list(SERIES_COLUMNS))
    kpis = _kpis(scenario, yearly, targets, base_ledger.to_dict(),
                 indicators[scenario.base_year].to_dict(), fs.version)
    kpis["warnings"] = warnings
    return ScenarioResult(scenario=scenario, kpis=kpis, series=series_all, yearly=yearly,
                          targets=targets, ledgers=ledgers)


def _direct_line_cost(scenario: Scenario, year: int, delivered_mwh: float) -> float:
    """Direct-line energy bought, yuan: delivered energy at the lines' energy-weighted price."""
    lines = [ln for ln in scenario.direct_lines if ln.start_year <= year and ln.annual_energy_mwh]
    total = sum(ln.annual_energy_mwh for ln in lines)
    if not total:
        return 0.0
    price = sum(ln.price_yuan_per_mwh * ln.annual_energy_mwh for ln in lines) / total
    return delivered_mwh * price


def _target_rows(scenario: Scenario, history: pd.DataFrame,
                 policy: AccountingPolicy) -> pd.DataFrame:
    rows = []
    for name in scenario.target_sets:
        ts = load_targets(name)
        if scenario.phases is not None:
            ts = dataclasses.replace(ts, phases=tuple(
                Phase(p.id, p.start_year, p.end_year, p.title) for p in scenario.phases))
        for st in target_status(history, ts, scenario.end_year, policy):
            rows.append({"target_set": name, **st.to_dict()})
    return pd.DataFrame(rows)


def _clean(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.integer | np.bool_):
        return v.item()
    return v


def _kpis(scenario: Scenario, yearly: pd.DataFrame, targets: pd.DataFrame,
          base_ledger: dict[str, Any], base_indicators: dict[str, Any],
          factor_set: str) -> dict[str, Any]:
    last = yearly.iloc[-1]
    evaluated = targets[targets["status"].isin(["achieved", "missed"])] if len(targets) else targets
    summary = {
        "years": f"{scenario.start_year}-{scenario.end_year}",
        "strategy": scenario.dispatch.strategy,
        "total_cost_yuan": float(yearly["total_cost_yuan"].sum()),
        "investment_yuan": investment_yuan(scenario),
        "total_energy_cost_yuan": float(yearly["energy_cost_yuan"].sum()
                                        + yearly["demand_charge_yuan"].sum()),
        "total_co2_t": float(yearly["co2_t"].sum()),
        "total_co2_location_based_t": float(yearly["co2_location_based_t"].sum()),
        "total_co2_market_based_t": float(yearly["co2_market_based_t"].sum()),
        "final_year_co2_t": float(last["co2_t"]),
        "final_year_energy_tce": float(last["energy_tce"]),
        "final_year_energy_intensity_tce_per_10k_yuan":
            _clean(last["energy_intensity_tce_per_10k_yuan"]),
        "final_year_energy_intensity_assessed_tce_per_10k_yuan":
            _clean(last["energy_intensity_assessed_tce_per_10k_yuan"]),
        "final_year_co2_per_energy_t_per_tce": _clean(last["co2_per_energy_t_per_tce"]),
        "final_year_clean_energy_share_pct": float(last["clean_energy_share_pct"]),
        "final_year_renewable_electricity_share_pct":
            float(last["renewable_electricity_share_pct"]),
        "final_year_renewable_exported_mwh": float(last["renewable_exported_mwh"]),
        "pv_capacity_final_kwp": float(last["pv_capacity_kwp"]),
        "storage_energy_final_mwh": float(last["storage_energy_mwh"]),
        "pv_curtailed_total_mwh": float(yearly["pv_curtailed_mwh"].sum()),
        "max_balance_residual_mwh": float(yearly["balance_residual_mwh"].abs().max()),
        "targets_evaluated": len(evaluated),
        "targets_achieved": int((evaluated["status"] == "achieved").sum()) if len(evaluated)
        else 0,
        "binding_targets_missed": sorted({
            f"{r.target_id}@{r.phase}" for r in evaluated.itertuples()
            if r.status == "missed" and r.binding}) if len(evaluated) else [],
    }
    years = {str(y): {k: _clean(v) for k, v in row.items()} for y, row in
             yearly.to_dict(orient="index").items()}
    target_list = [{k: _clean(v) for k, v in r.items()} for r in targets.to_dict(orient="records")]
    return {
        "scenario": scenario.name,
        "factor_set": factor_set,
        "summary": {k: _clean(v) for k, v in summary.items()},
        "base_year": {"year": scenario.base_year, "energy_tce": base_ledger["energy_tce"],
                      "co2_t": base_ledger["co2_t"],
                      "energy_intensity_tce_per_10k_yuan":
                          base_indicators["energy_intensity_tce_per_10k_yuan"],
                      "co2_per_energy_t_per_tce": base_indicators["co2_per_energy_t_per_tce"]},
        "years": years,
        "targets": target_list,
    }
