"""Rooftop PV: arrays, weather stations, estimates, rooftop potential, measured vs expected."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request

from app.auth import OperatorDep, Principal, PrincipalDep, SessionDep, WriterDep
from app.models import Enterprise, Meter, PvArray, Roof, WeatherStation
from app.models.pv import WEATHER_QUANTITIES
from app.params import Day, Instant
from app.problems import Problem, invalid
from app.schemas.core import OwnerQ
from app.schemas.pv import (
    ArrayIn,
    ArrayOut,
    EstimateOut,
    ParkEstimateOut,
    PerformanceDay,
    PerformanceOut,
    PotentialOut,
    PotentialRow,
    Resolution,
    RoofIn,
    RoofOut,
    WeatherKind,
    WeatherStationIn,
    WeatherStationOut,
    WeatherStationPatch,
)
from app.services import core as core_svc
from app.services import pv as svc
from energy.pv.arrays import default_ac_kw, pv_defaults

router = APIRouter(prefix="/v1/pv", tags=["pv"])

StartQ = Annotated[Instant, Query(description="ISO 8601 with offset; inclusive")]
EndQ = Annotated[Instant, Query(description="ISO 8601 with offset; exclusive")]


def _owner(session: SessionDep, principal: Principal, code: str | None) -> Enterprise:
    code = code or principal.enterprise_code
    if code is None:
        raise invalid("enterprise", "required", "Say which enterprise it belongs to.")
    return core_svc.get_enterprise(session, principal, code)


# ---------------------------------------------------------------------------------------------
# Weather stations

def station_out(session: SessionDep, s: WeatherStation,
                principal: Principal | None = None) -> WeatherStationOut:
    """A station; another enterprise's view of a shared station names neither owner nor meters."""
    if (principal is not None and principal.role == "enterprise"
            and principal.enterprise_id != s.enterprise_id):
        return WeatherStationOut(code=s.code, name=s.name, enterprise=None, shared=s.shared,
                                 meters={})
    meters = {q: session.get(Meter, i) for q, i in s.meter_ids().items()}
    return WeatherStationOut(code=s.code, name=s.name, enterprise=s.enterprise.code,
                             shared=s.shared,
                             meters={q: m.code for q, m in meters.items() if m is not None})


@router.post("/weather-stations", status_code=201, response_model=WeatherStationOut)
def create_station(body: WeatherStationIn, session: SessionDep,
                   principal: OperatorDep) -> WeatherStationOut:
    """Register a station whose quantities are meters of the weather carriers (ghi, temp_air
    required; wind_speed, dni, dhi optional), all of one enterprise. ``shared``: every key may
    list it and every array use it; otherwise (default) only that enterprise sees and uses it.
    Upload its data through ``POST /v1/readings`` like any meter."""
    ids: dict[str, int] = {}
    owner: int | None = None
    if body.enterprise is not None:
        owner = core_svc.get_enterprise(session, principal, body.enterprise).id
    for quantity in WEATHER_QUANTITIES:
        code = getattr(body, f"{quantity}_meter")
        if code is None:
            continue
        field = f"{quantity}_meter"
        candidates = core_svc.meters_with_code(session, code, owner)
        if len(candidates) > 1:
            raise invalid(field, "several enterprises have this meter code; say which with "
                                  "'enterprise'")
        meter = candidates[0] if candidates else None
        if meter is None:
            raise invalid(field, "unknown meter", f"No meter {code!r}.")
        if meter.carrier != quantity:
            raise invalid(field, f"carrier is {meter.carrier!r}, not {quantity!r}")
        if owner is not None and meter.enterprise_id != owner:
            raise invalid(field, "meters of one station belong to one enterprise")
        owner = meter.enterprise_id
        ids[f"{quantity}_meter_id"] = meter.id
    assert owner is not None
    station = WeatherStation(code=body.code, name=body.name, enterprise_id=owner,
                             shared=body.shared, **ids)
    return station_out(session, svc.create_station(session, station))


@router.patch("/weather-stations/{code}", response_model=WeatherStationOut)
def update_station(code: str, body: WeatherStationPatch, session: SessionDep,
                   _: OperatorDep) -> WeatherStationOut:
    """Share a station with the whole park, or make it private to its enterprise again (arrays
    of other enterprises attached to it then fall back to the park's first shared station)."""
    station = svc.station_by_code(session, code)
    if station is None:
        raise Problem(404, f"No weather station {code!r}.")
    station.shared = body.shared
    session.flush()
    return station_out(session, station)


@router.get("/weather-stations", response_model=list[WeatherStationOut])
def list_stations(session: SessionDep, principal: PrincipalDep) -> list[WeatherStationOut]:
    """Shared stations and (an enterprise key) its own private ones; operators see all."""
    return [station_out(session, s, principal) for s in svc.list_stations(session, principal)]


# ---------------------------------------------------------------------------------------------
# Arrays

def array_out(a: PvArray) -> ArrayOut:
    lib = svc.library_array(a)
    return ArrayOut(
        code=a.code, enterprise=a.enterprise.code, zone=a.enterprise.zone, name=a.name,
        capacity_kwp=a.capacity_kwp, ac_kw=a.ac_kw, tilt_deg=a.tilt_deg,
        azimuth_deg=a.azimuth_deg, mounting=a.mounting, losses_pct=dict(lib.losses_pct),
        total_loss_pct=lib.total_loss_pct(), gamma_pdc_per_c=a.gamma_pdc_per_c,
        degradation_pct_per_year=a.degradation_pct_per_year, install_year=a.install_year,
        meter=a.meter.code if a.meter else None,
        weather_station=a.weather_station.code if a.weather_station else None)


@router.post("/arrays", status_code=201, response_model=ArrayOut)
def create_array(body: ArrayIn, session: SessionDep, principal: WriterDep) -> ArrayOut:
    """Register an array on an enterprise's roof (an enterprise key: its own roofs only)."""
    ent = _owner(session, principal, body.enterprise)
    allowed = set(pv_defaults()["losses_pct"])
    for name, value in body.losses_pct.items():
        if name not in allowed:
            raise invalid(f"losses_pct.{name}", f"unknown loss; one of {sorted(allowed)}")
        if not 0.0 <= value <= 100.0:
            raise invalid(f"losses_pct.{name}", "must be within 0..100 %")
    meter_id = None
    if body.meter is not None:
        meter = next(iter(core_svc.meters_with_code(session, body.meter, ent.id)), None)
        if meter is None:
            raise invalid("meter", "no such meter of this enterprise")
        if meter.carrier != "pv_generation":
            raise invalid("meter", f"carrier is {meter.carrier!r}, not 'pv_generation'")
        meter_id = meter.id
    station_id = (svc.get_station(session, body.weather_station, ent.id).id
                  if body.weather_station is not None else None)
    d = pv_defaults()
    row = PvArray(
        code=body.code, enterprise_id=ent.id, name=body.name, capacity_kwp=body.capacity_kwp,
        ac_kw=body.ac_kw or default_ac_kw(body.capacity_kwp), tilt_deg=body.tilt_deg,
        azimuth_deg=body.azimuth_deg, mounting=body.mounting, losses_pct=body.losses_pct,
        gamma_pdc_per_c=(body.gamma_pdc_per_c if body.gamma_pdc_per_c is not None
                         else float(d["gamma_pdc_per_c"])),
        degradation_pct_per_year=(body.degradation_pct_per_year
                                  if body.degradation_pct_per_year is not None
                                  else float(d["degradation_pct_per_year"])),
        install_year=body.install_year, meter_id=meter_id, weather_station_id=station_id)
    return array_out(svc.create_array(session, row))


@router.get("/arrays", response_model=list[ArrayOut])
def list_arrays(session: SessionDep, principal: PrincipalDep,
                enterprise: str | None = None) -> list[ArrayOut]:
    ent_id = core_svc.get_enterprise(session, principal, enterprise).id if enterprise else None
    return [array_out(a) for a in svc.list_arrays(session, principal, ent_id)]


@router.get("/arrays/{code}", response_model=ArrayOut)
def get_array(code: str, session: SessionDep, principal: PrincipalDep,
              enterprise: OwnerQ = None) -> ArrayOut:
    return array_out(svc.get_array(session, principal, code, enterprise))


def _estimate_array(session: SessionDep, principal: Principal, code: str, start: datetime,
                    end: datetime, resolution: str, weather: str,
                    enterprise: str | None = None) -> EstimateOut:
    row = svc.get_array(session, principal, code, enterprise)
    a, b = svc.check_window(start, end, resolution)
    station = svc.station_for(session, row) if weather == "measured" else None
    w = svc.load_weather(session, weather, a, b, resolution, station)
    energy = svc.estimate([svc.library_array(row)], w, a, b, resolution)[row.code]
    annual: dict[str, float | int] = {}
    if weather == "typical":
        year = a.tz_convert(svc.site().tz).year
        p50, p90 = svc.annual_p50_p90(svc.library_array(row), year)
        annual = {"annual_year": year, "annual_p50_kwh": p50, "annual_p90_kwh": p90}
    return EstimateOut(array=row.code, resolution=resolution, weather=weather,
                       capacity_kwp=row.capacity_kwp, total=float(energy.sum()),
                       weather_station=w.station, weather_intervals_missing=w.missing_intervals,
                       points=svc.estimate_points(energy), **annual)


@router.get("/arrays/{code}/estimate", response_model=EstimateOut)
def estimate_array(
    code: str, session: SessionDep, principal: PrincipalDep, start: StartQ, end: EndQ,
    resolution: Resolution = "hour", weather: WeatherKind = "clearsky",
    enterprise: OwnerQ = None,
) -> EstimateOut:
    """Expected AC energy of one array, kWh per step, buckets in Asia/Shanghai labelled by their
    start; ``weather``: clearsky (Ineichen ceiling), typical (typical Lhasa year) or measured
    (the array's weather station, else the park's first)."""
    return _estimate_array(session, principal, code, start, end, resolution, weather,
                           enterprise)


@router.get("/estimate", response_model=ParkEstimateOut)
def estimate_park(
    session: SessionDep, principal: PrincipalDep, start: StartQ, end: EndQ,
    by: Literal["zone"] = "zone", resolution: Resolution = "day",
    weather: WeatherKind = "clearsky",
) -> ParkEstimateOut:
    """Expected AC energy of every array the caller may see, summed by zone (kWh per step)."""
    return svc.park_estimate(session, principal, start, end, resolution, weather)


# ---------------------------------------------------------------------------------------------
# Roofs and rooftop potential

def roof_out(r: Roof) -> RoofOut:
    return RoofOut(id=r.id, enterprise=r.enterprise.code, zone=r.enterprise.zone, name=r.name,
                   roof_area_m2=r.roof_area_m2, usable_share=r.usable_share, tilt_deg=r.tilt_deg,
                   azimuth_deg=r.azimuth_deg)


@router.post("/roofs", status_code=201, response_model=RoofOut)
def create_roof(body: RoofIn, session: SessionDep, principal: WriterDep) -> RoofOut:
    ent = _owner(session, principal, body.enterprise)
    roof = Roof(enterprise_id=ent.id, name=body.name, roof_area_m2=body.roof_area_m2,
                usable_share=body.usable_share, tilt_deg=body.tilt_deg,
                azimuth_deg=body.azimuth_deg)
    return roof_out(svc.create_roof(session, roof))


@router.get("/roofs", response_model=list[RoofOut])
def list_roofs(session: SessionDep, principal: PrincipalDep,
               enterprise: str | None = None) -> list[RoofOut]:
    ent_id = core_svc.get_enterprise(session, principal, enterprise).id if enterprise else None
    return [roof_out(r) for r in svc.list_roofs(session, principal, ent_id)]


@router.get("/potential", response_model=PotentialOut)
def rooftop_potential(
    session: SessionDep, principal: PrincipalDep,
    by: Literal["enterprise", "zone"] = "enterprise",
    year: Annotated[int, Query(ge=2000, le=2100)] = 2026,
) -> PotentialOut:
    """Installable kWp (usable roof × packing density) and AC yield on the typical Lhasa year,
    per enterprise or zone, for the phase-1 "every usable roof" plan."""
    rows, total = svc.potential(svc.list_roofs(session, principal), by, year)
    return PotentialOut(by=by, year=year, packing_kwp_per_m2=svc.packing_kwp_per_m2(),
                        rows=[PotentialRow(**r) for r in rows], total=PotentialRow(**total))


# ---------------------------------------------------------------------------------------------
# Measured against expected

def _performance(session: SessionDep, principal: Principal, code: str, start: datetime,
                 end: datetime, weather: str, share: float | None,
                 enterprise: str | None = None) -> PerformanceOut:
    row = svc.get_array(session, principal, code, enterprise)
    a, b = svc.check_window(start, end, "day")
    daily, _alerts = svc.array_performance(session, row, a, b, weather, share)

    def num(x: object) -> float | None:
        return None if pd.isna(x) else float(x)  # type: ignore[arg-type]

    days = [PerformanceDay(day=t.date(), expected_kwh=float(r["expected_kwh"]),
                           measured_kwh=num(r["measured_kwh"]), pr=num(r["pr"]),
                           clear_day=None if r["clear_day"] is None else bool(r["clear_day"]),
                           complete=bool(r["complete"]))
            for t, r in daily.iterrows()]
    return PerformanceOut(array=row.code, meter=row.meter.code if row.meter else "",
                          weather=weather, alert_share_of_expected=svc.alert_share(share),
                          days=days)


@router.get("/arrays/{code}/performance", response_model=PerformanceOut,
            responses={409: {"description": "The array has no generation meter"}})
def array_performance(
    code: str, request: Request, session: SessionDep, principal: PrincipalDep, start: StartQ,
    end: EndQ, weather: WeatherKind = "measured", enterprise: OwnerQ = None,
) -> PerformanceOut:
    """Daily performance ratio (measured / expected AC energy) of an array with a generation meter,
    per Asia/Shanghai day of [start, end) (local midnights). ``clear_day`` and alerts need
    measured weather; ``complete`` is false when meter or weather intervals are missing."""
    share = request.app.state.settings.pv_alert_share_of_expected
    return _performance(session, principal, code, start, end, weather, share, enterprise)


@router.post("/performance/check")
def run_performance_check(
    request: Request, session: SessionDep, _: OperatorDep,
    first_day: Annotated[Day, Query(description="first Asia/Shanghai day checked")],
    last_day: Annotated[Day | None, Query(description="last day checked; default first_day")]
    = None,
) -> dict[str, int]:
    """Run the daily underperformance check now (the scheduled job's function) for local days
    first_day..last_day: alerts of kind ``pv_underperformance``."""
    last = last_day or first_day
    if last < first_day or (last - first_day).days > 366:
        raise invalid("last_day", "must be within 366 days after first_day")
    share = request.app.state.settings.pv_alert_share_of_expected
    return svc.check_performance(session, first_day, last, share)
