"""GHI → DNI/DHI with pvlib's DIRINT model at the site's pressure.

``pvlib.irradiance.dirint`` (Perez et al. 1992; DISC with time-persistence of the clearness index)
defaults to sea-level pressure (101,325 Pa); we always pass ``Site.pressure_pa``.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
import pvlib

from energy.site import Site
from energy.weather.frame import midpoints, solar_position


def decompose_ghi(ghi_w_per_m2: pd.Series, site: Site,
                  solar_zenith_deg: pd.Series | np.ndarray | None = None) -> pd.DataFrame:
    """Split GHI (W/m², index = interval starts) into ``dni`` and ``dhi`` (W/m²).

    DNI from ``pvlib.irradiance.dirint(ghi, zenith, times, pressure=site.pressure_pa)``;
    DHI = GHI − DNI·cos(zenith), clipped at 0.
    """
    times = midpoints(cast(pd.DatetimeIndex, ghi_w_per_m2.index))
    if solar_zenith_deg is None:
        solar_zenith_deg = solar_position(site, times)["zenith"]
    zenith = pd.Series(np.asarray(solar_zenith_deg, dtype=float), index=times)
    ghi = pd.Series(np.asarray(ghi_w_per_m2, dtype=float), index=times)
    dni = pvlib.irradiance.dirint(ghi, zenith, times, pressure=site.pressure_pa)
    dni = dni.fillna(0.0).clip(lower=0.0)
    dhi = (ghi - dni * np.cos(np.radians(zenith))).clip(lower=0.0)
    return pd.DataFrame({"dni": dni.to_numpy(), "dhi": dhi.to_numpy()}, index=ghi_w_per_m2.index)
