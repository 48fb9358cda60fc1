"""MRV: green-electricity instruments (claimed once park-wide, batches, audited revisions);
versioned closes of a month (every close keeps its frozen ledgers). Green-instrument activity
records are copied into instruments (the records stay as history; the ledger no longer reads
them).

Revision ID: 0008_mrv
Revises: 0007_job_runs
"""

from __future__ import annotations

from alembic import op

revision = "0008_mrv"
down_revision = "0007_job_runs"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE carbon_instrument_batches (
    id bigserial PRIMARY KEY,
    api_key_id integer REFERENCES api_keys(id),
    enterprise_id integer REFERENCES enterprises(id),
    received_at timestamptz NOT NULL DEFAULT now(),
    payload_sha256 varchar(64) NOT NULL,
    rows integer NOT NULL,
    inserted integer NOT NULL DEFAULT 0,
    unchanged integer NOT NULL DEFAULT 0,
    revised integer NOT NULL DEFAULT 0
);
CREATE TABLE carbon_instruments (
    id varchar(128) PRIMARY KEY,
    enterprise_id integer NOT NULL REFERENCES enterprises(id),
    kind varchar(24) NOT NULL CHECK (kind IN ('direct_supply', 'green_power_trade', 'gec')),
    period varchar(7) NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    mwh double precision NOT NULL CHECK (mwh > 0 AND mwh < 'Infinity'),
    bundled_with varchar(128) REFERENCES carbon_instruments(id) DEFERRABLE INITIALLY DEFERRED,
    source text NOT NULL DEFAULT '',
    batch_id bigint NOT NULL REFERENCES carbon_instrument_batches(id),
    claimed_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX carbon_instruments_span_idx ON carbon_instruments (period_start, period_end);
CREATE INDEX carbon_instruments_ent_idx ON carbon_instruments (enterprise_id, period);
CREATE TABLE carbon_instrument_revisions (
    id bigserial PRIMARY KEY,
    instrument_id varchar(128) NOT NULL REFERENCES carbon_instruments(id),
    old jsonb NOT NULL,
    new jsonb NOT NULL,
    old_batch_id bigint NOT NULL,
    batch_id bigint NOT NULL,
    revised_by integer REFERENCES api_keys(id),
    revised_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX carbon_instrument_revisions_idx ON carbon_instrument_revisions (instrument_id);

-- every close is a version; earlier versions stay
ALTER TABLE carbon_periods ADD COLUMN version integer NOT NULL DEFAULT 0;
ALTER TABLE carbon_period_events ADD COLUMN version integer;
ALTER TABLE carbon_frozen_ledgers ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE carbon_frozen_ledgers DROP CONSTRAINT carbon_frozen_ledgers_pkey;
ALTER TABLE carbon_frozen_ledgers ADD PRIMARY KEY (period, version, scope, code);
UPDATE carbon_periods p SET version = 1
 WHERE EXISTS (SELECT 1 FROM carbon_frozen_ledgers f WHERE f.period = p.period);
UPDATE carbon_period_events e SET version = 1
 WHERE action = 'close' AND id = (SELECT max(id) FROM carbon_period_events x
                                  WHERE x.period = e.period AND x.action = 'close');

-- green instruments recorded as activity quantities become instruments
WITH legacy AS (
    SELECT a.* FROM carbon_activity a
    WHERE a.quantity IN ('green_certificates_mwh', 'green_power_trades_mwh',
                         'direct_green_supply_mwh') AND a.value > 0
), batch AS (
    INSERT INTO carbon_instrument_batches (payload_sha256, rows, inserted)
    SELECT 'migration-0010', count(*), count(*) FROM legacy HAVING count(*) > 0
    RETURNING id
)
INSERT INTO carbon_instruments (id, enterprise_id, kind, period, period_start, period_end, mwh,
                                source, batch_id)
SELECT 'activity-' || l.id, l.enterprise_id,
       CASE l.quantity WHEN 'green_certificates_mwh' THEN 'gec'
                       WHEN 'green_power_trades_mwh' THEN 'green_power_trade'
                       ELSE 'direct_supply' END,
       l.period, l.period_start, l.period_end, l.value,
       'migrated from activity record ' || l.id || ' (' || l.quantity || ')', b.id
FROM legacy l CROSS JOIN batch b;
"""


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(SCHEMA)


def downgrade() -> None:
    op.get_bind().connection.driver_connection.execute("""
        DELETE FROM carbon_frozen_ledgers f WHERE version < (
            SELECT max(version) FROM carbon_frozen_ledgers x WHERE x.period = f.period);
        ALTER TABLE carbon_frozen_ledgers DROP CONSTRAINT carbon_frozen_ledgers_pkey;
        ALTER TABLE carbon_frozen_ledgers ADD PRIMARY KEY (period, scope, code);
        ALTER TABLE carbon_frozen_ledgers DROP COLUMN version;
        ALTER TABLE carbon_period_events DROP COLUMN version;
        ALTER TABLE carbon_periods DROP COLUMN version;
        DROP TABLE IF EXISTS carbon_instrument_revisions, carbon_instruments,
            carbon_instrument_batches CASCADE;
    """)
