"""Demo PV park: one weather station, rooftop arrays in every zone with generation meters, roofs.

Readings go through the same ingest path as uploads. The station sends the typical Lhasa year
(GHI, air temperature, wind, 15 min); each generation meter sends the model's estimate on that
measured weather × a realistic factor (a day-to-day performance of 94–98 % and 2 % interval
noise). ND-MATL's roof (a building-materials plant: cement dust) soils from mid-October, so the
performance check opens ``pv_underperformance`` alerts on its clear days from late November.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from sqlalchemy import select

from app.demo.common import YEAR, DemoContext, ingest_series, missing_range, stamp, steady_values
from app.models import Enterprise, Meter, PvArray, Roof, WeatherStation
from app.services.pv import check_performance
from energy.pv import PVArray, estimate_energy_kwh
from energy.pv.arrays import default_ac_kw, pv_defaults
from energy.site import lhasa_etdz
from energy.units import carrier_spec
from energy.weather import measured_weather, typical_year

OPS = ("PARK-OPS", "园区能碳运营中心", "A区", "park services")
STATION = "LHASA-ETDZ-WS1"
QUANTITIES = ("ghi", "temp_air", "wind_speed")
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
    meter = ctx.session.scalar(select(Meter).where(Meter.code == code,
                                                    Meter.enterprise_id == ent.id))
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
    ops = ctx.session.scalar(select(Enterprise).where(Enterprise.code == OPS[0]))
    if ops is None:
        ops = Enterprise(code=OPS[0], name=OPS[1], zone=OPS[2], industry=OPS[3])
        ctx.session.add(ops)
        ctx.session.flush()
    ctx.enterprises[ops.code] = ops
    wmeters = {q: _meter(ctx, f"{STATION}-{q}", ops, q) for q in QUANTITIES}
    station = ctx.session.scalar(select(WeatherStation).where(WeatherStation.code == STATION))
    if station is None:
        station = WeatherStation(code=STATION, name="拉萨经开区气象站", enterprise_id=ops.id,
                                 shared=True, **{f"{q}_meter_id": m.id for q, m in wmeters.items()})
        ctx.session.add(station)
    ctx.session.commit()  # ingest reads the meters in its own session

    for code, ent_code, kwp, tilt, azimuth, mounting in ARRAYS:
        ent = ctx.enterprises[ent_code]
        meter = _meter(ctx, f"{code}-gen", ent, "pv_generation")
        row = ctx.session.scalar(select(PvArray).where(PvArray.code == code,
                                                        PvArray.enterprise_id == ent.id))
        if row is None:
            d = pv_defaults()
            row = PvArray(code=code, enterprise_id=ent.id, name=f"{ent.name} 屋顶光伏",
                          capacity_kwp=kwp, ac_kw=default_ac_kw(kwp), tilt_deg=tilt,
                          azimuth_deg=azimuth, mounting=mounting, losses_pct={},
                          gamma_pdc_per_c=float(d["gamma_pdc_per_c"]),
                          degradation_pct_per_year=float(d["degradation_pct_per_year"]),
                          install_year=YEAR, meter_id=meter.id, weather_station_id=station.id)
            ctx.session.add(row)
    for ent_code, name, area, share in ROOFS:
        ent = ctx.enterprises[ent_code]
        if ctx.session.scalar(select(Roof).where(Roof.enterprise_id == ent.id,
                                                 Roof.name == name)) is None:
            ctx.session.add(Roof(enterprise_id=ent.id, name=name, roof_area_m2=area,
                                 usable_share=share))
    ctx.session.commit()

    fill_pv(ctx)


def _models() -> list[PVArray]:
    return [PVArray(code=code, capacity_kwp=kwp, ac_kw=default_ac_kw(kwp), tilt_deg=tilt,
                    azimuth_deg=azimuth, mounting=mounting,  # type: ignore[arg-type]
                    install_year=YEAR)
            for code, _ent, kwp, tilt, azimuth, mounting in ARRAYS]


@lru_cache(maxsize=2)
def _pv_year(year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The station's readings (typical Lhasa year, rounded as sent) and every array's expected
    energy on the weather the service rebuilds from them (DNI/DHI by DIRINT), for one year."""
    site = lhasa_etdz()
    weather = typical_year(site, year, "15min")
    sent = pd.DataFrame({q: np.round(weather[q].to_numpy(), 4) for q in QUANTITIES},
                        index=weather.index)
    measured = measured_weather(pd.DataFrame({
        "ghi_w_per_m2": sent["ghi"], "temp_air_c": sent["temp_air"],
        "wind_speed_m_per_s": sent["wind_speed"]}, index=weather.index), site)
    expected = estimate_energy_kwh(_models(), measured, site, resolution="15min")
    return sent, expected


def _generation(code: str, full: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    """A year of one array's metered generation: expected x a day-to-day performance of 94-98 %
    x 2 % interval noise (x soiling for the soiled roof)."""
    expected = _pv_year(full[0].year)[1][code].reindex(full).fillna(0.0).to_numpy()
    day = full.normalize()
    days = day.unique()
    daily = pd.Series(rng.normal(0.96, 0.01, len(days)).clip(0.94, 0.98),
                      index=days).reindex(day).to_numpy()
    factor = daily * rng.normal(1.0, 0.02, len(full)).clip(0.94, 1.06)
    if code == SOILED:
        t0, t1 = pd.Timestamp(SOILING_FROM, tz=full.tz), pd.Timestamp(SOILING_TO, tz=full.tz)
        progress = np.clip((full - t0) / (t1 - t0), 0.0, 1.0)
        factor = factor * (1.0 - (1.0 - SOILING_FACTOR_AT_END / 0.96) * progress)
    return np.clip(expected * factor, 0.0, None)


def fill_pv(ctx: DemoContext) -> None:
    """The station's and the arrays' readings from the latest stored ones to ``ctx.end``
    (everything from the demo's start on first load); the performance check of the complete
    days that got new generation readings."""
    codes = [f"{STATION}-{q}" for q in QUANTITIES]
    local = missing_range(ctx, codes)
    if len(local):
        ingest_series(ctx, {
            f"{STATION}-{q}": steady_values(
                q, local, lambda full, _rng, q=q: _pv_year(full[0].year)[0][q]
                .reindex(full).fillna(0.0).to_numpy())
            for q in QUANTITIES}, local, f"pv-ws-{stamp(local)}")
    gen = {code: f"{code}-gen" for code, *_ in ARRAYS}
    local = missing_range(ctx, list(gen.values()))
    if not len(local):
        return
    if not ingest_series(ctx, {
            meter: steady_values(code, local,
                                 lambda full, rng, c=code: _generation(c, full, rng))
            for code, meter in gen.items()}, local, f"pv-gen-{stamp(local)}"):
        return
    first = max(pd.Timestamp(SOILING_FROM).date(), local[0].date())
    last = (ctx.end - pd.Timedelta(days=1)).date()  # complete days only
    if first <= last:
        check_performance(ctx.session, first, last)
    ctx.session.commit()
