"""Weather for the PV model: clear sky, a typical Lhasa year, measured uploads.

One weather frame convention everywhere (see :mod:`energy.weather.frame`): a DataFrame with a
tz-aware
DatetimeIndex labelling the *start* of each half-open interval, and columns ``ghi``, ``dni``,
``dhi``
(W/m², mean over the interval), ``temp_air`` (°C) and ``wind_speed`` (m/s).
"""

from energy.weather.clearsky import clearsky_weather
from energy.weather.frame import WEATHER_COLUMNS
from energy.weather.measured import measured_weather
from energy.weather.typical_year import typical_year

__all__ = ["WEATHER_COLUMNS", "clearsky_weather", "measured_weather", "typical_year"]
