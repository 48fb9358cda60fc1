"""The weather frame convention and the solar geometry every weather source shares.

Weather frame: tz-aware DatetimeIndex = start of each interval [start, start + step); columns
``ghi``, ``dni``, ``dhi`` in W/m² (interval means, evaluated at the interval midpoint),
``temp_air`` in °C,
``wind_speed`` in m/s.
"""

from __future__ import annotations

from typing import cast

import pandas as pd
import pvlib

from energy.site import Site

WEATHER_COLUMNS: tuple[str, ...] = ("ghi", "dni", "dhi", "temp_air", "wind_speed")


def step_of(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The interval length of a regular index (its frequency, else the median spacing)."""
    if index.freq is not None:
        return pd.Timedelta(cast(pd.offsets.Tick, index.freq))  # a regular index: a fixed step
    if len(index) < 2:
        return pd.Timedelta("1h")
    return pd.Timedelta(index.to_series().diff().median())


def midpoints(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Interval midpoints of an index of interval starts (where the sun is evaluated)."""
    if index.tz is None:
        raise ValueError("weather index must be tz-aware")
    return index + step_of(index) / 2


def solar_position(site: Site, times: pd.DatetimeIndex) -> pd.DataFrame:
    """``pvlib.solarposition.get_solarposition`` (method 'nrel_numpy') at the site's altitude and
    pressure, at the given instants (pass :func:`midpoints` of a weather index)."""
    solpos: pd.DataFrame = pvlib.solarposition.get_solarposition(
        times, site.latitude_deg, site.longitude_deg, altitude=site.altitude_m,
        pressure=site.pressure_pa, method="nrel_numpy",
    )
    return solpos


def year_index(year: int, tz: str, freq: str = "1h") -> pd.DatetimeIndex:
    """Interval starts covering one local calendar year."""
    return pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq=freq, tz=tz, inclusive="left")


def check_weather(frame: pd.DataFrame) -> pd.DataFrame:
    """Raise if ``frame`` breaks the weather frame convention; return it unchanged."""
    missing = [c for c in WEATHER_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"weather frame lacks columns {missing}")
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise ValueError("weather frame index must be a tz-aware DatetimeIndex")
    return frame
