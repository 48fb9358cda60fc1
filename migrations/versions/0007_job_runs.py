"""Scheduled jobs run once per period; one current storage plan per station and day.

- ``job_runs``: one row per (job, period key), claimed by the run that does the work, so a second
  run of a job for the same period (two processes, a retry, a restart) does nothing.
- ``scheduler_leader``: which process leads the scheduler; cleared when a leader steps down, so a
  successor knows whether it must wait out the previous leader's lease first.
- ``storage_plans.superseded_at``: a re-published plan supersedes the current one (kept as
  history); a partial unique index allows at most one current plan per station and day. Days
  that already hold several plans keep the newest as current.

Same on both storage layouts (no readings tables involved).

Revision ID: 0007_job_runs
Revises: 0006_finite_guards
"""

from __future__ import annotations

from alembic import op

revision = "0007_job_runs"
down_revision = "0006_finite_guards"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE job_runs (
    id bigserial PRIMARY KEY,
    job varchar(64) NOT NULL,
    period_key varchar(128) NOT NULL,
    status varchar(8) NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    runner text NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    result jsonb,
    CONSTRAINT job_runs_once UNIQUE (job, period_key)
);
CREATE TABLE scheduler_leader (
    name varchar(32) PRIMARY KEY,
    holder text,
    since timestamptz NOT NULL DEFAULT now(),
    lease_seconds double precision CHECK (lease_seconds > 0 AND lease_seconds < 'Infinity')
);
INSERT INTO scheduler_leader (name) VALUES ('scheduler');
ALTER TABLE storage_plans ADD COLUMN superseded_at timestamptz;
UPDATE storage_plans p SET superseded_at = n.next_at
FROM (SELECT id, lead(created_at) OVER (PARTITION BY asset_id, day
                                        ORDER BY created_at, id) AS next_at
      FROM storage_plans) n
WHERE p.id = n.id AND n.next_at IS NOT NULL;
CREATE UNIQUE INDEX storage_plans_one_current_idx ON storage_plans (asset_id, day)
    WHERE superseded_at IS NULL;
"""


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(SCHEMA)


def downgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        "DROP INDEX IF EXISTS storage_plans_one_current_idx;"
        " ALTER TABLE storage_plans DROP COLUMN IF EXISTS superseded_at;"
        " DROP TABLE IF EXISTS scheduler_leader, job_runs;"
    )
