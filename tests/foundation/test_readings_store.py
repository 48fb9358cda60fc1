"""The readings store: the app reads through the one its database's layout needs, and hour and
day buckets say the same on either layout (run with ZCPARK_TIMESCALE=on and off)."""

from __future__ import annotations

from app.repositories.readings_store import HypertableStore, PartitionStore, readings_store
from tests.conftest import auth
from tests.foundation.helpers import csv_rows, post_csv, series


def test_the_app_reads_through_the_store_of_its_layout(app, client, engine, timescale):
    expected = HypertableStore if timescale else PartitionStore
    assert isinstance(app.state.readings_store, expected)
    assert isinstance(readings_store(engine), expected)  # what the scheduler and the CLI get
    assert client.get("/health").json()["timescaledb"] is timescale


def test_hour_and_day_buckets_count_and_flag_their_readings(
        client, operator_key, make_enterprise, make_meter):
    ent = make_enterprise()["code"]
    m = make_meter(ent)["code"]
    rows = [(m, f"2026-04-10T09:{q:02d}:00+08:00", 1.5, "ok") for q in (0, 15, 30, 45)]
    rows += [(m, "2026-04-10T10:00:00+08:00", 2.0, "estimated"),
             (m, "2026-04-10T10:15:00+08:00", 3.0, "ok")]
    r = post_csv(client, operator_key, csv_rows(rows, ",quality"))
    assert r.status_code == 200, r.text
    start, end = "2026-04-10T00:00:00+08:00", "2026-04-11T00:00:00+08:00"
    hour = series(client, operator_key, m, start, end, "hour").json()["points"]
    assert [(p["start"], p["value"], p["quality"], p["count"]) for p in hour] == [
        ("2026-04-10T09:00:00+08:00", 6.0, "ok", 4),
        ("2026-04-10T10:00:00+08:00", 5.0, "flagged", 2)]
    day = series(client, operator_key, m, start, end, "day").json()["points"]
    assert [(p["value"], p["quality"], p["count"]) for p in day] == [(11.0, "flagged", 6)]
    # the park's totals over that day come from the same day rollup
    totals = client.get("/v1/park/energy", headers=auth(operator_key), params={
        "start": start, "end": end, "by": "enterprise"}).json()["totals"]
    assert [(t["carrier"], t["value"], t["readings"]) for t in totals
            if t["enterprise"] == ent] == [("electricity_import", 11.0, 6)]
