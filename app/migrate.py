"""Run Alembic migrations programmatically; the script folder is found from the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

import migrations


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
