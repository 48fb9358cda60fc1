"""Vectorised PV power for many arrays at once, on pvlib functions.

The chain (the same as pvlib's ``ModelChain`` with ``transposition_model='perez'``,
``aoi_model='physical'``, ``spectral_model='no_loss'``, ``temperature_model='sapm'``,
``dc_model='pvwatts'``, ``ac_model='pvwatts'``, ``losses_model='pvwatts'``), computed on 2-D numpy
arrays
(time × orientation, then time × array):

1. ``pvlib.solarposition.get_solarposition`` once (method 'nrel_numpy', site altitude and pressure,
   air
   temperature for refraction), at interval midpoints.
2. ``pvlib.irradiance.get_extra_radiation`` (DNI outside the atmosphere) and
   ``pvlib.atmosphere.get_relative_airmass`` ('kastenyoung1989', apparent zenith).
3. ``pvlib.irradiance.get_total_irradiance(model='perez')`` per unique (tilt, azimuth, mounting)
   group; geometry from the apparent (refracted) zenith, as ModelChain does.
4. ``pvlib.iam.physical`` on the beam component (effective = beam·IAM + diffuse), tabulated once on
   a 1e-3° grid and interpolated (identical to 1e-8).
5. ``pvlib.temperature.sapm_cell`` with mounting-specific parameters (cold, bright plateau: cell
   temperature is driven by irradiance and wind, not only the cold air).
6. ``pvlib.pvsystem.pvwatts_dc`` × (1 − ``pvwatts_losses``/100, including age from degradation).
7. ``pvlib.inverter.pvwatts`` with ``pdc0 = ac_kw / eta_inv_nom`` so the AC output clips at
   ``ac_kw``.

Night rows are skipped (zero output). Arrays are processed in chunks to bound memory.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal, cast

import numpy as np
import pandas as pd
import pvlib

from energy.pv.arrays import PVArray, pv_defaults
from energy.site import PARK_TZ, Site
from energy.weather.frame import check_weather, midpoints, step_of

Resolution = Literal["15min", "hour", "day", "month"]
_RESAMPLE_RULE: dict[str, str] = {"15min": "15min", "hour": "1h", "day": "1D", "month": "MS"}
_CHUNK_ELEMENTS = 2_000_000  # (time × array) elements per chunk, bounds peak memory


def _array_table(arrays: Sequence[PVArray], year: int | None) -> pd.DataFrame:
    rows = []
    for a in arrays:
        t = a.sapm_temperature_parameters()
        rows.append({
            "code": a.code, "tilt": float(a.tilt_deg), "azimuth": float(a.azimuth_deg),
            "mounting": a.mounting, "a": t["a"], "b": t["b"], "deltaT": t["deltaT"],
            "pdc0_kw": float(a.capacity_kwp), "gamma": float(a.gamma_pdc_per_c),
            "loss_factor": 1.0 - a.total_loss_pct(year) / 100.0, "ac_kw": float(a.ac_kw),
        })
    table = pd.DataFrame(rows)
    if table["code"].duplicated().any():
        raise ValueError("array codes must be unique")
    table["group"] = table.groupby(["tilt", "azimuth", "mounting"], sort=False).ngroup()
    return table


_SOLPOS_CACHE: OrderedDict[tuple[object, ...], pd.DataFrame] = OrderedDict()
_SOLPOS_CACHE_SIZE = 8


def _solar_position_cached(site: Site, times: pd.DatetimeIndex,
                           temp_air_c: np.ndarray) -> pd.DataFrame:
    """``pvlib.solarposition.get_solarposition`` (nrel_numpy, site altitude and pressure, air
    temperature for refraction), memoised on the site, the instants and the temperatures so that
    repeated estimates on the same weather (e.g. the typical year) skip it."""
    key = (site, times[0], times[-1], len(times), str(times.tz),
           hashlib.blake2b(np.ascontiguousarray(times.asi8).tobytes()
                           + np.ascontiguousarray(temp_air_c).tobytes(), digest_size=16).digest())
    if key in _SOLPOS_CACHE:
        _SOLPOS_CACHE.move_to_end(key)
        return _SOLPOS_CACHE[key]
    solpos: pd.DataFrame = pvlib.solarposition.get_solarposition(
        times, site.latitude_deg, site.longitude_deg, altitude=site.altitude_m,
        pressure=site.pressure_pa, temperature=temp_air_c, method="nrel_numpy")
    _SOLPOS_CACHE[key] = solpos
    if len(_SOLPOS_CACHE) > _SOLPOS_CACHE_SIZE:
        _SOLPOS_CACHE.popitem(last=False)
    return solpos


def estimate_power_kw(arrays: Sequence[PVArray], weather: pd.DataFrame, site: Site,
                      year: int | None = None) -> pd.DataFrame:
    """AC power, kW (mean over each interval), one column per array code, index = weather index.

    ``weather``: a weather frame (tz-aware interval starts; ``ghi``, ``dni``, ``dhi`` W/m²,
    ``temp_air``
    °C, ``wind_speed`` m/s). ``year`` sets the degradation age (default: the weather's first year).
    All arrays are computed together; arrays sharing (tilt, azimuth, mounting) share the irradiance
    and cell-temperature work.
    """
    check_weather(weather)
    if not arrays:
        return pd.DataFrame(index=weather.index)
    if year is None:
        year = int(weather.index[0].year)
    table = _array_table(arrays, year)
    inv = pv_defaults()["inverter"]
    eta_nom, eta_ref = float(inv["eta_inv_nom"]), float(inv["eta_inv_ref"])

    index = cast(pd.DatetimeIndex, weather.index)
    times = midpoints(index)
    temp_air = weather["temp_air"].to_numpy(float)
    solpos = _solar_position_cached(site, times, temp_air)
    app_zenith = solpos["apparent_zenith"].to_numpy()
    ghi = weather["ghi"].to_numpy(float)
    day = (app_zenith < 90.0) & (ghi > 0.0)
    rows = np.flatnonzero(day)
    out = np.zeros((len(weather), len(table)), dtype=float)
    if rows.size:
        col = slice(None), None  # time quantities as (n_day, 1) columns for broadcasting
        dni_extra = pvlib.irradiance.get_extra_radiation(times[rows]).to_numpy()
        airmass = pvlib.atmosphere.get_relative_airmass(app_zenith[rows], model="kastenyoung1989")
        t_in = {
            "zen": app_zenith[rows][col], "azi": solpos["azimuth"].to_numpy()[rows][col],
            "ghi": ghi[rows][col], "dni": weather["dni"].to_numpy(float)[rows][col],
            "dhi": weather["dhi"].to_numpy(float)[rows][col], "dni_extra": dni_extra[col],
            "airmass": np.asarray(airmass)[col], "temp_air": temp_air[rows][col],
            "wind": weather["wind_speed"].to_numpy(float)[rows][col],
        }
        groups = table.drop_duplicates("group").set_index("group").sort_index()
        order = table.sort_values("group", kind="stable")
        per_chunk = max(1, _CHUNK_ELEMENTS // rows.size)
        # chunk over groups, each chunk holding about per_chunk arrays
        group_ids = groups.index.to_numpy()
        counts = table["group"].value_counts().reindex(group_ids).to_numpy()
        start = 0
        while start < len(group_ids):
            stop, n = start, 0
            while stop < len(group_ids) and (n == 0 or n + counts[stop] <= per_chunk):
                n += counts[stop]
                stop += 1
            gsel = groups.iloc[start:stop]
            members = order[order["group"].isin(gsel.index)]
            _chunk(t_in, gsel, members, site, eta_nom, eta_ref, out, rows)
            start = stop
    return pd.DataFrame(out, index=weather.index, columns=table["code"].to_list())


_IAM_STEP_DEG = 1e-3
_IAM_GRID_AOI_DEG = np.arange(0.0, 90.0 + 2 * _IAM_STEP_DEG, _IAM_STEP_DEG)


@lru_cache(maxsize=1)
def _iam_table() -> np.ndarray:
    table = np.asarray(pvlib.iam.physical(_IAM_GRID_AOI_DEG), dtype=float)
    return np.nan_to_num(np.where(_IAM_GRID_AOI_DEG >= 90.0, 0.0, table))


def _iam_physical(aoi_deg: np.ndarray) -> np.ndarray:
    """``pvlib.iam.physical`` (default n, K, L) tabulated every 1e-3° and interpolated linearly on
    the uniform grid (|error| < 1e-8; 0 at and beyond 90°): the same curve without per-element
    trigonometry."""
    table = _iam_table()
    pos = np.clip(aoi_deg, 0.0, 90.0) * (1.0 / _IAM_STEP_DEG)
    i = pos.astype(np.intp)
    frac = pos - i
    lo = table[i]
    iam: np.ndarray = lo + frac * (table[i + 1] - lo)
    return iam


def _chunk(t: dict[str, np.ndarray], groups: pd.DataFrame, members: pd.DataFrame, site: Site,
           eta_nom: float, eta_ref: float, out: np.ndarray, rows: np.ndarray) -> None:
    """Irradiance and temperature for some orientation groups, then DC/AC for their arrays."""
    tilt = groups["tilt"].to_numpy()[None, :]
    azimuth = groups["azimuth"].to_numpy()[None, :]
    # get_total_irradiance(model='perez') split into its parts so the angle of incidence is
    # computed once and shared with the IAM
    aoi = pvlib.irradiance.aoi(tilt, azimuth, t["zen"], t["azi"])
    sky = pvlib.irradiance.perez(tilt, azimuth, t["dhi"], t["dni"], t["dni_extra"], t["zen"],
                                 t["azi"], t["airmass"])
    ground = pvlib.irradiance.get_ground_diffuse(tilt, t["ghi"], albedo=site.albedo)
    irr = pvlib.irradiance.poa_components(aoi, t["dni"], sky, ground)
    effective = irr["poa_direct"] * _iam_physical(aoi) + irr["poa_diffuse"]
    temp_cell = pvlib.temperature.sapm_cell(
        irr["poa_global"], t["temp_air"], t["wind"], groups["a"].to_numpy()[None, :],
        groups["b"].to_numpy()[None, :], groups["deltaT"].to_numpy()[None, :])
    position = pd.Series(np.arange(len(groups)), index=groups.index)
    g = position.reindex(members["group"]).to_numpy()
    if not np.array_equal(g, np.arange(len(groups))):  # arrays share orientations: fan out
        effective, temp_cell = effective[:, g], temp_cell[:, g]
    pdc = pvlib.pvsystem.pvwatts_dc(effective, temp_cell,
                                    members["pdc0_kw"].to_numpy()[None, :],
                                    members["gamma"].to_numpy()[None, :])
    pdc *= members["loss_factor"].to_numpy()[None, :]
    pac = pvlib.inverter.pvwatts(pdc, members["ac_kw"].to_numpy()[None, :] / eta_nom,
                                 eta_inv_nom=eta_nom, eta_inv_ref=eta_ref)
    out[np.ix_(rows, members.index.to_numpy())] = np.nan_to_num(pac, nan=0.0, copy=False)


def estimate_energy_kwh(arrays: Sequence[PVArray], weather: pd.DataFrame, site: Site,
                        resolution: Resolution = "hour", year: int | None = None,
                        tz: str = PARK_TZ) -> pd.DataFrame:
    """AC energy, kWh per step of ``resolution`` ('15min', 'hour', 'day', 'month'), one column per
    array; steps are intervals [start, end) in ``tz`` (default: the park's zone) labelled by their
    start.
    Resolutions finer than the weather's step are not supported (no invented detail)."""
    power_kw = estimate_power_kw(arrays, weather, site, year=year)
    step = step_of(cast(pd.DatetimeIndex, weather.index))
    rule = _RESAMPLE_RULE[resolution]
    if resolution in ("15min", "hour") and pd.Timedelta(rule) < step:
        raise ValueError(f"weather step {step} is coarser than resolution {resolution!r}")
    energy_kwh = power_kw * (step / pd.Timedelta("1h"))
    energy_kwh.index = cast(pd.DatetimeIndex, energy_kwh.index).tz_convert(tz)
    return energy_kwh.resample(rule).sum()


def sum_by_zone(per_array: pd.DataFrame, arrays: Sequence[PVArray]) -> pd.DataFrame:
    """Sum a per-array frame (power kW or energy kWh, columns = array codes) into one column per
    zone (arrays without a zone go to ''). Units are those of ``per_array``."""
    zone_of = {a.code: a.zone for a in arrays}
    return per_array.T.groupby(per_array.columns.map(zone_of)).sum().T
