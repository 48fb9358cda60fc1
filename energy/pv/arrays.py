"""PV arrays and their defaults (energy/data/pv_defaults.yaml, with sources)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import pvlib
import yaml

from energy.site import DATA_DIR

Mounting = Literal["roof_flush", "open_rack"]


@cache
def pv_defaults() -> dict[str, Any]:
    """The parsed PV defaults data file."""
    data: dict[str, Any] = yaml.safe_load(
        (DATA_DIR / "pv_defaults.yaml").read_text(encoding="utf-8"))
    return data


def _default_losses() -> dict[str, float]:
    return {k: float(v) for k, v in pv_defaults()["losses_pct"].items()}


def _default_gamma() -> float:
    return float(pv_defaults()["gamma_pdc_per_c"])


def _default_degradation() -> float:
    return float(pv_defaults()["degradation_pct_per_year"])


@dataclass(frozen=True)
class PVArray:
    """One PV array (a roof's modules behind one inverter group).

    capacity_kwp: DC nameplate, kWp. ac_kw: inverter AC limit, kW (clipping). tilt_deg from
    horizontal;
    azimuth_deg clockwise from north (180 = south). losses_pct: keyword arguments of
    ``pvlib.pvsystem.pvwatts_losses`` in percent (soiling, shading, snow, mismatch, wiring,
    connections,
    lid, nameplate_rating, availability); age is derived from degradation and install_year.
    """

    code: str
    capacity_kwp: float
    ac_kw: float
    tilt_deg: float
    azimuth_deg: float = 180.0
    mounting: Mounting = "roof_flush"
    enterprise: str = ""
    gamma_pdc_per_c: float = field(default_factory=_default_gamma)
    losses_pct: Mapping[str, float] = field(default_factory=_default_losses, hash=False)
    degradation_pct_per_year: float = field(default_factory=_default_degradation)
    install_year: int | None = None
    meter_code: str | None = None
    zone: str = ""

    def __post_init__(self) -> None:
        if self.mounting not in ("roof_flush", "open_rack"):
            raise ValueError(f"{self.code}: unknown mounting {self.mounting!r}")
        if self.capacity_kwp <= 0 or self.ac_kw <= 0:
            raise ValueError(f"{self.code}: capacity_kwp and ac_kw must be positive")
        unknown = set(self.losses_pct) - set(_default_losses())
        if unknown:
            raise ValueError(f"{self.code}: unknown loss names {sorted(unknown)}")

    def age_loss_pct(self, year: int | None) -> float:
        """Capacity lost to degradation by ``year``, % (compounded yearly)."""
        if year is None or self.install_year is None or year <= self.install_year:
            return 0.0
        return 100.0 * (1.0 - (1.0 - self.degradation_pct_per_year / 100.0)
                        ** (year - self.install_year))

    def total_loss_pct(self, year: int | None = None) -> float:
        """Total DC loss, % (``pvlib.pvsystem.pvwatts_losses``, losses combined
        multiplicatively)."""
        losses = {**_default_losses(), **self.losses_pct}
        return float(pvlib.pvsystem.pvwatts_losses(**losses, age=self.age_loss_pct(year)))

    def sapm_temperature_parameters(self) -> dict[str, float]:
        """SAPM cell-temperature parameters a, b, deltaT for this mounting."""
        name = pv_defaults()["temperature_model_by_mounting"][self.mounting]
        return dict(pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][name])


def default_ac_kw(capacity_kwp: float) -> float:
    """Inverter AC rating for a DC capacity at the default DC/AC ratio, kW."""
    return capacity_kwp / float(pv_defaults()["dc_ac_ratio"])
