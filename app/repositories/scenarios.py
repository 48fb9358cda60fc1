"""Scenario-run SQL: queue, claim (FOR UPDATE SKIP LOCKED), finish, fail, read artifacts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models.simulations import ScenarioArtifact, ScenarioRun


def queue_run(session: Session, name: str, scenario: Mapping[str, Any],
              created_by: int | None) -> ScenarioRun:
    run = ScenarioRun(name=name, status="queued", scenario=dict(scenario), created_by=created_by)
    session.add(run)
    session.flush()
    session.refresh(run)
    return run


def get_run(session: Session, run_id: int) -> ScenarioRun:
    run = session.get(ScenarioRun, run_id)
    if run is None:
        raise NotFound(f"No scenario run {run_id}.")
    return run


def list_runs(session: Session, limit: int = 100) -> Sequence[ScenarioRun]:
    stmt = select(ScenarioRun).order_by(ScenarioRun.created_at.desc(), ScenarioRun.id.desc())
    return session.scalars(stmt.limit(limit)).all()


def claim_next(session: Session, lease_minutes: float) -> tuple[int, dict[str, Any]] | None:
    """Claim the oldest queued run (or a running one whose lease has passed: its worker died) and
    mark it running for ``lease_minutes``. Concurrent workers skip rows locked by each other."""
    row = session.execute(text("""
        UPDATE scenario_runs SET status = 'running', started_at = now(), error = NULL,
               attempts = attempts + 1,
               lease_until = now() + make_interval(secs => :lease_s)
        WHERE id = (
            SELECT id FROM scenario_runs
            WHERE status = 'queued' OR (status = 'running' AND lease_until < now())
            ORDER BY created_at, id
            LIMIT 1
            FOR UPDATE SKIP LOCKED)
        RETURNING id, scenario
    """), {"lease_s": float(lease_minutes) * 60.0}).first()
    return None if row is None else (int(row[0]), dict(row[1]))


def finish_run(session: Session, run_id: int, kpis: dict[str, Any],
               artifacts: Mapping[str, tuple[str, bytes]]) -> None:
    """Store KPIs and artifacts ({name: (media type, bytes)}) and mark the run done."""
    session.execute(delete(ScenarioArtifact).where(ScenarioArtifact.run_id == run_id))
    session.add_all(ScenarioArtifact(run_id=run_id, name=name, media_type=media, content=data)
                    for name, (media, data) in artifacts.items())
    session.execute(text("""
        UPDATE scenario_runs SET status = 'done', kpis = CAST(:kpis AS jsonb),
               finished_at = now(), lease_until = NULL, error = NULL
        WHERE id = :id
    """), {"id": run_id, "kpis": _json(kpis)})


def fail_run(session: Session, run_id: int, error: str) -> None:
    session.execute(text("""
        UPDATE scenario_runs SET status = 'failed', error = :error, finished_at = now(),
               lease_until = NULL
        WHERE id = :id
    """), {"id": run_id, "error": error})


def artifact_names(session: Session, run_id: int) -> list[str]:
    stmt = select(ScenarioArtifact.name).where(ScenarioArtifact.run_id == run_id)
    return sorted(session.scalars(stmt).all())


def get_artifact(session: Session, run_id: int, name: str) -> ScenarioArtifact:
    art = session.get(ScenarioArtifact, (run_id, name))
    if art is None:
        raise NotFound(f"Scenario run {run_id} has no {name!r}.")
    return art


def _json(data: Any) -> str:
    import json

    return json.dumps(data, ensure_ascii=False, allow_nan=False)


ELECTRICITY_CARRIERS = ("electricity_import", "electricity_export", "pv_generation")


def hourly_electricity_kwh(session: Session, start: datetime, end: datetime,
                           zone: str | None = None,
                           enterprises: Sequence[str] | None = None
                           ) -> list[tuple[datetime, str, float]]:
    """(hour start, carrier, kWh) of the electricity meters in scope over [start, end); hours
    aligned on Asia/Shanghai (UTC+8) hours."""
    scope = ""
    params: dict[str, Any] = {"a": start, "b": end, "carriers": list(ELECTRICITY_CARRIERS)}
    if zone is not None:
        scope += " AND e.zone = :zone"
        params["zone"] = zone
    if enterprises:
        scope += " AND e.code = ANY(:codes)"
        params["codes"] = list(enterprises)
    rows = session.execute(text(f"""
        SELECT date_bin('1 hour', r.start_ts, TIMESTAMPTZ '2000-01-01 00:00+08') AS h,
               m.carrier, sum(r.value)
        FROM readings r JOIN meters m ON m.id = r.meter_id
             JOIN enterprises e ON e.id = m.enterprise_id
        WHERE r.start_ts >= :a AND r.start_ts < :b AND m.carrier = ANY(:carriers) {scope}
        GROUP BY 1, 2
    """), params).all()
    return [(h, c, float(v)) for h, c, v in rows]
