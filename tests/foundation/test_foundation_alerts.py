"""Data-completeness alerts (API and scheduler share one function) and scheduler election."""

from __future__ import annotations

from tests.conftest import auth
from tests.foundation.helpers import csv_rows, post_csv

START, END = "2012-03-01T00:00:00+08:00", "2012-03-01T01:00:00+08:00"


def test_missing_intervals_raise_one_alert_scoped_and_acknowledged(
    client, operator_key, make_enterprise, make_meter, make_key
):
    ent, other = make_enterprise(), make_enterprise()
    m = make_meter(ent["code"])["code"]
    # 4 intervals expected in the hour; 3 sent (00:30 missing).
    rows = [(m, t, 1.0) for t in ("2012-03-01T00:00:00+08:00", "2012-03-01T00:15:00+08:00",
                                  "2012-03-01T00:45:00+08:00")]
    assert post_csv(client, operator_key, csv_rows(rows)).status_code == 200
    r = client.post("/v1/alerts/check", headers=auth(operator_key),
                    params={"start": START, "end": END})
    assert r.status_code == 200 and r.json()["opened"] >= 1
    again = client.post("/v1/alerts/check", headers=auth(operator_key),
                        params={"start": START, "end": END})
    assert again.json()["opened"] == 0
    mine = client.get("/v1/alerts", headers=auth(operator_key), params={"meter": m}).json()
    assert len(mine) == 1
    alert = mine[0]
    assert alert["kind"] == "missing_data" and "1 of 4" in alert["message"]
    assert alert["enterprise"] == ent["code"]
    other_key = make_key("enterprise", other["code"])
    assert all(a["id"] != alert["id"]
               for a in client.get("/v1/alerts", headers=auth(other_key)).json())
    assert client.post(f"/v1/alerts/{alert['id']}/acknowledge",
                       headers=auth(other_key)).status_code == 404
    own_key = make_key("enterprise", ent["code"])
    ack = client.post(f"/v1/alerts/{alert['id']}/acknowledge", headers=auth(own_key))
    assert ack.status_code == 200 and ack.json()["acknowledged_at"] is not None
    open_alerts = client.get("/v1/alerts", headers=auth(own_key),
                             params={"open_only": True}).json()
    assert all(a["id"] != alert["id"] for a in open_alerts)


def test_only_operators_run_the_check(client, make_key):
    r = client.post("/v1/alerts/check", headers=auth(make_key("planner")),
                    params={"start": START, "end": END})
    assert r.status_code == 403


def test_exactly_one_process_is_elected_to_run_the_scheduler(engine, settings):
    from app.scheduler import SchedulerLeader

    first, second = SchedulerLeader(engine, settings), SchedulerLeader(engine, settings)
    try:
        assert first._try_lead() is True
        assert second._try_lead() is False
        assert first.is_leader and not second.is_leader
        first.shutdown()  # the leader goes away: its lock is released
        assert second._try_lead() is True
    finally:
        first.shutdown()
        second.shutdown()


def test_scheduled_job_raises_the_same_alert(client, engine, operator_key, make_enterprise,
                                             make_meter):
    from datetime import UTC, datetime, timedelta

    from app.scheduler import completeness_job

    m = make_meter(make_enterprise()["code"])["code"]
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    assert post_csv(client, operator_key, csv_rows([(m, hour.isoformat(), 1.0)])).status_code == 200
    assert completeness_job(engine) >= 1
    alerts = client.get("/v1/alerts", headers=auth(operator_key), params={"meter": m}).json()
    # The job looks at the last 24 whole hours: 96 intervals expected, 1 present.
    assert [a["kind"] for a in alerts] == ["missing_data"]
    assert "95 of 96" in alerts[0]["message"]
