"""The site: coordinates, altitude, time zone and the air pressure derived from altitude.

Air pressure comes from ``pvlib.atmosphere.alt2pres(altitude_m)`` (≈ 64.5 kPa at 3,650 m). We never
use
``pvlib.location.lookup_altitude`` (it returns ≈ 4,086 m for Lhasa). Every pvlib call in energy/
gets
``pressure_pa`` / ``altitude_m`` from a :class:`Site` explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pvlib
import yaml

DATA_DIR = Path(__file__).parent / "data"


@cache
def _site_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (DATA_DIR / "site_lhasa.yaml").read_text(encoding="utf-8"))
    return data


PARK_TZ: str = str(_site_data()["tz"])
"""The park's time zone (IANA name, ``tz`` in ``site_lhasa.yaml``): its calendar days, months
and hours bucket every reading, rollup, ledger and plan. The stored daily rollups and
TimescaleDB aggregates were built in it by the migrations, so it is data, not a setting."""
PARK_ZONE = ZoneInfo(PARK_TZ)


@dataclass(frozen=True)
class Site:
    """A PV site. Angles in degrees (north latitude, east longitude), altitude in metres."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    tz: str = PARK_TZ
    name: str = ""
    albedo: float = 0.25

    @property
    def pressure_pa(self) -> float:
        """Standard-atmosphere air pressure at the site's altitude, Pa (pvlib ``alt2pres``)."""
        return float(pvlib.atmosphere.alt2pres(self.altitude_m))

    def location(self) -> pvlib.location.Location:
        """A pvlib ``Location`` with the altitude passed explicitly (no altitude lookup)."""
        return pvlib.location.Location(
            self.latitude_deg, self.longitude_deg, tz=self.tz, altitude=self.altitude_m,
            name=self.name or None,
        )

    def at_altitude(self, altitude_m: float) -> Site:
        """The same site moved to another altitude (e.g. sea level, for comparisons)."""
        return Site(self.latitude_deg, self.longitude_deg, altitude_m, self.tz,
                    f"{self.name} @ {altitude_m:g} m", self.albedo)


@cache
def lhasa_etdz() -> Site:
    """The Lhasa ETDZ reference site from ``energy/data/site_lhasa.yaml``."""
    raw = _site_data()
    return Site(
        latitude_deg=float(raw["latitude_deg"]),
        longitude_deg=float(raw["longitude_deg"]),
        altitude_m=float(raw["altitude_m"]),
        tz=str(raw["tz"]),
        name=str(raw["name"]),
        albedo=float(raw["albedo"]),
    )
