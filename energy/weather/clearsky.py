"""Clear-sky weather: Ineichen with pvlib's shipped Linke turbidity, at the site's pressure.

``pvlib.location.Location.get_clearsky(model='ineichen', pressure=site.pressure_pa)`` looks the
monthly Linke turbidity up in ``LinkeTurbidities.h5`` (shipped with pvlib) and passes the site
altitude
to ``pvlib.clearsky.ineichen``. At Lhasa this gives ≈ 2,960 kWh/m² a year: a *ceiling*, not a
typical
year (reference §3).
"""

from __future__ import annotations

import pandas as pd

from energy.site import Site
from energy.weather.frame import midpoints, solar_position
from energy.weather.normals import air_temperature_c, wind_speed_m_per_s


def clearsky_irradiance(site: Site, index: pd.DatetimeIndex,
                        solpos: pd.DataFrame | None = None) -> pd.DataFrame:
    """Ineichen clear-sky ``ghi``, ``dni``, ``dhi`` (W/m²) for each interval of ``index``
    (evaluated at interval midpoints)."""
    times = midpoints(index)
    if solpos is None:
        solpos = solar_position(site, times)
    cs = site.location().get_clearsky(times, model="ineichen", solar_position=solpos,
                                      pressure=site.pressure_pa)
    cs.index = index
    out: pd.DataFrame = cs[["ghi", "dni", "dhi"]]
    return out


def clearsky_weather(site: Site, start: pd.Timestamp | str, end: pd.Timestamp | str,
                     freq: str = "1h") -> pd.DataFrame:
    """A weather frame (``ghi``, ``dni``, ``dhi`` W/m²; ``temp_air`` °C; ``wind_speed`` m/s) for
    intervals starting in [start, end) under clear sky; temperature and wind follow the Lhasa
    normals of a clear day (energy/data/lhasa_climate.yaml)."""
    index = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=freq, inclusive="left",
                          tz=site.tz if pd.Timestamp(start).tz is None else None)
    frame = clearsky_irradiance(site, index)
    frame["temp_air"] = air_temperature_c(index, site, range_share=None)
    frame["wind_speed"] = wind_speed_m_per_s(index, site)
    return frame
