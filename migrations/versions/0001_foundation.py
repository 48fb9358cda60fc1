"""Foundation: enterprises, API keys, meters, readings (hypertable or partitioned), batches,
revisions, meter-day rollup, alerts.

Revision ID: 0001_foundation
Revises:
"""

from __future__ import annotations

from alembic import context, op
from sqlalchemy import text

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

CORE = """
CREATE TABLE enterprises (
    id serial PRIMARY KEY,
    code varchar(64) NOT NULL UNIQUE,
    name text NOT NULL,
    zone text NOT NULL CHECK (zone IN ('A区', 'B区', '综合保税区', '聂当工业园')),
    industry text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE api_keys (
    id serial PRIMARY KEY,
    key_hash varchar(64) NOT NULL UNIQUE,
    prefix varchar(16) NOT NULL,
    role varchar(16) NOT NULL CHECK (role IN ('operator', 'enterprise', 'planner')),
    enterprise_id integer REFERENCES enterprises(id),
    label text,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK ((role = 'enterprise') = (enterprise_id IS NOT NULL))
);
CREATE TABLE meters (
    id serial PRIMARY KEY,
    code varchar(64) NOT NULL UNIQUE,
    enterprise_id integer NOT NULL REFERENCES enterprises(id),
    carrier varchar(32) NOT NULL,
    unit varchar(16) NOT NULL,
    canonical_unit varchar(16) NOT NULL,
    register varchar(16) NOT NULL CHECK (register IN ('interval', 'cumulative')),
    interval_minutes integer NOT NULL CHECK (interval_minutes > 0 AND 1440 % interval_minutes = 0),
    green_direct_supply boolean NOT NULL DEFAULT false,
    rollover_at double precision,
    density_kg_per_l double precision,
    normal_volume_factor double precision,
    max_per_hour double precision,
    name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meters_enterprise_idx ON meters (enterprise_id);
CREATE TABLE ingest_batches (
    id bigserial PRIMARY KEY,
    api_key_id integer REFERENCES api_keys(id),
    enterprise_id integer REFERENCES enterprises(id),
    received_at timestamptz NOT NULL DEFAULT now(),
    content_type text NOT NULL,
    payload_sha256 varchar(64) NOT NULL,
    rows integer NOT NULL,
    inserted integer NOT NULL,
    unchanged integer NOT NULL,
    revised integer NOT NULL,
    flagged integer NOT NULL
);
CREATE TABLE reading_revisions (
    id bigserial PRIMARY KEY,
    meter_id integer NOT NULL,
    start_ts timestamptz NOT NULL,
    old_value double precision NOT NULL,
    new_value double precision NOT NULL,
    old_quality varchar(16) NOT NULL,
    new_quality varchar(16) NOT NULL,
    old_batch_id bigint NOT NULL,
    batch_id bigint NOT NULL,
    revised_by integer,
    revised_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reading_revisions_meter_idx ON reading_revisions (meter_id, start_ts);
CREATE TABLE meter_days (
    meter_id integer NOT NULL,
    day date NOT NULL,
    value double precision NOT NULL,
    n integer NOT NULL,
    n_flagged integer NOT NULL,
    note text,
    PRIMARY KEY (meter_id, day)
);
CREATE TABLE alerts (
    id bigserial PRIMARY KEY,
    kind varchar(32) NOT NULL,
    meter_id integer REFERENCES meters(id),
    enterprise_id integer REFERENCES enterprises(id),
    period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL,
    message text NOT NULL,
    detail_count integer,
    opened_at timestamptz NOT NULL DEFAULT now(),
    acknowledged_by integer,
    acknowledged_at timestamptz
);
CREATE UNIQUE INDEX alerts_once_idx ON alerts (kind, meter_id, period_start);
"""

# No foreign key from readings to meters: a per-row FK check would halve COPY speed; the ingest
# path only writes meters it has just looked up, and meters are never deleted.
READINGS_COLUMNS = """
    meter_id integer NOT NULL,
    start_ts timestamptz NOT NULL,
    value double precision NOT NULL,
    original_unit varchar(16) NOT NULL,
    quality varchar(16) NOT NULL DEFAULT 'ok',
    register_value double precision,
    batch_id bigint NOT NULL,
    PRIMARY KEY (meter_id, start_ts)
"""

PLAIN = f"""
CREATE TABLE readings ({READINGS_COLUMNS}) PARTITION BY RANGE (start_ts);

-- Monthly (UTC) partitions, created on demand by the ingest path before it writes.
CREATE FUNCTION zcpark_ensure_reading_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m date;
    created integer := 0;
    part text;
BEGIN
    IF from_ts IS NULL OR to_ts IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('zcpark_reading_partitions'));
    m := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
    WHILE m <= (to_ts AT TIME ZONE 'UTC')::date LOOP
        part := 'readings_' || to_char(m, 'YYYY_MM');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
                part, m::timestamp AT TIME ZONE 'UTC',
                (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;
"""

TIMESCALE = f"""
CREATE TABLE readings ({READINGS_COLUMNS});
SELECT create_hypertable('readings', 'start_ts', chunk_time_interval => interval '7 days');

-- Same signature as the plain path, so the ingest code calls it either way; chunks are automatic.
CREATE FUNCTION zcpark_ensure_reading_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;

CREATE MATERIALIZED VIEW readings_hourly WITH (timescaledb.continuous) AS
SELECT meter_id, time_bucket(interval '1 hour', start_ts) AS bucket,
       sum(value) AS value, count(*) AS n, count(*) FILTER (WHERE quality <> 'ok') AS n_flagged
FROM readings GROUP BY meter_id, time_bucket(interval '1 hour', start_ts) WITH NO DATA;

CREATE MATERIALIZED VIEW readings_daily WITH (timescaledb.continuous) AS
SELECT meter_id, time_bucket(interval '1 day', start_ts, 'Asia/Shanghai') AS bucket,
       sum(value) AS value, count(*) AS n, count(*) FILTER (WHERE quality <> 'ok') AS n_flagged
FROM readings GROUP BY meter_id, time_bucket(interval '1 day', start_ts, 'Asia/Shanghai')
WITH NO DATA;

-- Real-time aggregation: rows newer than the last refresh are read from readings until the
-- post-ingest refresh (seconds) has materialised them.
ALTER MATERIALIZED VIEW readings_hourly SET (timescaledb.materialized_only = false);
ALTER MATERIALIZED VIEW readings_daily SET (timescaledb.materialized_only = false);

SELECT add_continuous_aggregate_policy('readings_hourly', start_offset => interval '400 days',
    end_offset => interval '1 hour', schedule_interval => interval '1 hour');
SELECT add_continuous_aggregate_policy('readings_daily', start_offset => interval '400 days',
    end_offset => interval '1 day', schedule_interval => interval '1 hour');
"""

COMPRESSION = """
ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'meter_id',
                          timescaledb.compress_orderby = 'start_ts');
SELECT add_compression_policy('readings', interval '500 days');
"""


def _use_timescale() -> bool:
    wanted = context.config.attributes.get("use_timescale", "auto")
    if wanted == "off":
        return False
    bind = op.get_bind()
    available = bind.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
             " AND current_setting('shared_preload_libraries') LIKE '%timescaledb%'")
    ).first()
    if available is None:
        if wanted == "on":
            raise RuntimeError("ZCPARK_TIMESCALE=on but the timescaledb extension is not available")
        return False
    return True


def _execute_script(script: str) -> None:
    # Straight to psycopg without parameters, so '%' in the SQL is not read as a placeholder.
    op.get_bind().connection.driver_connection.execute(script)


def upgrade() -> None:
    _execute_script(CORE)
    if _use_timescale():
        _execute_script("CREATE EXTENSION IF NOT EXISTS timescaledb")
        _execute_script(TIMESCALE)
        license_ = op.get_bind().execute(
            text("SELECT current_setting('timescaledb.license', true)")
        ).scalar()
        # Compression is a community (Timescale License) feature; the Apache build lacks it.
        if license_ == "timescale":
            _execute_script(COMPRESSION)
    else:
        _execute_script(PLAIN)


def downgrade() -> None:
    _execute_script(
        "DROP MATERIALIZED VIEW IF EXISTS readings_daily CASCADE;"
        "DROP MATERIALIZED VIEW IF EXISTS readings_hourly CASCADE;"
        "DROP TABLE IF EXISTS readings CASCADE;"
        "DROP FUNCTION IF EXISTS zcpark_ensure_reading_partitions(timestamptz, timestamptz);"
        "DROP TABLE IF EXISTS alerts, meter_days, reading_revisions, ingest_batches, meters,"
        " api_keys, enterprises CASCADE;"
    )
