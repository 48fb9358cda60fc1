"""A meter's value resolution: the smallest step of its readings, in the carrier's canonical unit.

Null keeps the carrier's default (energy/data/units.yaml); answers round values to it.

Revision ID: 0017_meter_resolution
Revises: 0015_read_perf
"""

from __future__ import annotations

from alembic import op

revision = "0017_meter_resolution"
down_revision = "0015_read_perf"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE meters ADD COLUMN value_resolution float8
    CONSTRAINT meters_value_resolution_check CHECK (value_resolution > 0)
    CONSTRAINT value_resolution_finite CHECK (abs(value_resolution) < 'Infinity'::float8);
"""


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(SCHEMA)


def downgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        "ALTER TABLE meters DROP COLUMN IF EXISTS value_resolution;")
