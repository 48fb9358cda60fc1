"""Reading partitions by month list: only the months that receive rows, without blocking uploads.

``zcpark_ensure_reading_months(months date[])`` creates the missing monthly partitions among
``months`` (plain layout; a no-op on TimescaleDB, whose chunks are automatic). The global lock is
taken only when a partition is missing, and a partition is attached with ATTACH PARTITION (SHARE
UPDATE EXCLUSIVE on ``readings``), so uploads into existing months go on meanwhile.

Revision ID: 0009_reading_partitions
Revises: 0008_mrv
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0009_reading_partitions"
down_revision = "0008_mrv"
branch_labels = None
depends_on = None

PLAIN = """
CREATE FUNCTION zcpark_ensure_reading_months(months date[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m date;
    created integer := 0;
    part text;
    missing date[];
BEGIN
    SELECT array_agg(d ORDER BY d) INTO missing
    FROM (SELECT DISTINCT date_trunc('month', x)::date AS d FROM unnest(months) AS x
          WHERE x IS NOT NULL) s
    WHERE to_regclass('readings_' || to_char(d, 'YYYY_MM')) IS NULL;
    IF missing IS NULL THEN
        RETURN 0;
    END IF;
    -- Creators of partitions take turns; a concurrent creator of the same month is tolerated.
    PERFORM pg_advisory_xact_lock(hashtext('zcpark_reading_partitions'));
    FOREACH m IN ARRAY missing LOOP
        part := 'readings_' || to_char(m, 'YYYY_MM');
        BEGIN
            EXECUTE format('CREATE TABLE %I (LIKE readings INCLUDING DEFAULTS'
                           ' INCLUDING CONSTRAINTS)', part);
            EXECUTE format('ALTER TABLE readings ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           part, m::timestamp AT TIME ZONE 'UTC',
                           (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
            created := created + 1;
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;  -- made meanwhile by another upload
        END;
    END LOOP;
    RETURN created;
END $$;
"""

TIMESCALE = """
CREATE FUNCTION zcpark_ensure_reading_months(months date[])
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;
"""


def upgrade() -> None:
    bind = op.get_bind()
    partitioned = bind.execute(text(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('readings')")).scalar()
    # Straight to psycopg without parameters, so '%' in the SQL is not read as a placeholder.
    bind.connection.driver_connection.execute(PLAIN if partitioned else TIMESCALE)


def downgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        "DROP FUNCTION IF EXISTS zcpark_ensure_reading_months(date[])")
