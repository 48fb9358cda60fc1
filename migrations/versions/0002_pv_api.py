"""PV: weather stations (meters of weather quantities), PV arrays, roofs for rooftop potential.

Revision ID: 0002_pv_api
Revises: 0001_foundation
"""

from __future__ import annotations

from alembic import op

revision = "0002_pv_api"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE weather_stations (
    id serial PRIMARY KEY,
    code varchar(64) NOT NULL UNIQUE,
    name text,
    enterprise_id integer NOT NULL REFERENCES enterprises(id),
    ghi_meter_id integer NOT NULL REFERENCES meters(id),
    temp_air_meter_id integer NOT NULL REFERENCES meters(id),
    wind_speed_meter_id integer REFERENCES meters(id),
    dni_meter_id integer REFERENCES meters(id),
    dhi_meter_id integer REFERENCES meters(id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE pv_arrays (
    id serial PRIMARY KEY,
    code varchar(64) NOT NULL UNIQUE,
    enterprise_id integer NOT NULL REFERENCES enterprises(id),
    name text,
    capacity_kwp double precision NOT NULL CHECK (capacity_kwp > 0),
    ac_kw double precision NOT NULL CHECK (ac_kw > 0),
    tilt_deg double precision NOT NULL CHECK (tilt_deg BETWEEN 0 AND 90),
    azimuth_deg double precision NOT NULL CHECK (azimuth_deg >= 0 AND azimuth_deg <= 360),
    mounting varchar(16) NOT NULL CHECK (mounting IN ('roof_flush', 'open_rack')),
    losses_pct jsonb NOT NULL DEFAULT '{}'::jsonb,
    gamma_pdc_per_c double precision NOT NULL,
    degradation_pct_per_year double precision NOT NULL,
    install_year integer,
    meter_id integer UNIQUE REFERENCES meters(id),
    weather_station_id integer REFERENCES weather_stations(id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pv_arrays_enterprise_idx ON pv_arrays (enterprise_id);
CREATE TABLE pv_roofs (
    id serial PRIMARY KEY,
    enterprise_id integer NOT NULL REFERENCES enterprises(id),
    name text NOT NULL,
    roof_area_m2 double precision NOT NULL CHECK (roof_area_m2 > 0),
    usable_share double precision CHECK (usable_share BETWEEN 0 AND 1),
    tilt_deg double precision CHECK (tilt_deg BETWEEN 0 AND 90),
    azimuth_deg double precision CHECK (azimuth_deg >= 0 AND azimuth_deg <= 360),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (enterprise_id, name)
);
"""


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(SCHEMA)


def downgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        "DROP TABLE IF EXISTS pv_roofs, pv_arrays, weather_stations CASCADE")
