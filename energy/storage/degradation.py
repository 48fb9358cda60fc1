"""Battery ageing and state of health (SOH).

Calendar fade: SAM's calendar model (NREL ssc lib_battery_lifetime_calendar_cycle.cpp),
k_cal = a exp(b (1/T - 1/T_ref)) exp(c (SOC/T - 1/T_ref)), fade = k_cal sqrt(t_days), integrated
for time-varying temperature and SOC as sum_k k_cal,k (sqrt(t_k) - sqrt(t_{k-1})).
Cycle fade: rainflow cycle depths (package ``rainflow``) weighted depth**exponent times a fade per
equivalent full cycle calibrated to LFP cycle life (6,000 cycles to 80 %; data/degradation_lfp.yaml
gives the sources). One code path: :func:`soh_at` turns (days, EFC, mean temperature, mean SOC) into
SOH, and both the estimate from measured throughput (:func:`soh_estimate`) and the projection of an
operating year (:func:`soh_projection`) call it, so they agree for the same year and inputs.
The temperature is the enclosure/cell temperature, clamped to the 10-45 degC range where NREL's
LFP models hold; the share of clamped samples is reported (Lhasa's outdoor winter air is far below).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import rainflow
import yaml

DEGRADATION_FILE = Path(__file__).parent / "data" / "degradation_lfp.yaml"
KELVIN = 273.15


@dataclass(frozen=True)
class AgeingModel:
    a: float
    b: float
    c: float
    t_ref_k: float
    fade_fraction_per_efc: float
    depth_exponent: float
    temperature_min_c: float
    temperature_max_c: float
    end_of_life_soh_pct: float

    @property
    def cycles_to_80_pct(self) -> float:
        """Full cycles until cycle fade alone takes 20 % of capacity."""
        return 0.2 / self.fade_fraction_per_efc


def load_ageing_model(path: Path | str = DEGRADATION_FILE) -> AgeingModel:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    cal, cyc, val = raw["calendar"], raw["cycle"], raw["validity"]
    return AgeingModel(
        a=float(cal["a"]), b=float(cal["b"]), c=float(cal["c"]), t_ref_k=float(cal["t_ref_k"]),
        fade_fraction_per_efc=float(cyc["fade_fraction_per_efc"]),
        depth_exponent=float(cyc["depth_exponent"]),
        temperature_min_c=float(val["temperature_min_c"]),
        temperature_max_c=float(val["temperature_max_c"]),
        end_of_life_soh_pct=float(raw["end_of_life_soh_pct"]),
    )


def calendar_rate(temperature_c: np.ndarray, soc_frac: np.ndarray, m: AgeingModel) -> np.ndarray:
    """SAM k_cal (fraction per sqrt(day)) at the clamped temperature and SOC fraction."""
    t_k = np.clip(temperature_c, m.temperature_min_c, m.temperature_max_c) + KELVIN
    rate: np.ndarray = m.a * np.exp(m.b * (1 / t_k - 1 / m.t_ref_k)) * np.exp(
        m.c * (soc_frac / t_k - 1 / m.t_ref_k)
    )
    return rate


def calendar_fade_frac(
    elapsed_days: np.ndarray, temperature_c: np.ndarray, soc_frac: np.ndarray, m: AgeingModel
) -> float:
    """Calendar capacity fade (fraction) after samples ending at ``elapsed_days`` (increasing)."""
    t = np.asarray(elapsed_days, dtype=float)
    sq = np.sqrt(t)
    dsq = np.diff(np.concatenate([[0.0], sq]))
    return float((calendar_rate(np.asarray(temperature_c), np.asarray(soc_frac), m) * dsq).sum())


def soh_at(days: np.ndarray | float, efc: np.ndarray | float, mean_temperature_c: float,
           mean_soc_frac: float, m: AgeingModel) -> pd.DataFrame:
    """SOH after ``days`` in service and ``efc`` equivalent full cycles at a mean enclosure
    temperature and mean SOC: calendar fade k_cal(T, SOC) sqrt(days) + cycle fade k_cyc EFC.
    Columns soh_pct, calendar_fade_pct, cycle_fade_pct, efc (one row per element)."""
    d = np.atleast_1d(np.asarray(days, dtype=float))
    e = np.broadcast_to(np.atleast_1d(np.asarray(efc, dtype=float)), d.shape)
    rate = float(calendar_rate(np.array([mean_temperature_c]), np.array([mean_soc_frac]), m)[0])
    cal = rate * np.sqrt(d)
    cyc = m.fade_fraction_per_efc * e
    return pd.DataFrame({"soh_pct": 100.0 * (1.0 - cal - cyc), "calendar_fade_pct": 100.0 * cal,
                         "cycle_fade_pct": 100.0 * cyc, "efc": e, "calendar_rate": rate})


def cycle_fade_frac(soc_frac: np.ndarray, m: AgeingModel) -> tuple[float, float]:
    """(cycle fade fraction, depth-weighted equivalent full cycles) from a SOC series."""
    cycles = np.array([(rng, cnt) for rng, _mean, cnt, _i, _j in rainflow.extract_cycles(soc_frac)])
    if cycles.size == 0:
        return 0.0, 0.0
    efc = float((cycles[:, 1] * cycles[:, 0] ** m.depth_exponent).sum())
    return m.fade_fraction_per_efc * efc, efc


def soh_projection(
    soc_mwh: pd.Series,
    energy_mwh: float,
    temperature_c: pd.Series | float,
    years: int = 20,
    model: AgeingModel | None = None,
) -> pd.DataFrame:
    """SOH (% of nameplate) at the end of each year, repeating one operating year ``soc_mwh``.

    ``temperature_c`` is the enclosure temperature (series on the same index, or a constant).
    Calendar fade follows sqrt(time) at the rate of the year's mean (clamped) temperature and mean
    SOC, cycle fade is linear in cycles: :func:`soh_at`, as for the estimate from throughput.
    Columns: soh_pct, calendar_fade_pct, cycle_fade_pct, efc, clamped_temperature_share.
    """
    m = model or load_ageing_model()
    soc_frac = soc_mwh.to_numpy(dtype=float) / energy_mwh
    temps = (
        temperature_c.reindex(soc_mwh.index).to_numpy(dtype=float)
        if isinstance(temperature_c, pd.Series)
        else np.full(len(soc_frac), float(temperature_c))
    )
    span_days = float((soc_mwh.index[-1] - soc_mwh.index[0]) / pd.Timedelta(days=1))
    step_days = span_days / max(len(soc_frac) - 1, 1)
    period_days = step_days * len(soc_frac)
    _cyc_frac, efc = cycle_fade_frac(soc_frac, m)
    yrs = np.arange(1, years + 1)
    mean_t = float(np.clip(temps, m.temperature_min_c, m.temperature_max_c).mean())
    out = soh_at(yrs * period_days, efc * yrs, mean_t, float(soc_frac.mean()), m)
    clamped = float(((temps < m.temperature_min_c) | (temps > m.temperature_max_c)).mean())
    out = out.drop(columns="calendar_rate").assign(clamped_temperature_share=clamped)
    out.index = pd.Index(yrs, name="year")
    return out


def soh_from_capacity_test(measured_capacity_mwh: float, nameplate_mwh: float) -> float:
    """SOH (%) = measured full-discharge capacity / nameplate capacity."""
    return 100.0 * measured_capacity_mwh / nameplate_mwh


def soh_estimate(
    throughput_mwh: float,
    days_in_service: float,
    nameplate_mwh: float,
    mean_temperature_c: float = 25.0,
    mean_soc_frac: float = 0.5,
    capacity_tests: pd.Series | None = None,
    model: AgeingModel | None = None,
) -> dict[str, float]:
    """SOH (%) from measured throughput (charge + discharge MWh) and time in service.

    The model estimate uses EFC = throughput / (2 x nameplate) at full depth plus calendar fade.
    With ``capacity_tests`` (measured MWh indexed by days in service), the model fade is scaled to
    match the latest test (least squares through the origin), and the latest test is returned too.
    """
    m = model or load_ageing_model()
    efc = throughput_mwh / (2.0 * nameplate_mwh)
    mean_t = float(np.clip(mean_temperature_c, m.temperature_min_c, m.temperature_max_c))
    now = soh_at(days_in_service, efc, mean_t, mean_soc_frac, m).iloc[0]
    cal = float(now["calendar_rate"])
    fade = 1.0 - float(now["soh_pct"]) / 100.0
    out = {"model_soh_pct": float(now["soh_pct"]), "efc": efc, "calendar_rate": cal}
    if capacity_tests is not None and len(capacity_tests):
        tests = capacity_tests.sort_index()
        meas_fade = 1.0 - tests.to_numpy(dtype=float) / nameplate_mwh
        t_days = tests.index.to_numpy(dtype=float)
        # Model fade at each test assuming throughput accrued uniformly over time.
        at_tests = soh_at(t_days, efc * t_days / days_in_service, mean_t, mean_soc_frac, m)
        mod = 1.0 - at_tests["soh_pct"].to_numpy() / 100.0
        scale = float(mod @ meas_fade / (mod @ mod)) if (mod @ mod) > 0 else 1.0
        out["calibration_factor"] = scale
        out["calibrated_soh_pct"] = 100.0 * (1 - scale * fade)
        out["latest_test_soh_pct"] = soh_from_capacity_test(float(tests.iloc[-1]), nameplate_mwh)
    return out
