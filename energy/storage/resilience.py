"""Resilience: how long the station (with PV) carries a critical load through a grid outage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy.storage.battery import BatterySpec


def outage_endurance_h(
    soc_start_mwh: float,
    critical_load_mw: float | pd.Series,
    pv_mw: pd.Series,
    battery: BatterySpec,
    *,
    start: pd.Timestamp | None = None,
    temperature_c: pd.Series | None = None,
) -> float:
    """Hours from ``start`` (default: first step of ``pv_mw``) that the critical load is carried.

    During the outage the battery covers critical load + aux - PV (limited by discharge power and
    the SOC floor ``soc_min_pct``); PV surplus recharges it (cold-limited). The count stops at the
    first step that cannot be fully served (fractional within that step); it is capped at the
    length of the PV series. ``soc_start_mwh`` usually comes from the planned schedule's soc_mwh.
    """
    pv = pv_mw if start is None else pv_mw.loc[start:]
    if len(pv) == 0:
        return 0.0
    idx = pv.index
    dt = (
        float((idx[1] - idx[0]) / pd.Timedelta(hours=1)) if len(idx) > 1 else 1.0
    )
    load = (
        critical_load_mw.reindex(idx).to_numpy(dtype=float)
        if isinstance(critical_load_mw, pd.Series)
        else np.full(len(idx), float(critical_load_mw))
    )
    temps = None if temperature_c is None else temperature_c.reindex(idx).to_numpy(dtype=float)
    cmax = battery.charge_limit_mw(temps, len(idx))
    net = load + battery.aux_load_mw - pv.to_numpy(dtype=float)
    r = battery.retention_per_step(dt)
    soc = soc_start_mwh
    hours = 0.0
    for t in range(len(idx)):  # sequential by nature; stops at the first failure
        kept = r * soc
        if net[t] <= 0:
            soc = min(battery.soc_max_mwh, kept + battery.eta_charge * dt * min(-net[t], cmax[t]))
            hours += dt
            continue
        avail_mw = min(battery.power_discharge_mw,
                       max(kept - battery.soc_min_mwh, 0.0) * battery.eta_discharge / dt)
        if avail_mw >= net[t]:
            soc = kept - dt * net[t] / battery.eta_discharge
            hours += dt
            continue
        if net[t] <= battery.power_discharge_mw:  # energy runs out inside this step
            hours += dt * avail_mw / net[t]
        return hours
    return hours


def planned_soc_mwh(schedule: pd.DataFrame, start: pd.Timestamp, soc_initial_mwh: float) -> float:
    """Planned SOC (MWh) at the START of the interval beginning at ``start``.

    ``schedule.soc_mwh`` holds end-of-interval values, so this is the previous row's value (or the
    initial SOC for the first interval).
    """
    pos = int(schedule.index.get_indexer(pd.Index([start]))[0])
    if pos < 0:
        raise KeyError(f"{start} is not an interval start of the schedule")
    return soc_initial_mwh if pos == 0 else float(schedule["soc_mwh"].iloc[pos - 1])
