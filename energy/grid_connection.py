"""The park's connection to the public grid: import and export limits at the point of common
coupling (kW), from ``energy/data/grid_connection_lhasa.yaml`` (an assumption with its sources)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class GridConnection:
    """Largest import and export at the park's grid connection, kW."""

    import_limit_kw: float
    export_limit_kw: float
    version: str = ""
    name: str = ""

    def limit_kw(self, direction: str) -> float:
        """Largest demand-response target in ``direction`` (kW of change in the park's draw):
        a ``reduce`` event can take away at most what the connection imports, an ``increase``
        event can add at most what it can import."""
        return self.import_limit_kw


@cache
def lhasa_etdz_connection() -> GridConnection:
    """The park's grid connection from the data file."""
    raw = yaml.safe_load((DATA_DIR / "grid_connection_lhasa.yaml").read_text(encoding="utf-8"))
    return GridConnection(import_limit_kw=float(raw["import_limit_kw"]),
                          export_limit_kw=float(raw["export_limit_kw"]),
                          version=str(raw["version"]), name=str(raw["name"]))
