"""PV arrays, roofs (rooftop potential) and weather stations (meters of weather quantities)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, check, finite_checks, one_of
from app.models.core import Enterprise, Meter

WEATHER_QUANTITIES: tuple[str, ...] = ("ghi", "temp_air", "wind_speed", "dni", "dhi")
"""Carriers (energy/data/units.yaml) a station may measure; ghi and temp_air are required."""


class WeatherStation(Base):
    """A station whose quantities are ordinary meters (uploaded through ``POST /v1/readings``)."""

    __tablename__ = "weather_stations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    ghi_meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    temp_air_meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    wind_speed_meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))
    dni_meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))
    dhi_meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))
    shared: Mapped[bool] = mapped_column(Boolean, server_default="false")
    """True: park-shared (any key may list and attach it); False: private to ``enterprise``."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")

    def meter_ids(self) -> dict[str, int]:
        """Quantity → meter id, for the quantities this station measures."""
        ids = {q: getattr(self, f"{q}_meter_id") for q in WEATHER_QUANTITIES}
        return {q: i for q, i in ids.items() if i is not None}


class PvArray(Base):
    """A rooftop array; its zone is its enterprise's zone; its code is unique within it."""

    __tablename__ = "pv_arrays"
    __table_args__ = (UniqueConstraint("enterprise_id", "code",
                                       name="pv_arrays_enterprise_code_key"),
                      UniqueConstraint("meter_id", name="pv_arrays_meter_id_key"),
                      Index("pv_arrays_code_idx", "code"),
                      Index("pv_arrays_enterprise_idx", "enterprise_id"),
                      check("pv_arrays", "capacity_kwp", "capacity_kwp > 0"),
                      check("pv_arrays", "ac_kw", "ac_kw > 0"),
                      check("pv_arrays", "tilt_deg", "tilt_deg BETWEEN 0 AND 90"),
                      check("pv_arrays", "azimuth_deg", "azimuth_deg >= 0 AND azimuth_deg <= 360"),
                      one_of("pv_arrays", "mounting", ("roof_flush", "open_rack")),
                      *finite_checks("capacity_kwp", "ac_kw", "tilt_deg", "azimuth_deg",
                                     "gamma_pdc_per_c", "degradation_pct_per_year"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    name: Mapped[str | None] = mapped_column(Text)
    capacity_kwp: Mapped[float] = mapped_column(Float)
    ac_kw: Mapped[float] = mapped_column(Float)
    tilt_deg: Mapped[float] = mapped_column(Float)
    azimuth_deg: Mapped[float] = mapped_column(Float)
    mounting: Mapped[str] = mapped_column(String(16))
    losses_pct: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict,
                                                      server_default=text("'{}'::jsonb"))
    """Overrides of ``pvlib.pvsystem.pvwatts_losses`` defaults, percent."""
    gamma_pdc_per_c: Mapped[float] = mapped_column(Float)
    degradation_pct_per_year: Mapped[float] = mapped_column(Float)
    install_year: Mapped[int | None] = mapped_column(Integer)
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))
    weather_station_id: Mapped[int | None] = mapped_column(ForeignKey("weather_stations.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
    meter: Mapped[Meter | None] = relationship(lazy="joined")
    weather_station: Mapped[WeatherStation | None] = relationship(lazy="joined")


class Roof(Base):
    """A roof of an enterprise, for the phase-1 "every usable roof" potential."""

    __tablename__ = "pv_roofs"
    __table_args__ = (UniqueConstraint("enterprise_id", "name",
                                       name="pv_roofs_enterprise_id_name_key"),
                      check("pv_roofs", "roof_area_m2", "roof_area_m2 > 0"),
                      check("pv_roofs", "usable_share", "usable_share BETWEEN 0 AND 1"),
                      check("pv_roofs", "tilt_deg", "tilt_deg BETWEEN 0 AND 90"),
                      check("pv_roofs", "azimuth_deg", "azimuth_deg >= 0 AND azimuth_deg <= 360"),
                      *finite_checks("roof_area_m2", "usable_share", "tilt_deg", "azimuth_deg"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    name: Mapped[str] = mapped_column(Text)
    roof_area_m2: Mapped[float] = mapped_column(Float)
    usable_share: Mapped[float | None] = mapped_column(Float)
    tilt_deg: Mapped[float | None] = mapped_column(Float)
    azimuth_deg: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
