"""The virtual power plant: flexible resources, demand-response events, plans and settlements.

- flex_resources: loads an enterprise (or the operator) registers as flexible, each behind one of
  that enterprise's meters. The storage station(s) and PV arrays are flexible resources too, but
  they are derived from storage_assets and pv_arrays when read, never copied here.
- dr_events: the current version of each demand-response event (one row per event id);
  dr_event_versions: every version as received (the audit trail: an identical resend adds
  nothing, a modified event adds a version and updates the current row).
- dr_plans / dr_instructions: a plan for one version of an event and its per-resource, per-step
  instructions; at most one current plan per event (``superseded_at`` NULL).
- dr_settlements: delivered energy and revenue per resource, enterprise and park line of an
  event version (one line per key, so a settlement run twice writes each line once).

Same on both storage layouts (no readings tables involved).

Revision ID: 0011_vpp
Revises: 0010_keys_registry
"""

from __future__ import annotations

from alembic import op

revision = "0011_vpp"
down_revision = "0010_keys_registry"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE flex_resources (
    id serial PRIMARY KEY,
    code varchar(64) NOT NULL,
    enterprise_id integer NOT NULL REFERENCES enterprises(id),
    kind varchar(16) NOT NULL
        CHECK (kind IN ('curtailable', 'shiftable', 'storage', 'pv_curtailment')),
    meter_id integer NOT NULL REFERENCES meters(id),
    max_reduction_kw double precision NOT NULL
        CHECK (max_reduction_kw > 0 AND max_reduction_kw < 'Infinity'),
    min_notice_minutes integer NOT NULL CHECK (min_notice_minutes >= 0),
    max_duration_minutes integer NOT NULL CHECK (max_duration_minutes > 0),
    max_events_per_month integer NOT NULL CHECK (max_events_per_month >= 0),
    rebound_fraction double precision NOT NULL DEFAULT 0
        CHECK (rebound_fraction >= 0 AND rebound_fraction <= 1),
    cost_yuan_per_kwh double precision NOT NULL DEFAULT 0
        CHECK (cost_yuan_per_kwh >= 0 AND cost_yuan_per_kwh < 'Infinity'),
    created_by integer REFERENCES api_keys(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT flex_resources_enterprise_code_key UNIQUE (enterprise_id, code)
);
CREATE INDEX flex_resources_meter_idx ON flex_resources (meter_id);

CREATE TABLE dr_events (
    id varchar(128) PRIMARY KEY,
    version integer NOT NULL CHECK (version > 0),
    status varchar(16) NOT NULL CHECK (status IN ('active', 'cancelled')),
    start_ts timestamptz NOT NULL,
    end_ts timestamptz NOT NULL,
    direction varchar(8) NOT NULL CHECK (direction IN ('reduce', 'increase')),
    target_kw double precision NOT NULL CHECK (target_kw > 0 AND target_kw < 'Infinity'),
    price_yuan_per_kwh double precision NOT NULL
        CHECK (price_yuan_per_kwh >= 0 AND price_yuan_per_kwh < 'Infinity'),
    notified_at timestamptz NOT NULL,
    source varchar(16) NOT NULL CHECK (source IN ('api', 'openadr')),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT dr_events_check CHECK (end_ts > start_ts)
);
CREATE INDEX dr_events_start_idx ON dr_events (start_ts);

CREATE TABLE dr_event_versions (
    event_id varchar(128) NOT NULL REFERENCES dr_events(id),
    version integer NOT NULL,
    status varchar(16) NOT NULL CHECK (status IN ('active', 'cancelled')),
    start_ts timestamptz NOT NULL,
    end_ts timestamptz NOT NULL,
    direction varchar(8) NOT NULL,
    target_kw double precision NOT NULL,
    price_yuan_per_kwh double precision NOT NULL,
    notified_at timestamptz NOT NULL,
    source varchar(16) NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'::jsonb,
    api_key_id integer REFERENCES api_keys(id),
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (event_id, version)
);

CREATE TABLE dr_plans (
    id bigserial PRIMARY KEY,
    event_id varchar(128) NOT NULL,
    event_version integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    status varchar(16) NOT NULL,
    shortfall_kw double precision NOT NULL DEFAULT 0
        CHECK (shortfall_kw >= 0 AND shortfall_kw < 'Infinity'),
    objective double precision CHECK (abs(objective) < 'Infinity'),
    provenance jsonb NOT NULL DEFAULT '{}'::jsonb,
    superseded_at timestamptz,
    CONSTRAINT dr_plans_event_version_fkey FOREIGN KEY (event_id, event_version)
        REFERENCES dr_event_versions(event_id, version)
);
CREATE INDEX dr_plans_event_idx ON dr_plans (event_id, event_version);
CREATE UNIQUE INDEX dr_plans_one_current_idx ON dr_plans (event_id) WHERE superseded_at IS NULL;

CREATE TABLE dr_instructions (
    id bigserial PRIMARY KEY,
    plan_id bigint NOT NULL REFERENCES dr_plans(id) ON DELETE CASCADE,
    resource_code varchar(80) NOT NULL,
    resource_kind varchar(16) NOT NULL
        CHECK (resource_kind IN ('curtailable', 'shiftable', 'storage', 'pv_curtailment')),
    enterprise_id integer REFERENCES enterprises(id),
    step_start timestamptz NOT NULL,
    power_kw double precision NOT NULL CHECK (abs(power_kw) < 'Infinity'),
    deadline timestamptz NOT NULL
);
CREATE UNIQUE INDEX dr_instructions_line_idx
    ON dr_instructions (plan_id, enterprise_id, resource_code, step_start) NULLS NOT DISTINCT;
CREATE INDEX dr_instructions_enterprise_idx ON dr_instructions (enterprise_id);

CREATE TABLE dr_settlements (
    id bigserial PRIMARY KEY,
    event_id varchar(128) NOT NULL,
    event_version integer NOT NULL,
    resource_code varchar(80),
    enterprise_id integer REFERENCES enterprises(id),
    baseline_kwh double precision CHECK (abs(baseline_kwh) < 'Infinity'),
    actual_kwh double precision CHECK (abs(actual_kwh) < 'Infinity'),
    delivered_kwh double precision CHECK (abs(delivered_kwh) < 'Infinity'),
    revenue_yuan double precision CHECK (abs(revenue_yuan) < 'Infinity'),
    shortfall_kwh double precision CHECK (abs(shortfall_kwh) < 'Infinity'),
    method jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT dr_settlements_event_version_fkey FOREIGN KEY (event_id, event_version)
        REFERENCES dr_event_versions(event_id, version)
);
CREATE UNIQUE INDEX dr_settlements_line_idx
    ON dr_settlements (event_id, event_version, enterprise_id, resource_code) NULLS NOT DISTINCT;
CREATE INDEX dr_settlements_enterprise_idx ON dr_settlements (enterprise_id);
"""


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(SCHEMA)


def downgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        "DROP TABLE IF EXISTS dr_settlements, dr_instructions, dr_plans, dr_event_versions,"
        " dr_events, flex_resources;"
    )
