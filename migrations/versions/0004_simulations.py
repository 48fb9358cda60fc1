"""Simulations: queued scenario runs (status, KPIs) and their artifacts (series CSV, plot PNGs
stored as bytea).

Revision ID: 0004_simulations
Revises: 0003_storage
"""

from __future__ import annotations

from alembic import op

revision = "0004_simulations"
down_revision = "0003_storage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE scenario_runs (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    status varchar(16) NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed')),
    scenario jsonb NOT NULL,
    created_by integer REFERENCES api_keys(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    lease_until timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    error text,
    kpis jsonb
)""")
    op.execute("CREATE INDEX scenario_runs_pending ON scenario_runs (created_at, id)"
               " WHERE status IN ('queued', 'running')")
    op.execute("""
CREATE TABLE scenario_artifacts (
    run_id bigint NOT NULL REFERENCES scenario_runs(id) ON DELETE CASCADE,
    name text NOT NULL,
    media_type text NOT NULL,
    content bytea NOT NULL,
    PRIMARY KEY (run_id, name)
)""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS scenario_artifacts, scenario_runs CASCADE")
