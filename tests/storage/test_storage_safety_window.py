"""Safe operating window: defaults from the data file, excursions found as contiguous runs."""

import numpy as np
import pandas as pd

from energy.storage import default_station
from energy.storage.safety import excursions, safety_window


def test_default_window_widens_the_soc_window_and_adds_power_tolerance():
    b = default_station()  # SOC 15-95 %, 63 MW each way
    w = safety_window(b)
    # data file: 2 percentage points of SOC margin, 5 % power tolerance, 0-45 degC
    assert (w.soc_min_pct, w.soc_max_pct) == (13.0, 97.0)
    assert np.isclose(w.power_discharge_max_mw, 63.0 * 1.05)
    assert (w.temperature_min_c, w.temperature_max_c) == (0.0, 45.0)
    assert w.with_overrides({"temperature_max_c": 40}).temperature_max_c == 40.0


def test_excursions_are_runs_with_their_extreme_and_end():
    idx = pd.date_range("2026-01-05", periods=8, freq="15min", tz="Asia/Shanghai")
    tele = pd.DataFrame({
        "soc_pct": [50, 12, 11, 50, 50, 98, 50, 50],
        "temperature_c": [20, 20, 20, 46, 20, np.nan, 47, 48],
        "power_mw": [0, -70, 0, 0, 0, 0, 0, 60],
    }, index=idx)
    ex = excursions(tele, safety_window(default_station()), pd.Timedelta("15min"))
    got = {(r.quantity, r.side, r.start.strftime("%H:%M"), r.end.strftime("%H:%M"), r.extreme)
           for r in ex.itertuples()}
    assert got == {
        ("soc_pct", "low", "00:15", "00:45", 11.0),      # 12, 11 < 13 for two steps
        ("soc_pct", "high", "01:15", "01:30", 98.0),     # 98 > 97
        ("temperature_c", "high", "00:45", "01:00", 46.0),
        ("temperature_c", "high", "01:30", "02:00", 48.0),  # NaN at 01:15 is no excursion
        ("power_mw", "low", "00:15", "00:30", -70.0),    # charging 70 MW > 66.15 MW
    }
