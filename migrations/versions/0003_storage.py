"""Storage station: assets, their telemetry meters, published plans, capacity tests.

Revision ID: 0003_storage
Revises: 0001_foundation
"""

from __future__ import annotations

from alembic import op

revision = "0003_storage"
down_revision = "0002_pv_api"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE storage_assets (
    id serial PRIMARY KEY,
    code varchar(64) NOT NULL UNIQUE,
    name text NOT NULL,
    zone text NOT NULL CHECK (zone IN ('A区', 'B区', '综合保税区', '聂当工业园')),
    enterprise_id integer REFERENCES enterprises(id),
    battery jsonb NOT NULL,
    tariff text NOT NULL,
    safety jsonb NOT NULL DEFAULT '{}'::jsonb,
    commissioned_on date,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX storage_assets_enterprise_idx ON storage_assets (enterprise_id);
CREATE TABLE storage_meters (
    asset_id integer NOT NULL REFERENCES storage_assets(id),
    quantity varchar(16) NOT NULL CHECK (quantity IN ('power', 'soc', 'temperature')),
    meter_id integer NOT NULL UNIQUE REFERENCES meters(id),
    PRIMARY KEY (asset_id, quantity)
);
CREATE TABLE storage_plans (
    id bigserial PRIMARY KEY,
    asset_id integer NOT NULL REFERENCES storage_assets(id),
    day date NOT NULL,
    start_ts timestamptz NOT NULL,
    step_minutes integer NOT NULL,
    strategy varchar(16) NOT NULL,
    objective double precision NOT NULL,
    kpis jsonb NOT NULL,
    schedule jsonb NOT NULL,
    inputs jsonb NOT NULL,
    battery jsonb NOT NULL,
    created_by integer REFERENCES api_keys(id),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX storage_plans_current_idx ON storage_plans (asset_id, day, created_at DESC, id DESC);
CREATE TABLE storage_capacity_tests (
    id bigserial PRIMARY KEY,
    asset_id integer NOT NULL REFERENCES storage_assets(id),
    tested_on date NOT NULL,
    measured_capacity_mwh double precision NOT NULL CHECK (measured_capacity_mwh > 0),
    note text,
    created_by integer REFERENCES api_keys(id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX storage_capacity_tests_asset_idx ON storage_capacity_tests (asset_id, tested_on);
"""


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(SCHEMA)


def downgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        "DROP TABLE IF EXISTS storage_capacity_tests, storage_plans, storage_meters,"
        " storage_assets CASCADE;"
    )
