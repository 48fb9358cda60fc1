"""A log of committed changes to what ledgers and park totals are computed from, so a cached
answer can be keyed on the data it was computed from (the same in every worker).

- data_changes: one row per write statement on ingest_batches (every readings upload writes
  its batch row in the same transaction as its readings and, on plain PostgreSQL, the day
  rollup), meters, enterprises and the carbon inputs (activity, instruments, periods, frozen
  ledgers), written by statement-level triggers. Rows are only ever inserted, so the count and
  largest id of the rows a transaction sees change whenever one of those writes has committed.

Revision ID: 0015_read_perf
Revises: 0011_vpp
"""

from __future__ import annotations

from alembic import op

revision = "0015_read_perf"
down_revision = "0011_vpp"
branch_labels = None
depends_on = None

WATCHED = ("ingest_batches", "meters", "enterprises", "carbon_activity", "carbon_instruments",
           "carbon_periods", "carbon_frozen_ledgers")
"""Tables whose writes change a ledger or a park total."""

SCHEMA = """
CREATE TABLE data_changes (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION zcpark_note_data_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_changes (source) VALUES (TG_TABLE_NAME);
    RETURN NULL;
END $$;
""" + "".join(
    f"CREATE TRIGGER {t}_data_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {t}"
    " FOR EACH STATEMENT EXECUTE FUNCTION zcpark_note_data_change();\n" for t in WATCHED)


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(SCHEMA)


def downgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        "".join(f"DROP TRIGGER IF EXISTS {t}_data_change ON {t};" for t in WATCHED)
        + " DROP FUNCTION IF EXISTS zcpark_note_data_change();"
        " DROP TABLE IF EXISTS data_changes;")
