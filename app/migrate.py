"""Run Alembic migrations programmatically; the script folder is found from the package."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

import migrations
from app.db import readings_on_timescale
from app.repositories.readings import refresh_aggregates


def alembic_config(engine: Engine, *, use_timescale: str = "auto") -> Config:
    """An Alembic config pointing at the ``migrations`` package; ``use_timescale``: auto|on|off."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    cfg.attributes["use_timescale"] = use_timescale
    return cfg


def upgrade(engine: Engine, *, use_timescale: str = "auto") -> None:
    """Bring the schema to the newest revision (idempotent)."""
    cfg = alembic_config(engine, use_timescale=use_timescale)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    refresh_quarantined_days(engine)


def refresh_quarantined_days(engine: Engine) -> None:
    """TimescaleDB: re-materialise the continuous aggregates over readings that migration
    0006_finite_guards quarantined (their non-finite values may be materialised); once."""
    with engine.connect() as conn:
        if not readings_on_timescale(conn) or conn.execute(
                text("SELECT to_regclass('quarantined_rows')")).scalar() is None:
            return
        span = conn.execute(text(
            "SELECT min((row_data::json->>'start_ts')::timestamptz),"
            " max((row_data::json->>'start_ts')::timestamptz), max(id) FROM quarantined_rows"
            " WHERE table_name = 'readings' AND aggregates_refreshed_at IS NULL")).one()
    if span[0] is None:
        return
    refresh_aggregates(engine, span[0], span[1] + timedelta(hours=1))
    with engine.begin() as conn:
        conn.execute(text(
            "UPDATE quarantined_rows SET aggregates_refreshed_at = now() WHERE table_name ="
            " 'readings' AND aggregates_refreshed_at IS NULL AND id <= :last"), {"last": span[2]})
