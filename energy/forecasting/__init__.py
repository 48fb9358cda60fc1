"""Load and PV forecasting with backtested skill (plain library: pandas in, pandas out).

* :mod:`.load` — day-ahead and intraday load forecasts (LightGBM on calendar and profile
  features, p10/p90 from quantile models), for any regular series (a meter, an enterprise, a
  zone, the park);
* :mod:`.pv` — PV per array: pvlib clear-sky output × a forecast clear-sky index;
* :mod:`.rolling_origin` — rolling-origin backtest, MASE and nMAE against the weekly seasonal
  naive and the daily naive;
* :mod:`.naive`, :mod:`.synthetic` — the baselines, and synthetic forecast errors for simulations.
"""

from energy.forecasting.load import (
    Forecast,
    InsufficientHistory,
    LoadModel,
    fit_load_model,
    forecast_load,
)
from energy.forecasting.naive import seasonal_naive_forecast
from energy.forecasting.pv import forecast_pv
from energy.forecasting.rolling_origin import Skill, backtest, load_forecaster, naive_forecaster
from energy.forecasting.synthetic import pv_forecast_with_error

__all__ = [
    "Forecast",
    "InsufficientHistory",
    "LoadModel",
    "Skill",
    "backtest",
    "fit_load_model",
    "forecast_load",
    "forecast_pv",
    "load_forecaster",
    "naive_forecaster",
    "pv_forecast_with_error",
    "seasonal_naive_forecast",
]
