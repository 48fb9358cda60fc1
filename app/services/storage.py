"""Storage station services: dispatch inputs (inline or stored), strategies, published plans.

Routers and scheduled jobs call these same functions. The maths lives in energy.storage.
Stored inputs: the park's (or the owner enterprise's) electricity meters give the load,
load = import + metered PV generation - export (the meters see the grid side of each site);
PV is metered ``pv_generation`` or the pvlib model of a given capacity on the typical Lhasa year.
Future horizons use the load and PV forecasts of app.services.forecast (energy.forecasting),
issued at min(start, now) from the readings before it and named in the plan's provenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.models import Enterprise, Meter, StorageAsset, StoragePlan
from app.models.storage import TELEMETRY_QUANTITIES
from app.problems import Problem, invalid
from app.repositories import storage as repo
from app.repositories.storage import add_capacity_test as add_capacity_test
from app.repositories.storage import current_plan as current_plan
from app.repositories.storage import get_asset as get_asset
from app.repositories.storage import latest_plan as latest_plan
from app.repositories.storage import list_assets as list_assets
from app.schemas.storage import DispatchIn, StorageIn
from app.services import registry
from app.services.jobs import once
from energy.balance import site_load
from energy.site import PARK_TZ, PARK_ZONE
from energy.storage import (
    BatterySpec,
    DispatchInfeasible,
    DispatchResult,
    DispatchSignals,
    default_station,
    optimize_dispatch,
    rolling_dispatch,
    rule_based_dispatch,
)
from energy.storage.safety import SafetyWindow, safety_window
from energy.tariffs import Tariff
from energy.units import KWH_PER_MWH, carrier_spec

TZ = PARK_ZONE
ORIGIN = pd.Timestamp("2000-01-01 00:00", tz=PARK_TZ)
PARK_OWNER = ("PARK-STORAGE", "园区储能电站运营（经开区平台）")
"""Owner enterprise of the telemetry meters of stations registered without an enterprise."""


# --- stations --------------------------------------------------------------------------------
def station_battery(asset: StorageAsset, overrides: dict[str, Any] | None = None) -> BatterySpec:
    """The station's BatterySpec (default station + stored fields + request overrides)."""
    return make_battery({**asset.battery, **(overrides or {})})


def make_battery(fields: dict[str, Any]) -> BatterySpec:
    known = set(BatterySpec.__dataclass_fields__)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise invalid("battery", f"unknown battery fields {unknown}; known: {sorted(known)}")
    try:
        return default_station().with_(**fields)
    except (TypeError, ValueError) as exc:
        raise invalid("battery", str(exc)) from None


def station_window(asset: StorageAsset, battery: BatterySpec | None = None) -> SafetyWindow:
    return safety_window(battery or station_battery(asset)).with_overrides(asset.safety)


def get_tariff(conn: Connection, name: str, field_name: str = "tariff") -> Tariff:
    """Tariff ``name`` from the registry (shipped or uploaded); never a file path."""
    return registry.tariff(conn, name, field_name)


def register_station(session: Session, body: StorageIn) -> StorageAsset:
    """Create a station and its three telemetry meters (power MW, SOC %, temperature degC)."""
    battery = make_battery(body.battery)
    get_tariff(session.connection(), body.tariff)
    bad = sorted(set(body.safety) - set(SafetyWindow.__dataclass_fields__))
    if bad:
        raise invalid("safety", f"unknown safety fields {bad}")
    if body.enterprise is not None:
        owner = repo.enterprise_by_code(session, body.enterprise)
        if owner is None:
            raise invalid("enterprise", f"no enterprise {body.enterprise!r}")
        enterprise_id: int | None = owner.id
    else:
        owner = repo.enterprise_by_code(session, PARK_OWNER[0])
        if owner is None:
            owner = Enterprise(code=PARK_OWNER[0], name=PARK_OWNER[1], zone=body.zone,
                               industry="energy storage")
            session.add(owner)
            session.flush()
        enterprise_id = None
    asset = StorageAsset(code=body.code, name=body.name, zone=body.zone,
                         enterprise_id=enterprise_id, battery=battery.to_dict(),
                         tariff=body.tariff, safety=dict(body.safety),
                         commissioned_on=body.commissioned_on)
    meters = {}
    for quantity, carrier in TELEMETRY_QUANTITIES.items():
        spec = carrier_spec(carrier)
        meters[quantity] = Meter(
            code=f"{body.code}-{quantity}", enterprise_id=owner.id, carrier=carrier,
            unit=spec.canonical_unit, canonical_unit=spec.canonical_unit, register="interval",
            interval_minutes=15, green_direct_supply=False, name=f"{body.name} {spec.label_zh}")
    return repo.create_asset(session, asset, meters)


def station_json(session: Session, asset: StorageAsset) -> dict[str, Any]:
    battery = station_battery(asset)
    return {
        "code": asset.code, "name": asset.name, "zone": asset.zone,
        "enterprise": repo.enterprise_code(session, asset.enterprise_id),
        "battery": battery.to_dict(), "tariff": asset.tariff,
        "safety_window": station_window(asset, battery).to_dict(),
        "commissioned_on": asset.commissioned_on,
        "telemetry_meters": {q: m.code for q, m in repo.telemetry_meters(session,
                                                                        asset.id).items()},
    }


# --- dispatch inputs -------------------------------------------------------------------------
@dataclass
class DispatchInputs:
    """Series of one dispatch on a tz-aware (Asia/Shanghai) index of interval starts."""

    index: pd.DatetimeIndex
    load_mw: pd.Series
    pv_mw: np.ndarray
    price_yuan_per_mwh: np.ndarray | None
    tariff: Tariff | None
    grid_tco2_per_mwh: np.ndarray | float | None
    temperature_c: np.ndarray | None
    provenance: dict[str, Any] = field(default_factory=dict)
    load_forecast_mw: np.ndarray | None = None
    pv_forecast_mw: np.ndarray | None = None
    """Forecasts the rolling strategy plans on (None: perfect foresight)."""


def _start(body: DispatchIn, now: datetime) -> pd.Timestamp:
    if body.start is None:
        today = now.astimezone(TZ).date()
        return pd.Timestamp(datetime.combine(today + timedelta(days=1), datetime.min.time()),
                            tz=TZ)
    if body.start.tzinfo is None:
        raise invalid("start", "start needs a UTC offset")
    start = pd.Timestamp(body.start).tz_convert(TZ)
    if (start - ORIGIN) % pd.Timedelta(minutes=body.step_minutes):
        raise invalid("start", f"start must lie on the {body.step_minutes}-minute grid")
    return start


def _check_steps(n: int, max_steps: int) -> None:
    if n > max_steps:
        raise Problem(413, f"The horizon has {n} steps; at most {max_steps} are allowed "
                      "(a year at 15 minutes). Split it.", kind="horizon-too-large")


def _series(values: list[float] | float | None, n: int, field_name: str
            ) -> np.ndarray | float | None:
    if values is None or isinstance(values, int | float):
        return values
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n,):
        raise invalid(field_name, f"{field_name} has {arr.size} values; load_mw has {n}")
    if not np.isfinite(arr).all():
        raise invalid(field_name, f"{field_name} holds non-finite values")
    return arr


def _prices(conn: Connection, body: DispatchIn, asset: StorageAsset, n: int
            ) -> tuple[np.ndarray | None, Tariff | None, dict[str, Any]]:
    price = _series(body.price_yuan_per_mwh, n, "price_yuan_per_mwh")
    if price is not None:
        return np.asarray(price), None, {"price": "inline"}
    tariff = get_tariff(conn, body.tariff or asset.tariff)
    return None, tariff, {"price": "tariff", "tariff": tariff.name, "tariff_version":
                          tariff.version}


def inline_inputs(conn: Connection, body: DispatchIn, asset: StorageAsset, now: datetime,
                  max_steps: int) -> DispatchInputs:
    """Inputs posed in the request (``load_mw`` and the other arrays of the same length)."""
    assert body.load_mw is not None
    n = len(body.load_mw)
    if n == 0:
        raise invalid("load_mw", "load_mw is empty")
    _check_steps(n, max_steps)
    load = _series(body.load_mw, n, "load_mw")
    start = _start(body, now)
    index = pd.date_range(start, periods=n, freq=f"{body.step_minutes}min")
    pv = _series(body.pv_mw, n, "pv_mw")
    price, tariff, prov = _prices(conn, body, asset, n)
    temps = _series(body.temperature_c, n, "temperature_c")
    return DispatchInputs(
        index=index, load_mw=pd.Series(np.asarray(load), index=index),
        pv_mw=np.zeros(n) if pv is None else np.asarray(pv), price_yuan_per_mwh=price,
        tariff=tariff, grid_tco2_per_mwh=_series(body.grid_tco2_per_mwh, n, "grid_tco2_per_mwh"),
        temperature_c=None if temps is None else np.asarray(temps),
        provenance={"source": "inline", **prov})


def _pv_model_mw(index: pd.DatetimeIndex, capacity_kwp: float, step_minutes: int) -> np.ndarray:
    """PV (MW, interval mean) of one south-facing roof array on the typical Lhasa year."""
    from energy.pv import PVArray, estimate_power_kw
    from energy.pv.arrays import default_ac_kw, pv_defaults
    from energy.site import lhasa_etdz
    from energy.weather import typical_year

    site = lhasa_etdz()
    freq = {15: "15min", 30: "30min", 60: "1h"}[step_minutes]
    years = sorted(set(index.year))
    weather = pd.concat([typical_year(site, y, freq) for y in years])
    weather = weather.reindex(index.tz_convert(site.tz))
    array = PVArray(code="model", capacity_kwp=capacity_kwp, ac_kw=default_ac_kw(capacity_kwp),
                    tilt_deg=float(pv_defaults()["rooftop"]["default_tilt_deg"]))
    kw = estimate_power_kw([array], weather, site)["model"].to_numpy()
    return kw / KWH_PER_MWH


def stored_inputs(conn: Connection, body: DispatchIn, asset: StorageAsset, now: datetime,
                  max_steps: int) -> DispatchInputs:
    """Inputs from stored meter series: actuals for past horizons, else forecasts."""
    start = _start(body, now)
    hours = body.horizon_hours or 24.0
    n_float = hours * 60 / body.step_minutes
    if abs(n_float - round(n_float)) > 1e-9:
        raise invalid("horizon_hours", "horizon_hours must be a whole number of steps")
    n = round(n_float)
    if n < 1:
        raise invalid("horizon_hours", "horizon_hours must hold at least one step")
    _check_steps(n, max_steps)
    index = pd.date_range(start, periods=n, freq=f"{body.step_minutes}min")
    end = index[-1] + pd.Timedelta(minutes=body.step_minutes)
    mode = body.forecast
    if mode == "auto":
        mode = "actual" if end <= pd.Timestamp(now) else "forecast"
    prov: dict[str, Any]
    if mode == "actual":
        load, pv_metered, meters, pv_missing = _stored_load_pv(conn, asset, index,
                                                               body.step_minutes)
        if load is None:
            raise invalid("load_mw", f"no stored electricity_import readings for {pv_missing}"
                          f" of {n} steps (actuals from {start.isoformat()}); upload them or "
                          "pose the load inline")
        read = {"read_from": start.isoformat(), "read_to": end.isoformat(), "meters": meters,
                "pv_missing_steps": pv_missing}
    else:
        load, pv_metered, read = _forecast_load_pv(conn, asset, index, start, now, body,
                                                   "model" if mode == "forecast" else mode)
    if body.pv_source == "metered":
        pv = pv_metered
    elif body.pv_source == "model":
        if body.pv_capacity_kwp is None:
            raise invalid("pv_capacity_kwp", "pv_source=model needs pv_capacity_kwp")
        pv = _pv_model_mw(index, body.pv_capacity_kwp, body.step_minutes)
    else:
        pv = np.zeros(n)
    price, tariff, prov = _prices(conn, body, asset, n)
    load_fc = pv_fc = None
    if body.strategy == "rolling" and mode == "actual":
        # Plan each window on the forecast issued at the start, realise on the actuals.
        try:
            load_fc, pv_fc, fc_read = _forecast_load_pv(conn, asset, index, start, start, body,
                                                        "model")
            prov["rolling_forecast"] = fc_read["load_forecast"]["method"]
            prov["rolling_forecast_provenance"] = fc_read
        except Problem as exc:
            prov["rolling_forecast"] = f"perfect foresight ({exc.detail})"
        if body.pv_source != "metered":
            pv_fc = pv
    return DispatchInputs(
        index=index, load_mw=pd.Series(load, index=index), pv_mw=pv, price_yuan_per_mwh=price,
        tariff=tariff,
        grid_tco2_per_mwh=_series(body.grid_tco2_per_mwh, n, "grid_tco2_per_mwh"),
        temperature_c=None if body.temperature_c is None
        else np.asarray(_series(body.temperature_c, n, "temperature_c")),
        provenance={
            "source": "stored", "forecast": mode, **read,
            "scope": "enterprise" if asset.enterprise_id is not None else "park",
            "load": "electricity_import + pv_generation - electricity_export",
            "pv": body.pv_source, "pv_capacity_kwp": body.pv_capacity_kwp, **prov,
        }, load_forecast_mw=load_fc, pv_forecast_mw=pv_fc)


def _forecast_load_pv(conn: Connection, asset: StorageAsset, index: pd.DatetimeIndex,
                      start: pd.Timestamp, now: datetime, body: DispatchIn, method: str
                      ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(load MW, PV MW, provenance) forecast by energy.forecasting (app.services.forecast) from
    the readings before min(start, now); 422 naming load_mw when there are too few."""
    from app.services import forecast as forecasts
    from energy.forecasting import InsufficientHistory

    origin = forecasts.origin_of(start, now, body.step_minutes)
    ids = None if asset.enterprise_id is None else [asset.enterprise_id]
    try:
        load_kwh, pv_kwh, prov = forecasts.scope_forecasts(
            conn, ids, index, origin, body.step_minutes, pv=body.pv_source == "metered",
            method=method)
    except InsufficientHistory as exc:
        raise invalid("load_mw", f"cannot forecast the load ({method}) from the readings "
                      f"before {origin.isoformat()}: {exc}; upload them or pose the load "
                      "inline") from None
    to_mw = KWH_PER_MWH * body.step_minutes / 60.0
    return load_kwh / to_mw, pv_kwh / to_mw, {
        **prov, "read_from": prov["history_from"], "read_to": origin.isoformat()}


def _stored_load_pv(conn: Connection, asset: StorageAsset, index: pd.DatetimeIndex,
                    step_minutes: int
                    ) -> tuple[np.ndarray | None, np.ndarray, dict[str, int], int]:
    """(load MW, metered PV MW, meters per carrier, PV steps missing) read on ``index``.
    Load = import + PV generation - export; ``None`` (and the count of steps missing in place
    of the PV count) when any step lacks import readings."""
    carriers = ["electricity_import", "electricity_export", "pv_generation"]
    start, end = index[0], index[-1] + pd.Timedelta(minutes=step_minutes)
    bins = repo.carrier_bins_kwh(conn, carriers, start.to_pydatetime(), end.to_pydatetime(),
                                 step_minutes, asset.enterprise_id)
    bins["bin"] = pd.to_datetime(bins["bin"], utc=True)
    wide = bins.pivot_table(index="bin", columns="carrier", values="kwh", aggfunc="sum")
    wide.index = pd.DatetimeIndex(wide.index).tz_convert(TZ)
    wide = wide.reindex(index)
    n = len(index)
    col = {c: wide[c].to_numpy(dtype=float) if c in wide else np.full(n, np.nan)
           for c in carriers}
    missing = np.isnan(col["electricity_import"])
    if missing.any():
        return None, np.zeros(n), {}, int(missing.sum())
    step_h = step_minutes / 60.0
    pv = np.nan_to_num(col["pv_generation"]) / KWH_PER_MWH / step_h
    load = site_load(col["electricity_import"], np.nan_to_num(col["pv_generation"]),
                     np.nan_to_num(col["electricity_export"])) / KWH_PER_MWH / step_h
    meters = bins.groupby("carrier")["meters"].max().astype(int).to_dict()
    return load, pv, meters, int(np.isnan(col["pv_generation"]).sum())


def build_inputs(conn: Connection, body: DispatchIn, asset: StorageAsset, now: datetime,
                 max_steps: int) -> DispatchInputs:
    if body.load_mw is not None:
        return inline_inputs(conn, body, asset, now, max_steps)
    return stored_inputs(conn, body, asset, now, max_steps)


# --- solving ---------------------------------------------------------------------------------
def solve(inputs: DispatchInputs, battery: BatterySpec, body: DispatchIn) -> DispatchResult:
    """Run the requested strategy of energy.storage on ``inputs``; infeasible -> 422 problem."""
    signals = DispatchSignals(
        inputs.load_mw, inputs.pv_mw,
        price_yuan_per_mwh=inputs.price_yuan_per_mwh, tariff=inputs.tariff,
        grid_tco2_per_mwh=inputs.grid_tco2_per_mwh,
        carbon_price_yuan_per_tco2=body.carbon_price_yuan_per_tco2,
        curtailment_penalty_yuan_per_mwh=body.curtailment_penalty_yuan_per_mwh,
        temperature_c=inputs.temperature_c, step_h=body.step_minutes / 60.0,
        export_price_yuan_per_mwh=_series(body.export_price_yuan_per_mwh, len(inputs.index),
                                          "export_price_yuan_per_mwh"),
        demand_charge_yuan_per_kw_month=body.demand_charge_yuan_per_kw_month,
    )
    try:
        if body.strategy == "optimal":
            return optimize_dispatch(signals, battery)
        if body.strategy == "rule":
            return rule_based_dispatch(signals, battery)
        steps_per_h = 60 / body.step_minutes
        window = max(1, round(body.rolling.window_hours * steps_per_h))
        commit = max(1, min(window, round(body.rolling.commit_hours * steps_per_h)))
        fc = {}
        if inputs.load_forecast_mw is not None:
            fc["load_forecast_mw"] = pd.Series(inputs.load_forecast_mw, index=inputs.index)
        if inputs.pv_forecast_mw is not None:
            fc["pv_forecast_mw"] = pd.Series(inputs.pv_forecast_mw, index=inputs.index)
        return rolling_dispatch(signals.with_(pv_mw=pd.Series(inputs.pv_mw, index=inputs.index)),
                                battery, window_steps=window, commit_steps=commit, **fc)
    except DispatchInfeasible as exc:
        raise Problem(422, f"No feasible schedule: {exc.reason}", kind="dispatch-infeasible",
                      reason=exc.reason) from None
    except ValueError as exc:
        raise Problem(422, str(exc), kind="validation") from None


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def local_iso(index: pd.DatetimeIndex) -> list[str]:
    """ISO 8601 interval starts in Asia/Shanghai (UTC+8 all year: no daylight saving since
    1991), formatted vectorised."""
    return index.tz_convert(TZ).strftime("%Y-%m-%dT%H:%M:%S+08:00").tolist()


def schedule_columns(result: DispatchResult, inputs: DispatchInputs) -> dict[str, list[Any]]:
    s = result.schedule
    cols: dict[str, list[Any]] = {"start": local_iso(s.index)}
    for c in s.columns:
        cols[c] = s[c].round(9).tolist()
    cols["load_mw"] = inputs.load_mw.round(9).tolist()
    cols["pv_mw"] = np.round(inputs.pv_mw, 9).tolist()
    return cols


def rows_of(cols: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(cols)
    return [dict(zip(keys, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


def dispatch_json(asset: StorageAsset, body: DispatchIn, inputs: DispatchInputs,
                  result: DispatchResult, battery: BatterySpec) -> dict[str, Any]:
    return {
        "asset": asset.code, "strategy": body.strategy, "start": inputs.index[0].isoformat(),
        "step_minutes": body.step_minutes, "objective": float(result.objective),
        "kpis": {k: _finite(v) for k, v in result.kpis.items()},
        "schedule": rows_of(schedule_columns(result, inputs)),
        "inputs": {**inputs.provenance, "battery": battery.to_dict()},
    }


def dispatch(conn: Connection, asset: StorageAsset, body: DispatchIn, now: datetime,
             max_steps: int) -> dict[str, Any]:
    """POST /v1/storage/{code}/dispatch."""
    battery = station_battery(asset, body.battery)
    inputs = build_inputs(conn, body, asset, now, max_steps)
    return dispatch_json(asset, body, inputs, solve(inputs, battery, body), battery)


# --- plans -----------------------------------------------------------------------------------
def publish_plan(session: Session, asset: StorageAsset, day: date, *, now: datetime,
                 max_steps: int, key_id: int | None = None, step_minutes: int = 15,
                 strategy: str = "optimal", forecast: str = "auto") -> StoragePlan:
    """Plan ``day`` (Asia/Shanghai, 00:00-24:00) on stored series and store it as current."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=TZ)
    grid = plan_grid_factor(day.year)
    body = DispatchIn(start=start, step_minutes=step_minutes, horizon_hours=24.0,
                      strategy=strategy, forecast=forecast,  # type: ignore[arg-type]
                      grid_tco2_per_mwh=grid["value"])
    battery = station_battery(asset)
    inputs = stored_inputs(session.connection(), body, asset, now, max_steps)
    inputs.provenance["grid_factor"] = grid
    result = solve(inputs, battery, body)
    plan = StoragePlan(
        asset_id=asset.id, day=day, start_ts=start, step_minutes=step_minutes, strategy=strategy,
        objective=float(result.objective),
        kpis={k: _finite(v) for k, v in result.kpis.items()},
        schedule=schedule_columns(result, inputs), inputs=inputs.provenance,
        battery=battery.to_dict(), created_by=key_id)
    return repo.add_plan(session, plan)


def plan_grid_factor(year: int) -> dict[str, Any]:
    """Grid CO2 factor of published plans (for the co2_t KPI): the national average of the newest
    carbon factor set (the MEE publishes no factor for Tibet; see carbon/data/factor_sets)."""
    from carbon import load_factor_set
    from carbon.factors import UnknownFactorError

    fs = load_factor_set()
    try:
        factor = fs.electricity_co2("national_average", year)
    except UnknownFactorError as exc:
        # A day before the first published grid factor: no plan's CO2 can be stated.
        raise invalid("day", str(exc), f"No grid CO2 factor for {year}: {exc}") from None
    return {"factor_set": fs.version, "key": factor.key, "value": factor.value,
            "unit": factor.unit}


def plan_json(session: Session, asset: StorageAsset, plan: StoragePlan) -> dict[str, Any]:
    return {
        "id": plan.id, "asset": asset.code, "day": plan.day, "strategy": plan.strategy,
        "start": plan.start_ts, "step_minutes": plan.step_minutes, "objective": plan.objective,
        "kpis": plan.kpis, "schedule": rows_of(plan.schedule),
        "inputs": {**plan.inputs, "battery": plan.battery}, "created_at": plan.created_at,
        "published_by": "scheduler" if plan.created_by is None else f"key {plan.created_by}",
    }


def current_plan_for(session: Session, asset: StorageAsset, day: date) -> StoragePlan:
    plan = repo.current_plan(session, asset.id, day)
    if plan is None:
        raise Problem(404, f"No plan published for {asset.code} on {day.isoformat()}.")
    return plan


def plan_schedule_frame(plan: StoragePlan) -> pd.DataFrame:
    cols = dict(plan.schedule)
    index = pd.DatetimeIndex(pd.to_datetime(cols.pop("start")))
    return pd.DataFrame(cols, index=index)


def tomorrow(now: datetime) -> date:
    return now.astimezone(TZ).date() + timedelta(days=1)


def plan_job(session: Session, now: datetime | None = None, max_steps: int = 35_136
             ) -> dict[str, str]:
    """Scheduled: publish tomorrow's plan of every station. Returns code -> plan id or reason.

    Once per station and day (``job_runs`` key ``storage_plan`` / ``<day> <code>``, claimed in
    the same savepoint as the plan): a second run, here or in another process, publishes
    nothing for a station planned already; a station that could not be planned is tried again.
    """
    now = now or datetime.now(UTC)
    day = tomorrow(now)
    out: dict[str, str] = {}
    for asset in repo.all_assets(session):
        def publish(asset: StorageAsset = asset) -> str:
            return str(publish_plan(session, asset, day, now=now, max_steps=max_steps).id)

        try:
            with session.begin_nested():
                plan_id = once(session, "storage_plan", f"{day.isoformat()} {asset.code}",
                               publish)
            out[asset.code] = plan_id if plan_id is not None else "published already"
        except (Problem, DomainError) as exc:
            out[asset.code] = f"not published: {exc.detail}"
    return out
