"""Carbon API: activity data (value added, green instruments, process CO2, guiding-indicator
inputs) with batches and an audit trail; closed periods with frozen ledgers and their events.

Revision ID: 0005_carbon_api
Revises: 0004_simulations (chained after main's revisions when merging main)
"""

from __future__ import annotations

from alembic import op

revision = "0005_carbon_api"
down_revision = "0004_simulations"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE carbon_activity_batches (
    id bigserial PRIMARY KEY,
    api_key_id integer REFERENCES api_keys(id),
    enterprise_id integer REFERENCES enterprises(id),
    received_at timestamptz NOT NULL DEFAULT now(),
    payload_sha256 varchar(64) NOT NULL,
    rows integer NOT NULL,
    inserted integer NOT NULL,
    unchanged integer NOT NULL,
    revised integer NOT NULL
);
CREATE TABLE carbon_activity (
    id bigserial PRIMARY KEY,
    enterprise_id integer NOT NULL REFERENCES enterprises(id),
    period varchar(7) NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    months integer NOT NULL CHECK (months IN (1, 3, 12)),
    quantity varchar(48) NOT NULL,
    value double precision NOT NULL CHECK (value >= 0),
    batch_id bigint NOT NULL REFERENCES carbon_activity_batches(id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (enterprise_id, period, quantity)
);
CREATE INDEX carbon_activity_span_idx ON carbon_activity (period_start, period_end);
CREATE TABLE carbon_activity_revisions (
    id bigserial PRIMARY KEY,
    activity_id bigint NOT NULL REFERENCES carbon_activity(id),
    old_value double precision NOT NULL,
    new_value double precision NOT NULL,
    old_batch_id bigint NOT NULL,
    batch_id bigint NOT NULL,
    revised_by integer REFERENCES api_keys(id),
    revised_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX carbon_activity_revisions_idx ON carbon_activity_revisions (activity_id);
CREATE TABLE carbon_periods (
    period varchar(7) PRIMARY KEY,
    status varchar(8) NOT NULL CHECK (status IN ('closed', 'open')),
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE carbon_period_events (
    id bigserial PRIMARY KEY,
    period varchar(7) NOT NULL,
    action varchar(8) NOT NULL CHECK (action IN ('close', 'reopen')),
    reason text,
    api_key_id integer REFERENCES api_keys(id),
    actor text NOT NULL,
    ledgers integer NOT NULL DEFAULT 0,
    park_input_hash varchar(64),
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX carbon_period_events_idx ON carbon_period_events (period, id);
CREATE TABLE carbon_frozen_ledgers (
    period varchar(7) NOT NULL,
    scope varchar(16) NOT NULL CHECK (scope IN ('park', 'enterprise')),
    code varchar(64) NOT NULL,
    event_id bigint NOT NULL REFERENCES carbon_period_events(id),
    input_hash varchar(64) NOT NULL,
    ledger jsonb NOT NULL,
    PRIMARY KEY (period, scope, code)
);
"""


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(SCHEMA)


def downgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        "DROP TABLE IF EXISTS carbon_frozen_ledgers, carbon_period_events, carbon_periods,"
        " carbon_activity_revisions, carbon_activity, carbon_activity_batches CASCADE"
    )
