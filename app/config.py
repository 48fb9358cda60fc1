"""Service configuration from the environment (prefix ``ZCPARK_``; plain ``DATABASE_URL`` too)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_ceilings() -> dict[str, float]:
    """Per-carrier plausibility ceilings (canonical unit per hour), app/data/plausibility.yaml."""
    text = resources.files("app.data").joinpath("plausibility.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    return {str(k): float(v) for k, v in doc["ceilings_per_hour"].items()}


def default_data_dir() -> Path:
    """The user's data folder for zcpark (platformdirs: ~/.local/share/zcpark on Linux,
    ~/Library/Application Support/zcpark on macOS, %LOCALAPPDATA%\\zcpark on Windows)."""
    import platformdirs

    return platformdirs.user_data_path("zcpark", appauthor=False)


class Settings(BaseSettings):
    """All settings of the service; every field can be set as ``ZCPARK_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ZCPARK_", extra="ignore")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "ZCPARK_DATABASE_URL")
    )
    """PostgreSQL URL; None starts the embedded server in ``data_dir``."""
    data_dir: Path = Field(default_factory=default_data_dir)
    """Folder of the embedded server's data: one per user (the platform's user data folder,
    e.g. ~/.local/share/zcpark), whatever folder a command is started from."""
    max_batch_rows: int = 2_000_000
    max_body_bytes: int = 200 * 1024 * 1024
    scheduler_enabled: bool = True
    completeness_interval_minutes: int = 60
    timezone: str = "Asia/Shanghai"
    aggregate_refresh: str = "background"
    """TimescaleDB only: "background" refreshes the continuous aggregates for a batch's range in a
    worker thread right after commit (readable seconds later; real-time aggregation covers new
    data meanwhile); "sync" refreshes before answering the upload."""
    timescale: str = "auto"
    """auto: use TimescaleDB when the extension is available; on: require it; off: plain tables."""
    pv_alert_share_of_expected: float | None = Field(default=None, gt=0, le=1)
    """A clear day with measured PV energy below this share of expected raises a
    ``pv_underperformance`` alert; None: energy/data/pv_defaults.yaml (performance)."""
    pv_performance_hour: int = Field(default=2, ge=0, le=23)
    """Local hour at which the daily PV performance job checks yesterday."""
    plausibility_ceilings_per_hour: dict[str, float] = Field(default_factory=_default_ceilings)
    """Largest plausible consumption per hour of one meter, in the carrier's canonical unit."""
    storage_max_steps: int = 35_136
    """Largest dispatch horizon in steps (366 days at 15 minutes); more is answered 413."""
    storage_plan_time: str = "17:00"
    """Local time (Asia/Shanghai) at which tomorrow's storage plans are published."""
    storage_safety_interval_minutes: int = 15
    scenario_poll_seconds: float = 5.0
    """How often the scheduler process looks for queued scenario runs."""
    scenario_lease_minutes: float = 60.0
    """Longest a scenario run may take; a running row past its lease is claimed again."""
    scenario_executor: Literal["process", "inline"] = "process"
    """process: runs in a worker process next to the scheduler; inline: in the job's thread."""
    demo_readings: bool = False
    """Set by ``zcpark serve --demo``: the scheduler adds the demo meters' readings every 15
    minutes, so the demo keeps running up to the present."""
    dask_scheduler_address: str | None = None
    """Dask scheduler (e.g. tcp://host:8786) for `zcpark sweep` on a cluster (the dask extra)."""


@lru_cache
def get_settings() -> Settings:
    """Settings read once from the environment."""
    return Settings()
