"""Measured weather (e.g. uploaded through the API) → the model's weather frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy.site import Site
from energy.weather.decomposition import decompose_ghi
from energy.weather.frame import midpoints, solar_position
from energy.weather.normals import wind_speed_m_per_s


def measured_weather(measured: pd.DataFrame, site: Site) -> pd.DataFrame:
    """Turn measurements into a weather frame.

    ``measured``: tz-aware index of interval starts; columns ``ghi_w_per_m2`` and ``temp_air_c``
    (required), ``dni_w_per_m2``, ``dhi_w_per_m2``, ``wind_speed_m_per_s`` (optional). Missing
    DNI/DHI
    are decomposed with DIRINT at the site pressure (or closed with GHI = DHI + DNI·cos z when one
    of
    them is given); missing wind falls back to the Lhasa normals.
    Returns ``ghi``, ``dni``, ``dhi`` (W/m²), ``temp_air`` (°C), ``wind_speed`` (m/s).
    """
    for col in ("ghi_w_per_m2", "temp_air_c"):
        if col not in measured.columns:
            raise ValueError(f"measured weather needs column {col!r}")
    if not isinstance(measured.index, pd.DatetimeIndex) or measured.index.tz is None:
        raise ValueError("measured weather index must be tz-aware interval starts")
    index = measured.index
    ghi = measured["ghi_w_per_m2"].astype(float).clip(lower=0.0)
    zenith = solar_position(site, midpoints(index))["zenith"].to_numpy()
    cos_z = np.cos(np.radians(zenith))
    has_dni, has_dhi = "dni_w_per_m2" in measured, "dhi_w_per_m2" in measured
    if has_dni and has_dhi:
        dni = measured["dni_w_per_m2"].to_numpy(float)
        dhi = measured["dhi_w_per_m2"].to_numpy(float)
    elif has_dni:
        dni = measured["dni_w_per_m2"].to_numpy(float)
        dhi = np.clip(ghi.to_numpy() - dni * cos_z, 0.0, None)
    elif has_dhi:
        dhi = measured["dhi_w_per_m2"].to_numpy(float)
        dni = np.where(cos_z > 0.0872, np.clip(ghi.to_numpy() - dhi, 0.0, None)
                       / np.maximum(cos_z, 0.0872), 0.0)  # 0.0872 = cos 85°
    else:
        split = decompose_ghi(ghi, site, solar_zenith_deg=zenith)
        dni, dhi = split["dni"].to_numpy(), split["dhi"].to_numpy()
    wind = (measured["wind_speed_m_per_s"].to_numpy(float) if "wind_speed_m_per_s" in measured
            else wind_speed_m_per_s(index, site))
    return pd.DataFrame({"ghi": ghi.to_numpy(), "dni": dni, "dhi": dhi,
                         "temp_air": measured["temp_air_c"].to_numpy(float), "wind_speed": wind},
                        index=index)
