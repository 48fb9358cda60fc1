"""Time-of-use electricity tariffs as configuration (YAML under energy/data/tariffs/).

Periods and prices are data, never code: Tibet's official periods were not found
in any public source consulted, so the shipped file is illustrative and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import yaml

from energy.site import PARK_TZ

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
    h, m = str(hhmm).split(":")
    return int(h) * 60 + int(m)


class TariffError(ValueError):
    """A tariff that is unknown or does not parse (the message says which field)."""


def shipped_tariffs() -> list[str]:
    """Names of the tariffs shipped under energy/data/tariffs/."""
    return sorted(p.stem for p in TARIFF_DIR.glob("*.yaml"))


def shipped_tariff_document(name: str) -> dict[str, Any]:
    """The mapping of shipped tariff ``name``; TariffError for any other name. Only names listed
    by :func:`shipped_tariffs` are read, so a name never reaches the file system as a path."""
    if name not in shipped_tariffs():
        raise TariffError("unknown tariff")
    return dict(yaml.safe_load((TARIFF_DIR / f"{name}.yaml").read_text(encoding="utf-8")))


def parse_tariff(raw: Mapping[str, Any]) -> Tariff:
    """A tariff from its mapping (the YAML file's fields); TariffError naming the bad field."""
    if not isinstance(raw, Mapping):
        raise TariffError("a tariff must be a mapping")
    try:
        periods_raw = raw["periods"]
        if not isinstance(periods_raw, list) or not periods_raw:
            raise TariffError("periods: give a non-empty list of {start, end, period}")
        periods = tuple(
            TouPeriod(_minutes(p["start"]), _minutes(p["end"]), str(p["period"]))
            for p in periods_raw
        )
        prices = raw["prices_yuan_per_mwh"]
        if not isinstance(prices, Mapping) or not prices:
            raise TariffError("prices_yuan_per_mwh: give a mapping of period to price")
        price_by_period = {str(k): float(v) for k, v in prices.items()}
        demand_charge = float(raw.get("demand_charge_yuan_per_kw_month", 0.0))
        export_price = float(raw.get("export_price_yuan_per_mwh", 0.0))
        flat = [*price_by_period.values(), demand_charge, export_price]
        if not all(np.isfinite(flat)):
            raise TariffError("prices and charges must be finite numbers")
        timezone = str(raw.get("timezone", PARK_TZ))
        ZoneInfo(timezone)
        return Tariff(name=str(raw["name"]), version=str(raw.get("version", "")),
                      timezone=timezone, periods=periods, source=str(raw.get("source", "")),
                      prices_yuan_per_mwh=price_by_period,
                      demand_charge_yuan_per_kw_month=demand_charge,
                      export_price_yuan_per_mwh=export_price)
    except TariffError:
        raise
    except KeyError as exc:
        raise TariffError(f"missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError, ZoneInfoNotFoundError) as exc:
        raise TariffError(str(exc) or type(exc).__name__) from None


def tariff_document(tariff: Tariff) -> dict[str, Any]:
    """The mapping form of ``tariff`` (as in the YAML files); parse_tariff reads it back."""
    def hhmm(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    return {"name": tariff.name, "version": tariff.version, "timezone": tariff.timezone,
            "source": tariff.source,
            "demand_charge_yuan_per_kw_month": tariff.demand_charge_yuan_per_kw_month,
            "export_price_yuan_per_mwh": tariff.export_price_yuan_per_mwh,
            "prices_yuan_per_mwh": dict(tariff.prices_yuan_per_mwh),
            "periods": [{"start": hhmm(p.start_min), "end": hhmm(p.end_min), "period": p.period}
                        for p in tariff.periods]}


def load_tariff(name_or_path: str | Path) -> Tariff:
    """Load a tariff by shipped name, or from a local YAML file path (the command line; the API
    chooses tariffs by name only)."""
    if isinstance(name_or_path, str) and name_or_path in shipped_tariffs():
        return parse_tariff(shipped_tariff_document(name_or_path))
    path = Path(name_or_path)
    if not path.exists():
        path = TARIFF_DIR / f"{name_or_path}.yaml"
    return parse_tariff(yaml.safe_load(path.read_text(encoding="utf-8")))


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
