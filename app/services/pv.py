"""PV service: stored arrays → the energy.pv library; weather from the three sources; estimates,
rooftop potential, daily performance ratio and the underperformance check (API and daily job).

Weather sources (``weather=``):
- ``clearsky``: Ineichen at the site pressure (``energy.weather.clearsky_weather``);
- ``typical``: the typical Lhasa year laid on the requested calendar years
  (``energy.weather.typical_year``);
- ``measured``: the readings of the array's weather station (else the park's first station),
  uploaded through ``POST /v1/readings`` like any meter, turned into a weather frame by
  ``energy.weather.measured_weather`` (DNI/DHI decomposed with DIRINT at the site pressure when
  the station lacks them). Intervals without GHI or air temperature are left out (reported as
  ``weather_intervals_missing``); an optional quantity with holes is dropped as a whole (wind →
  Lhasa normals, DNI/DHI → decomposition).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.auth import Principal
from app.errors import DomainError
from app.models import Meter, PvArray, Roof, WeatherStation
from app.problems import Problem, invalid
from app.repositories import pv as repo
from app.repositories.pv import create_array as create_array
from app.repositories.pv import create_roof as create_roof
from app.repositories.pv import create_station as create_station
from app.repositories.pv import get_array as get_array
from app.repositories.pv import get_station as get_station
from app.repositories.pv import list_arrays as list_arrays
from app.repositories.pv import list_roofs as list_roofs
from app.repositories.pv import list_stations as list_stations
from app.repositories.pv import station_by_code as station_by_code
from app.schemas.pv import EstimatePoint, ParkEstimateOut, ZoneEstimate
from app.services.jobs import once
from energy.pv import PVArray, estimate_energy_kwh, estimate_power_kw, p50_p90
from energy.pv.arrays import pv_defaults
from energy.pv.performance import clear_days, daily_performance, underperformance_alerts
from energy.pv.rooftop import rooftop_potential
from energy.site import Site, lhasa_etdz
from energy.weather import clearsky_weather, measured_weather, typical_year

RULES: dict[str, str] = {"15min": "15min", "hour": "1h", "day": "1D", "month": "MS"}
MAX_WINDOW_DAYS = 732
"""Longest estimate window (two years and a leap day): bounds the work of one request."""
MEASURED_COLUMNS: dict[str, str] = {
    "ghi": "ghi_w_per_m2", "temp_air": "temp_air_c", "wind_speed": "wind_speed_m_per_s",
    "dni": "dni_w_per_m2", "dhi": "dhi_w_per_m2",
}


def site() -> Site:
    return lhasa_etdz()


def library_array(row: PvArray) -> PVArray:
    """The energy.pv array of a stored one (zone = its enterprise's zone)."""
    return PVArray(
        code=row.code, capacity_kwp=row.capacity_kwp, ac_kw=row.ac_kw, tilt_deg=row.tilt_deg,
        azimuth_deg=row.azimuth_deg, mounting=row.mounting,  # type: ignore[arg-type]
        enterprise=row.enterprise.code, gamma_pdc_per_c=row.gamma_pdc_per_c,
        losses_pct={k: float(v) for k, v in (row.losses_pct or {}).items()},
        degradation_pct_per_year=row.degradation_pct_per_year, install_year=row.install_year,
        meter_code=row.meter.code if row.meter else None, zone=row.enterprise.zone)


def check_window(start: datetime, end: datetime, resolution: str) -> tuple[pd.Timestamp,
                                                                            pd.Timestamp]:
    """Validate [start, end): offsets given, ordered, on the resolution's Asia/Shanghai grid
    (15 min, hour, local midnight, first of a month), at most :data:`MAX_WINDOW_DAYS`."""
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise invalid(name, "naive timestamp", f"{name} needs a UTC offset.")
    a = pd.Timestamp(start).tz_convert(site().tz)
    b = pd.Timestamp(end).tz_convert(site().tz)
    if b <= a:
        raise invalid("end", "not after start", "end must be after start.")
    if b - a > pd.Timedelta(days=MAX_WINDOW_DAYS):
        raise invalid("end", f"window longer than {MAX_WINDOW_DAYS} days")
    for name, t in (("start", a), ("end", b)):
        if resolution == "month":
            aligned = t == t.normalize() and t.day == 1
        elif resolution == "day":
            aligned = t == t.normalize()
        else:
            aligned = t == t.floor(RULES[resolution])
        if not aligned:
            raise invalid(name, f"not on a {resolution} boundary (Asia/Shanghai)")
    return a, b


@dataclass
class Weather:
    frame: pd.DataFrame
    kind: str
    step: pd.Timedelta
    station: str | None = None
    missing_intervals: int = 0
    _clear: pd.Series | None = None

    def clear_days(self) -> pd.Series:
        """``energy.pv.performance.clear_days`` of this weather (computed once)."""
        if self._clear is None:
            self._clear = clear_days(self.frame, site(), tz=site().tz)
        return self._clear


def station_for(session: Session, array: PvArray) -> WeatherStation | None:
    """The array's station if it may use it (shared, or of the array's enterprise), else the
    park's first shared station: an array never reads another enterprise's private weather."""
    st = array.weather_station
    if st is not None and (st.shared or st.enterprise_id == array.enterprise_id):
        return st
    return repo.default_station(session)


def load_weather(session: Session, kind: str, a: pd.Timestamp, b: pd.Timestamp, resolution: str,
                 station: WeatherStation | None = None) -> Weather:
    """The weather frame of source ``kind`` for intervals in [a, b)."""
    s = site()
    freq = "15min" if resolution == "15min" else "1h"
    if kind == "clearsky":
        return Weather(clearsky_weather(s, a, b, freq), kind, pd.Timedelta(freq))
    if kind == "typical":
        years = range(a.year, (b - pd.Timedelta("1ns")).year + 1)
        frame = pd.concat([typical_year(s, y, freq) for y in years])
        return Weather(frame[(frame.index >= a) & (frame.index < b)], kind, pd.Timedelta(freq))
    if station is None:
        raise invalid("weather", "no weather station",
                       "Measured weather needs a weather station (none is registered).")
    raw = repo.readings_frame(session.connection(), station.meter_ids(), a.to_pydatetime(),
                              b.to_pydatetime())
    interval = pd.Timedelta(minutes=int(_station_interval_minutes(session, station)))
    expected_n = int((b - a) / interval)
    raw = raw.dropna(subset=["ghi", "temp_air"]) if not raw.empty else raw
    if raw.empty:
        raise invalid("weather", "no measured weather in the window",
                       f"Station {station.code!r} has no readings in [{a}, {b}).")
    complete = [c for c in raw.columns if not raw[c].isna().any()]
    measured = raw[complete].rename(columns=MEASURED_COLUMNS)
    measured.index = measured.index.tz_convert(s.tz)
    frame = measured_weather(measured, s)
    return Weather(frame, kind, interval, station.code, expected_n - len(frame))


def _station_interval_minutes(session: Session, station: WeatherStation) -> int:
    meter = session.get(Meter, station.ghi_meter_id)
    return meter.interval_minutes if meter else 15


def estimate(arrays: Sequence[PVArray], weather: Weather, a: pd.Timestamp, b: pd.Timestamp,
             resolution: str) -> pd.DataFrame:
    """kWh per bucket of ``resolution`` (Asia/Shanghai, labelled by start) for every bucket of
    [a, b), one column per array; buckets without weather are 0 (see missing intervals)."""
    buckets = pd.date_range(a, b, freq=RULES[resolution], inclusive="left")
    if weather.frame.empty:
        return pd.DataFrame(0.0, index=buckets, columns=[x.code for x in arrays])
    try:
        energy = estimate_energy_kwh(arrays, weather.frame, site(), resolution=resolution,  # type: ignore[arg-type]
                                     tz=site().tz)
    except ValueError as exc:
        raise invalid("resolution", str(exc)) from None
    return energy.reindex(buckets, fill_value=0.0)


def annual_p50_p90(array: PVArray, year: int) -> tuple[float, float]:
    """(P50, P90) AC kWh of ``array`` over the typical year laid on ``year``: the typical year is
    the P50; P90 from the inter-annual variability of GHI (energy.pv.uncertainty)."""
    w = typical_year(site(), year, "1h")
    kwh = float(estimate_power_kw([array], w, site(), year=year)[array.code].sum())  # 1-h steps
    return p50_p90(kwh)


# ---------------------------------------------------------------------------------------------
# Rooftop potential

def potential(roofs: Sequence[Roof], by: str, year: int) -> tuple[list[dict[str, object]],
                                                                  dict[str, object]]:
    """Installable kWp and typical-year yield per enterprise or zone; and the park total."""
    keys = ("roofs", "roof_area_m2", "installable_kwp", "ac_kw", "annual_yield_kwh")
    frame = pd.DataFrame({
        "code": [str(r.id) for r in roofs],
        "enterprise": [r.enterprise.code for r in roofs],
        "zone": [r.enterprise.zone for r in roofs],
        "roof_area_m2": [r.roof_area_m2 for r in roofs],
        "usable_share": [np.nan if r.usable_share is None else r.usable_share for r in roofs],
        "tilt_deg": [np.nan if r.tilt_deg is None else r.tilt_deg for r in roofs],
        "azimuth_deg": [np.nan if r.azimuth_deg is None else r.azimuth_deg for r in roofs],
    })
    per_roof = frame[["code", "enterprise", "zone", "roof_area_m2"]].assign(
        roofs=1, installable_kwp=0.0, ac_kw=0.0, annual_yield_kwh=0.0).set_index("code")
    if len(frame):
        pot = rooftop_potential(frame, site(), year=year).set_index("code")
        cols = ["installable_kwp", "ac_kw", "annual_yield_kwh"]
        per_roof.loc[pot.index, cols] = pot[cols]
    grouped = per_roof.groupby(by)[list(keys)].sum()

    def row(values: pd.Series) -> dict[str, object]:
        out: dict[str, object] = {k: float(values[k]) for k in keys}
        out["roofs"] = int(values["roofs"])
        kwp = float(values["installable_kwp"])
        out["specific_yield_kwh_per_kwp"] = float(values["annual_yield_kwh"]) / kwp if kwp else 0.0
        out["p50_kwh"], out["p90_kwh"] = p50_p90(float(values["annual_yield_kwh"]))
        return out

    rows = [{by: k, **row(v)} for k, v in grouped.iterrows()]
    return rows, row(per_roof[list(keys)].sum())


def packing_kwp_per_m2() -> float:
    return float(pv_defaults()["rooftop"]["packing_kwp_per_m2"])


# ---------------------------------------------------------------------------------------------
# Measured against expected

def alert_share(share: float | None) -> float:
    """The configured share of expected below which a clear day raises an alert."""
    if share is not None:
        return float(share)
    return float(pv_defaults()["performance"]["alert_share_of_expected"])


def array_performance(session: Session, row: PvArray, a: pd.Timestamp, b: pd.Timestamp,
                      kind: str = "measured", share: float | None = None,
                      weather: Weather | None = None
                      ) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """Per Asia/Shanghai day of [a, b): expected_kwh, measured_kwh, pr (measured / expected),
    clear_day (measured weather only), complete (every meter and weather interval present);
    and the underperformance alerts of complete clear days (``energy.pv.performance``).
    ``weather``: already loaded for [a, b) (the job shares one station's weather)."""
    if row.meter is None:
        raise Problem(409, f"PV array {row.code!r} has no generation meter.", kind="no-meter")
    lib = library_array(row)
    if weather is None:
        weather = load_weather(session, kind, a, b, "hour", station_for(session, row))
    days = pd.date_range(a, b, freq="1D", inclusive="left")
    expected_step = estimate_energy_kwh([lib], weather.frame, site(), resolution="hour",
                                        tz=site().tz)[lib.code]
    measured = repo.readings_frame(session.connection(), {"kwh": row.meter.id},
                                   a.to_pydatetime(), b.to_pydatetime())
    measured_kwh = (measured["kwh"].dropna() if len(measured)
                    else pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC")))
    daily = daily_performance(expected_step, measured_kwh, tz=site().tz).reindex(days)
    daily["expected_kwh"] = expected_step.resample("1D").sum().reindex(days, fill_value=0.0)
    n_meter = measured_kwh.tz_convert(site().tz).resample("1D").count().reindex(days, fill_value=0)
    n_weather = pd.Series(1, index=weather.frame.index).tz_convert(site().tz).resample(
        "1D").count().reindex(days, fill_value=0)
    daily["complete"] = ((n_meter.to_numpy() == 1440 // row.meter.interval_minutes)
                         & (n_weather.to_numpy() == int(pd.Timedelta("1D") / weather.step)))
    clear = (weather.clear_days().reindex(days, fill_value=False)
             if kind == "measured" else pd.Series(False, index=days))
    daily["clear_day"] = clear.to_numpy() if kind == "measured" else None
    judged = daily[daily["complete"] & daily["measured_kwh"].notna()]
    found = underperformance_alerts(lib, judged[["expected_kwh", "measured_kwh", "pr"]],
                                    clear, alert_share(share)) if kind == "measured" else []
    alerts = []
    for al in found:
        day_start = pd.Timestamp(al.day).tz_localize(site().tz)
        alerts.append({
            "meter_id": row.meter.id, "enterprise_id": row.enterprise_id,
            "period_start": day_start.to_pydatetime(),
            "period_end": (day_start + pd.Timedelta("1D")).to_pydatetime(),
            "message": (f"PV array {row.code}: {al.measured_kwh:.1f} kWh measured vs "
                        f"{al.expected_kwh:.1f} kWh expected on {al.day} (PR {al.pr:.2f}); "
                        f"{al.reason}"),
        })
    return daily, alerts


def check_performance(session: Session, first_day: date, last_day: date,
                      share: float | None = None) -> dict[str, int]:
    """Judge every metered array on the local days first_day..last_day (inclusive) against
    measured weather and open ``pv_underperformance`` alerts. Arrays without measured weather
    or meter readings in the window are counted as skipped."""
    tz = site().tz
    a = pd.Timestamp(first_day).tz_localize(tz)
    b = pd.Timestamp(last_day + timedelta(days=1)).tz_localize(tz)
    checked = skipped = opened = 0
    weather: dict[int, Weather | None] = {}
    for row in repo.all_metered_arrays(session):
        station = station_for(session, row)
        if station is None:
            skipped += 1
            continue
        if station.id not in weather:
            try:
                weather[station.id] = load_weather(session, "measured", a, b, "hour", station)
            except (Problem, DomainError):
                weather[station.id] = None
        if weather[station.id] is None:
            skipped += 1
            continue
        try:
            _daily, alerts = array_performance(session, row, a, b, "measured", share,
                                               weather[station.id])
        except (Problem, DomainError):
            skipped += 1
            continue
        checked += 1
        opened += repo.open_underperformance_alerts(session, alerts)
    return {"checked": checked, "skipped": skipped, "opened": opened}


def performance_job(engine: Engine, share: float | None = None) -> dict[str, int]:
    """The daily job: yesterday (Asia/Shanghai) for every metered array. Once per day
    (``job_runs`` key ``pv_performance`` / the day): a repeated run checks nothing and says
    ``ran_already``."""
    yesterday = (pd.Timestamp.now(tz=site().tz).normalize() - pd.Timedelta("1D")).date()
    with Session(engine) as session, session.begin():
        done = once(session, "pv_performance", yesterday.isoformat(),
                    lambda: check_performance(session, yesterday, yesterday, share))
    return done if done is not None else {"checked": 0, "skipped": 0, "opened": 0,
                                          "ran_already": 1}


def estimate_points(series: pd.Series) -> list[EstimatePoint]:
    """An energy series (kWh per bucket) as API points."""
    return [EstimatePoint(start=t.to_pydatetime(), value=float(v)) for t, v in series.items()]


def park_estimate(session: Session, principal: Principal, start: datetime, end: datetime,
                  resolution: str, weather: str, *, metered_only: bool = False
                  ) -> ParkEstimateOut:
    """Expected AC energy (kWh per bucket) of every array ``principal`` may see (with
    ``metered_only``: every such array that has a generation meter), by zone.

    Arrays sharing a weather station are computed together on that station's weather.
    """
    a, b = check_window(start, end, resolution)
    rows = [r for r in repo.list_arrays(session, principal)
            if not metered_only or r.meter_id is not None]
    by_station: dict[int | None, tuple[WeatherStation | None, list[PvArray]]] = {}
    for r in rows:
        st = station_for(session, r) if weather == "measured" else None
        by_station.setdefault(st.id if st else None, (st, []))[1].append(r)
    # keyed by row id: array codes are unique per enterprise only
    parts = [estimate([dataclasses.replace(library_array(r), code=str(r.id)) for r in members],
                      load_weather(session, weather, a, b, resolution, st), a, b, resolution)
             for st, members in by_station.values()]
    zones = []
    if parts:
        energy = pd.concat(parts, axis=1)
        zone_of = {str(r.id): r.enterprise.zone for r in rows}
        capacity = {str(r.id): r.capacity_kwp for r in rows}
        for zone, cols in energy.columns.to_series().groupby(energy.columns.map(zone_of)):
            series = energy[list(cols)].sum(axis=1)
            zones.append(ZoneEstimate(
                zone=str(zone), arrays=len(cols), total=float(series.sum()),
                capacity_kwp=sum(capacity[c] for c in cols), points=estimate_points(series)))
    return ParkEstimateOut(by="zone", resolution=resolution, weather=weather, zones=zones)
