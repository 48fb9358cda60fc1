"""P50/P90 annual PV yields from the year-to-year variability of the solar resource.

The typical year is calibrated to the station's mean annual GHI, so its yield is the P50 (median of
a normal law). A P_x yield is exceeded in x % of years: P_x = P50 (1 - z_x sigma_rel), z_x the
standard normal quantile (z_90 = 1.2816), sigma_rel the relative standard deviation of annual GHI
(energy/data/lhasa_climate.yaml, with its source), taken as that of the annual yield, as SAM's and
PVsyst's P50/P90 analyses do. Weather variability of a single year only: no model, soiling or
measurement uncertainty is added.
"""

from __future__ import annotations

from scipy import stats

from energy.weather.normals import climate


def interannual_sigma_rel() -> float:
    """Relative standard deviation of annual GHI at the site (fraction), from the data file."""
    return float(climate()["irradiation"]["interannual_sigma_rel"])


def exceedance_factor(probability_pct: float = 90.0, sigma_rel: float | None = None) -> float:
    """P_x / P50 for an annual energy exceeded in ``probability_pct`` % of years (normal law)."""
    if not 50.0 <= probability_pct < 100.0:
        raise ValueError("probability_pct must be in [50, 100)")
    sigma = interannual_sigma_rel() if sigma_rel is None else float(sigma_rel)
    return 1.0 - float(stats.norm.ppf(probability_pct / 100.0)) * sigma


def p50_p90(p50: float, sigma_rel: float | None = None) -> tuple[float, float]:
    """(P50, P90) of an annual energy whose typical-year (P50) value is ``p50`` (any unit)."""
    return float(p50), float(p50) * exceedance_factor(90.0, sigma_rel)


def pv_yield_kpis(pv_mwh: float, capacity_kwp: float) -> dict[str, float]:
    """Per-year scenario KPIs: ``pv_p50_mwh``, ``pv_p90_mwh`` (available PV energy, before
    curtailment) and ``pv_specific_yield_kwh_per_kwp`` (P50 per kWp)."""
    p50, p90 = p50_p90(pv_mwh)
    return {"pv_p50_mwh": p50, "pv_p90_mwh": p90,
            "pv_specific_yield_kwh_per_kwp": p50 * 1000.0 / capacity_kwp if capacity_kwp else 0.0}
