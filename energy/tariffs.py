"""Time-of-use electricity tariffs as configuration (YAML under energy/data/tariffs/).

Periods and prices are data, never code: Tibet's official periods were not found
in any public source consulted, so the shipped file is illustrative and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

TARIFF_DIR = Path(__file__).parent / "data" / "tariffs"
MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class TouPeriod:
    """A half-open local wall-clock interval [start_min, end_min) with a named price period."""

    start_min: int
    end_min: int
    period: str


@dataclass(frozen=True)
class Tariff:
    """A TOU tariff: energy prices per period (yuan/MWh), periods, and a demand charge."""

    name: str
    version: str
    timezone: str
    prices_yuan_per_mwh: dict[str, float]
    periods: tuple[TouPeriod, ...]
    demand_charge_yuan_per_kw_month: float = 0.0
    export_price_yuan_per_mwh: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        minutes = np.zeros(MINUTES_PER_DAY, dtype=int)
        for p in self.periods:
            if p.period not in self.prices_yuan_per_mwh:
                raise ValueError(f"tariff {self.name}: period {p.period!r} has no price")
            if not 0 <= p.start_min < p.end_min <= MINUTES_PER_DAY:
                raise ValueError(f"tariff {self.name}: bad interval {p}")
            minutes[p.start_min : p.end_min] += 1
        if not np.all(minutes == 1):
            raise ValueError(f"tariff {self.name}: periods must cover the day exactly once")

    def minute_prices_yuan_per_mwh(self) -> np.ndarray:
        """Price for each minute of the local day (length 1440)."""
        out = np.empty(MINUTES_PER_DAY)
        for p in self.periods:
            out[p.start_min : p.end_min] = self.prices_yuan_per_mwh[p.period]
        return out


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def load_tariff(name_or_path: str | Path) -> Tariff:
    """Load a tariff from a YAML file path or a name under energy/data/tariffs/."""
    path = Path(name_or_path)
    if not path.exists():
        path = TARIFF_DIR / f"{name_or_path}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    periods = tuple(
        TouPeriod(_minutes(p["start"]), _minutes(p["end"]), str(p["period"]))
        for p in raw["periods"]
    )
    return Tariff(
        name=str(raw["name"]),
        version=str(raw["version"]),
        timezone=str(raw.get("timezone", "Asia/Shanghai")),
        prices_yuan_per_mwh={k: float(v) for k, v in raw["prices_yuan_per_mwh"].items()},
        periods=periods,
        demand_charge_yuan_per_kw_month=float(raw.get("demand_charge_yuan_per_kw_month", 0.0)),
        export_price_yuan_per_mwh=float(raw.get("export_price_yuan_per_mwh", 0.0)),
        source=str(raw.get("source", "")),
    )


def price_series(index: pd.DatetimeIndex, tariff: Tariff) -> pd.Series:
    """Energy price (yuan/MWh) at each interval start of ``index``, by the tariff's local time.

    A naive index is taken as already in the tariff's local time zone.
    """
    local = index.tz_convert(tariff.timezone) if index.tz is not None else index
    minute_of_day = np.asarray(local.hour * 60 + local.minute, dtype=int)
    prices = tariff.minute_prices_yuan_per_mwh()[minute_of_day]
    return pd.Series(prices, index=index, name="price_yuan_per_mwh")


def period_series(index: pd.DatetimeIndex, tariff: Tariff) -> pd.Series:
    """Name of the TOU period (e.g. 'peak', 'valley') at each interval start of ``index``."""
    local = index.tz_convert(tariff.timezone) if index.tz is not None else index
    minute_of_day = np.asarray(local.hour * 60 + local.minute, dtype=int)
    names = np.empty(MINUTES_PER_DAY, dtype=object)
    for p in tariff.periods:
        names[p.start_min : p.end_min] = p.period
    return pd.Series(names[minute_of_day], index=index, name="period")
