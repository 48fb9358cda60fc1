"""Demo PV park: one weather station, rooftop arrays in every zone with generation meters, roofs.

Readings go through the same ingest path as uploads. The station sends the typical Lhasa year
(GHI, air temperature, wind, 15 min); each generation meter sends the model's estimate on that
measured weather × a realistic factor (a day-to-day performance of 94–98 % and 2 % interval
noise). ND-MATL's roof (a building-materials plant: cement dust) soils from mid-October, so the
performance check opens ``pv_underperformance`` alerts on its clear days from late November.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import select

from app.models import Enterprise, Meter, PvArray, Roof, WeatherStation
from app.services.pv import check_performance
from energy.pv import PVArray, estimate_energy_kwh
from energy.pv.arrays import default_ac_kw, pv_defaults
from energy.site import lhasa_etdz
from energy.units import carrier_spec
from energy.weather import measured_weather, typical_year

if TYPE_CHECKING:
    from app.demo import DemoContext

OPS = ("PARK-OPS", "园区能碳运营中心", "A区", "park services")
STATION = "LHASA-ETDZ-WS1"
# array code, enterprise, kWp, tilt, azimuth (180 = south), mounting
ARRAYS: list[tuple[str, str, float, float, float, str]] = [
    ("PV-QZ-WATER-1", "QZ-WATER", 420.0, 10.0, 180.0, "roof_flush"),
    ("PV-LS-PHARMA-1", "LS-PHARMA", 260.0, 15.0, 165.0, "roof_flush"),
    ("PV-XZ-DATA-1", "XZ-DATA", 1200.0, 25.0, 180.0, "open_rack"),
    ("PV-GY-BEER-1", "GY-BEER", 540.0, 10.0, 200.0, "roof_flush"),
    ("PV-BS-LOGI-1", "BS-LOGI", 900.0, 5.0, 180.0, "roof_flush"),
    ("PV-BS-ELEC-2", "BS-ELEC", 380.0, 20.0, 190.0, "open_rack"),
    ("PV-ND-MATL-1", "ND-MATL", 1500.0, 10.0, 180.0, "roof_flush"),
    ("PV-ND-METAL-1", "ND-METAL", 650.0, 15.0, 175.0, "roof_flush"),
]
SOILED = "PV-ND-MATL-1"
SOILING_FROM, SOILING_TO = "2026-10-15", "2027-01-01"
SOILING_FACTOR_AT_END = 0.6
# enterprise, roof name, m², usable share (None: the data file's default)
ROOFS: list[tuple[str, str, float, float | None]] = [
    ("QZ-WATER", "灌装车间", 4200.0, 0.7), ("QZ-WATER", "成品仓库", 3000.0, None),
    ("LS-PHARMA", "制剂楼", 2600.0, 0.55), ("XZ-DATA", "机房A栋", 9000.0, 0.45),
    ("XZ-DATA", "动力中心", 2500.0, 0.6), ("GY-BEER", "酿造车间", 5400.0, 0.65),
    ("BS-LOGI", "保税仓库1号", 12000.0, 0.75), ("BS-LOGI", "保税仓库2号", 10000.0, 0.75),
    ("BS-ELEC", "装配厂房", 6500.0, None), ("ND-MATL", "粉磨车间", 15000.0, 0.5),
    ("ND-METAL", "冲压车间", 7200.0, 0.6),
]


def _meter(ctx: DemoContext, code: str, ent: Enterprise, carrier: str) -> Meter:
    meter = ctx.session.scalar(select(Meter).where(Meter.code == code))
    if meter is None:
        spec = carrier_spec(carrier)
        meter = Meter(code=code, enterprise_id=ent.id, carrier=carrier, unit=spec.canonical_unit,
                      canonical_unit=spec.canonical_unit, register="interval",
                      interval_minutes=15, green_direct_supply=False,
                      name=f"{ent.name} {spec.label_zh}")
        ctx.session.add(meter)
        ctx.session.flush()
    return meter


def load_pv_park(ctx: DemoContext) -> None:
    from app.demo import YEAR, ingest_series

    site = lhasa_etdz()
    ops = ctx.session.scalar(select(Enterprise).where(Enterprise.code == OPS[0]))
    if ops is None:
        ops = Enterprise(code=OPS[0], name=OPS[1], zone=OPS[2], industry=OPS[3])
        ctx.session.add(ops)
        ctx.session.flush()
    ctx.enterprises[ops.code] = ops
    quantities = ("ghi", "temp_air", "wind_speed")
    wmeters = {q: _meter(ctx, f"{STATION}-{q}", ops, q) for q in quantities}
    station = ctx.session.scalar(select(WeatherStation).where(WeatherStation.code == STATION))
    if station is None:
        station = WeatherStation(code=STATION, name="拉萨经开区气象站", enterprise_id=ops.id,
                                 **{f"{q}_meter_id": m.id for q, m in wmeters.items()})
        ctx.session.add(station)
    ctx.session.commit()  # ingest reads the meters in its own session

    weather = typical_year(site, YEAR, "15min")
    sent = {q: np.round(weather[q].to_numpy(), 4) for q in quantities}
    ingest_series(ctx, {wmeters[q].code: v for q, v in sent.items()}, weather.index,
                  f"pv-ws-{YEAR}")
    # what the service will rebuild from the stored readings (DNI/DHI by DIRINT)
    measured = measured_weather(pd.DataFrame({
        "ghi_w_per_m2": sent["ghi"], "temp_air_c": sent["temp_air"],
        "wind_speed_m_per_s": sent["wind_speed"]}, index=weather.index), site)

    arrays, gen = [], {}
    for code, ent_code, kwp, tilt, azimuth, mounting in ARRAYS:
        ent = ctx.enterprises[ent_code]
        meter = _meter(ctx, f"{code}-gen", ent, "pv_generation")
        row = ctx.session.scalar(select(PvArray).where(PvArray.code == code))
        if row is None:
            d = pv_defaults()
            row = PvArray(code=code, enterprise_id=ent.id, name=f"{ent.name} 屋顶光伏",
                          capacity_kwp=kwp, ac_kw=default_ac_kw(kwp), tilt_deg=tilt,
                          azimuth_deg=azimuth, mounting=mounting, losses_pct={},
                          gamma_pdc_per_c=float(d["gamma_pdc_per_c"]),
                          degradation_pct_per_year=float(d["degradation_pct_per_year"]),
                          install_year=YEAR, meter_id=meter.id, weather_station_id=station.id)
            ctx.session.add(row)
        arrays.append(PVArray(code=code, capacity_kwp=kwp, ac_kw=default_ac_kw(kwp),
                              tilt_deg=tilt, azimuth_deg=azimuth, mounting=mounting,  # type: ignore[arg-type]
                              install_year=YEAR))
        gen[code] = meter.code
    for ent_code, name, area, share in ROOFS:
        ent = ctx.enterprises[ent_code]
        if ctx.session.scalar(select(Roof).where(Roof.enterprise_id == ent.id,
                                                 Roof.name == name)) is None:
            ctx.session.add(Roof(enterprise_id=ent.id, name=name, roof_area_m2=area,
                                 usable_share=share))
    ctx.session.commit()

    expected = estimate_energy_kwh(arrays, measured, site, resolution="15min")
    local = expected.index
    day = local.normalize()
    n_days = len(day.unique())
    series = {}
    for a in arrays:
        daily = pd.Series(ctx.rng.normal(0.96, 0.01, n_days).clip(0.94, 0.98),
                          index=day.unique()).reindex(day).to_numpy()
        noise = ctx.rng.normal(1.0, 0.02, len(local)).clip(0.94, 1.06)
        factor = daily * noise
        if a.code == SOILED:
            t0, t1 = pd.Timestamp(SOILING_FROM, tz=site.tz), pd.Timestamp(SOILING_TO, tz=site.tz)
            progress = np.clip((local - t0) / (t1 - t0), 0.0, 1.0)
            factor = factor * (1.0 - (1.0 - SOILING_FACTOR_AT_END / 0.96) * progress)
        series[gen[a.code]] = np.clip(expected[a.code].to_numpy() * factor, 0.0, None)
    if not ingest_series(ctx, series, local, f"pv-gen-{YEAR}"):
        return  # loaded before, alerts included
    check_performance(ctx.session, pd.Timestamp(SOILING_FROM).date(),
                      pd.Timestamp(f"{YEAR}-12-31").date())
    ctx.session.commit()
