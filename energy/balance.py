"""The site-load identity: electricity used on site = grid import + PV generation − export.

One home for the identity behind the ledger's "electricity consumed", the overview's load, the
stored load that storage dispatch plans on and the scenario runner's consumption. Works on
floats, numpy arrays and pandas Series alike (any one unit, e.g. kWh per period or MW per step).
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import pandas as pd


@overload
def site_load(grid_import: float, pv_generation: float, grid_export: float) -> float: ...
@overload
def site_load(grid_import: np.ndarray, pv_generation: np.ndarray | float,
              grid_export: np.ndarray | float) -> np.ndarray: ...
@overload
def site_load(grid_import: pd.Series, pv_generation: pd.Series | float,
              grid_export: pd.Series | float) -> pd.Series: ...
def site_load(grid_import: Any, pv_generation: Any, grid_export: Any) -> Any:
    """Electricity used on site = ``grid_import`` + ``pv_generation`` − ``grid_export``.

    All three in the same unit; the answer is in that unit. Exports leave from the site's own
    supply (PV first), so what was imported or generated and not exported was used on site
    (load, auxiliaries and storage losses included).
    """
    return grid_import + pv_generation - grid_export
