"""Finite guards: every float column that holds a measured, configured or computed number refuses
NaN and ±Infinity (CHECK ``abs(x) < 'Infinity'``; NaN sorts above Infinity in PostgreSQL).

Rows already holding a non-finite number cannot stay (the park's sums break on them), and must
not vanish without trace: each is copied, whole, into ``quarantined_rows`` with the reason, then
removed (a meter's non-finite setting is cleared instead). Day rollups touched are recomputed from
the readings that remain. Works on plain partitions and on TimescaleDB hypertables (compressed
chunks included); on TimescaleDB the continuous aggregates of the days of quarantined readings
are refreshed right after the migration commits (app.migrate; a refresh cannot run inside it).

Revision ID: 0006_finite_guards
Revises: 0005_carbon_api
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0006_finite_guards"
down_revision = "0005_carbon_api"
branch_labels = None
depends_on = None

# Table -> guarded float columns. Names are ``<column>_finite`` (unique per table).
GUARDED: dict[str, tuple[str, ...]] = {
    "readings": ("value", "register_value"),
    "reading_revisions": ("old_value", "new_value"),
    "meter_days": ("value",),
    "meters": ("rollover_at", "density_kg_per_l", "normal_volume_factor", "max_per_hour"),
    "carbon_activity_revisions": ("old_value", "new_value"),
    "carbon_activity": ("value",),
    "pv_arrays": ("capacity_kwp", "ac_kw", "tilt_deg", "azimuth_deg", "gamma_pdc_per_c",
                  "degradation_pct_per_year"),
    "pv_roofs": ("roof_area_m2", "usable_share", "tilt_deg", "azimuth_deg"),
    "storage_plans": ("objective",),
    "storage_capacity_tests": ("measured_capacity_mwh",),
}
CLEARED = {"meters"}
"""Tables whose bad settings are set to NULL (the row is referenced and stays)."""
SUMMED = {"readings": ("value",), "carbon_activity": ("value",)}
"""Columns whose values are summed: a finite value beyond the API's bound (1e15) is quarantined
too, since it can overflow a day or month sum."""
MAX_ABS_VALUE = 1e15

QUARANTINE = """
CREATE TABLE quarantined_rows (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    row_data text NOT NULL,
    reason text NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    aggregates_refreshed_at timestamptz
)
"""


def _finite(column: str) -> str:
    return f"abs({column}) < 'Infinity'::float8"


def _not_finite(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"NOT ({_finite(c)})" for c in columns)


def _bad(table: str) -> str:
    """Rows that cannot stay: a non-finite number, or a summed value beyond the bound."""
    parts = [_not_finite(GUARDED[table])]
    parts += [f"abs({c}) > {MAX_ABS_VALUE:g}" for c in SUMMED.get(table, ())]
    if table == "carbon_activity_revisions":  # the trail of an activity row that goes
        bad_activity = _bad("carbon_activity")
        parts.append(f"activity_id IN (SELECT id FROM carbon_activity WHERE {bad_activity})")
    return " OR ".join(parts)


def upgrade() -> None:
    bind = op.get_bind()
    bind.execute(text(QUARANTINE))
    plain = bind.execute(text("SELECT to_regclass('readings_daily') IS NULL")).scalar()
    bad_readings = bind.execute(text(
        "SELECT DISTINCT meter_id, (start_ts AT TIME ZONE 'Asia/Shanghai')::date FROM readings"
        f" WHERE {_bad('readings')}")).all()
    for table, columns in GUARDED.items():
        where = _bad(table)
        bind.execute(text(
            f"INSERT INTO quarantined_rows (table_name, row_data, reason)"
            f" SELECT '{table}', row_to_json(t)::text,"
            f" 'non-finite number, or a summed value beyond ±{MAX_ABS_VALUE:g}'"
            f" FROM {table} t WHERE {where}"))
        if table in CLEARED:
            for c in columns:
                bind.execute(text(f"UPDATE {table} SET {c} = NULL WHERE NOT ({_finite(c)})"))
        else:
            bind.execute(text(f"DELETE FROM {table} WHERE {where}"))
    if bad_readings and plain:  # meter_days is the day rollup of the plain layout only
        bind.execute(text("""
            INSERT INTO meter_days (meter_id, day, value, n, n_flagged)
            SELECT d.meter_id, d.day, sum(r.value), count(*),
                   count(*) FILTER (WHERE r.quality <> 'ok')
            FROM unnest(CAST(:m AS integer[]), CAST(:d AS date[])) AS d(meter_id, day)
            JOIN readings r ON r.meter_id = d.meter_id
                 AND r.start_ts >= (d.day::timestamp AT TIME ZONE 'Asia/Shanghai')
                 AND r.start_ts < ((d.day + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
            GROUP BY d.meter_id, d.day
            ON CONFLICT (meter_id, day) DO UPDATE SET value = EXCLUDED.value, n = EXCLUDED.n,
                n_flagged = EXCLUDED.n_flagged
        """), {"m": [m for m, _ in bad_readings], "d": [d for _, d in bad_readings]})
    for table, columns in GUARDED.items():
        for c in columns:
            bind.execute(text(
                f"ALTER TABLE {table} ADD CONSTRAINT {c}_finite CHECK ({_finite(c)})"))


def downgrade() -> None:
    bind = op.get_bind()
    for table, columns in GUARDED.items():
        for c in columns:
            bind.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {c}_finite"))
    bind.execute(text("DROP TABLE IF EXISTS quarantined_rows"))
