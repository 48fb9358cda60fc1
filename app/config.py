"""Service configuration from the environment (prefix ``ZCPARK_``; plain ``DATABASE_URL`` too)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.schemas.core import MAX_ABS_VALUE


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
    upload_chunk_bytes: int = Field(default=4 << 20, ge=256)
    """Bytes of CSV text a readings upload is read, validated and staged in at a time (about
    100,000 rows of ``meter,ts,value``): the upload's memory grows with this, not the body."""
    upload_chunk_rows: int = Field(default=100_000, ge=1)
    """Records of a JSON readings upload read, validated and staged at a time."""
    upload_earliest: date = date(2000, 1, 1)
    """Earliest accepted reading time (midnight of this day in ``timezone``); earlier rows → 422."""
    upload_future_tolerance_hours: float = Field(default=24.0, ge=0)
    """Readings later than now plus this many hours are rejected as future readings (422)."""
    upload_max_months: int = Field(default=36, ge=1)
    """Most calendar months (UTC) one batch may touch; a wider batch is rejected (422)."""
    upload_lock_timeout_seconds: float = Field(default=60.0, gt=0)
    """Longest an upload waits for another upload of the same meters before it is retried."""
    upload_attempts: int = Field(default=3, ge=1)
    """Attempts of an upload's write transaction on deadlock, serialization failure or lock
    timeout; after the last one the upload answers 503 with Retry-After."""
    max_json_depth: int = Field(default=64, ge=2, le=500)
    """Deepest nesting of arrays and objects read from a JSON body; deeper is answered 422."""
    max_series_points: int = Field(default=50_000, ge=1)
    """Most points one JSON series answer holds (a year of 15-minute readings is 35,136);
    more is answered 422 naming a coarser resolution or ``format=csv``."""
    max_series_points_csv: int = Field(default=2_000_000, ge=1)
    """Most points one CSV series answer holds."""
    scheduler_enabled: bool = True
    scheduler_check_seconds: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    """How often the scheduler's leader re-verifies its lock (it steps down when it is lost)."""
    scheduler_lease_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """How long one verification lets the leader run jobs. A process taking over from a leader
    that vanished without stepping down waits this long first. More than the check interval."""
    scheduler_retry_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """How often a process that does not lead tries to take the lead."""
    completeness_interval_minutes: int = 60
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
    max_abs_value: float = Field(default=MAX_ABS_VALUE, gt=0, le=1e100)
    """Largest magnitude of one reading (in its meter's canonical unit, after unit conversion)
    or activity value; beyond it, or not finite, the batch is refused (422 naming row and
    field). The default 1e15 is far above any real figure and keeps every day, month and park
    sum far from float8 overflow (~1.8e308); so does any value up to the limit 1e100."""
    plausibility_ceilings_per_hour: dict[str, float] = Field(default_factory=_default_ceilings)
    """Largest plausible consumption per hour of one meter, in the carrier's canonical unit."""
    storage_max_steps: int = 35_136
    """Largest dispatch horizon in steps (366 days at 15 minutes); more is answered 413."""
    storage_plan_time: str = "17:00"
    """Local time (the park's zone) at which tomorrow's storage plans are published."""
    storage_safety_interval_minutes: int = 15
    scenario_poll_seconds: float = 5.0
    """How often the scheduler process looks for queued scenario runs."""
    scenario_lease_minutes: float = 60.0
    """Longest a scenario run may take; a running row past its lease is claimed again."""
    scenario_executor: Literal["process", "inline"] = "process"
    """process: runs in a worker process next to the scheduler; inline: in the job's thread."""
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=60, allow_inf_nan=False)
    """How long a worker trusts a key it has verified without looking it up again. A key revoked
    in another process (another worker, ``zcpark keys revoke``) stops working within this
    bound; in the process that revoked it at once. 0: look every key up on every request."""
    auth_failure_burst: int = 30
    """Failed authentications one client address may make in a burst before it is answered 429
    (with Retry-After) without a database lookup; 0 turns the limit off."""
    auth_failures_per_minute: float = Field(default=30.0, gt=0)
    """Rate at which an address earns back failed attempts."""
    pg_bin_dir: Path | None = None
    """Folder of the pg_dump / pg_restore that `zcpark backup` / `restore` try first."""
    demo_readings: bool = False
    """Set by ``zcpark serve --demo``: the scheduler adds the demo meters' readings every 15
    minutes, so the demo keeps running up to the present."""
    grid_import_limit_kw: float | None = Field(default=None, gt=0, le=1e9, allow_inf_nan=False)
    """The park's grid connection import limit, kW (largest demand-response target); None:
    energy/data/grid_connection_lhasa.yaml."""
    openadr_vtn_url: str | None = None
    """OpenADR 2.0b VTN the park's VEN polls (e.g. https://vtn.example/OpenADR2/Simple/2.0b);
    with ``openadr_ven_id`` set, the service runs the VEN while it is up."""
    openadr_ven_id: str | None = None
    """The park's VEN id, as registered with the VTN."""
    openadr_ven_name: str = "lhasa-etdz-vpp"
    """The VEN's name in its registration with the VTN."""
    dask_scheduler_address: str | None = None
    """Dask scheduler (e.g. tcp://host:8786) for `zcpark sweep` on a cluster (the dask extra)."""

    @model_validator(mode="after")
    def _lease_outlasts_checks(self) -> Settings:
        if self.scheduler_lease_seconds <= self.scheduler_check_seconds:
            raise ValueError("scheduler_lease_seconds must be more than scheduler_check_seconds")
        return self


@lru_cache
def get_settings() -> Settings:
    """Settings read once from the environment."""
    return Settings()
