"""Rooftop PV for the park: arrays, the vectorised pvlib model, rooftop potential, performance."""

from energy.pv.arrays import PVArray
from energy.pv.model import estimate_energy_kwh, estimate_power_kw, sum_by_zone
from energy.pv.uncertainty import exceedance_factor, p50_p90, pv_yield_kpis

__all__ = ["PVArray", "estimate_energy_kwh", "estimate_power_kw", "exceedance_factor", "p50_p90",
           "pv_yield_kpis", "sum_by_zone"]
