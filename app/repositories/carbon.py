"""Carbon SQL: activity records (audited upsert), energy totals from the day rollups, reading
batches, closed periods, their events and frozen ledgers."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text

from energy.site import PARK_TZ

if TYPE_CHECKING:
    from app.repositories.readings_store import ReadingsStore

TZ = PARK_TZ


def write_activity(conn: Connection, rows: list[dict[str, Any]], meta: dict[str, Any]
                   ) -> dict[str, int]:
    """Insert/revise activity records in one statement; changed values leave an audit row.

    rows: enterprise_id, period, period_start, period_end, months, quantity, value."""
    batch_id = int(conn.execute(text(
        "INSERT INTO carbon_activity_batches (api_key_id, enterprise_id, payload_sha256, rows,"
        " inserted, unchanged, revised) VALUES (:api_key_id, :enterprise_id, :payload_sha256,"
        " :rows, 0, 0, 0) RETURNING id"), meta).scalar_one())
    cols = {k: [r[k] for r in rows] for k in ("enterprise_id", "period", "period_start",
                                              "period_end", "months", "quantity", "value")}
    revised, existing = conn.execute(text("""
        WITH incoming AS (
            SELECT * FROM unnest(CAST(:enterprise_id AS integer[]), CAST(:period AS text[]),
                                 CAST(:period_start AS date[]), CAST(:period_end AS date[]),
                                 CAST(:months AS integer[]), CAST(:quantity AS text[]),
                                 CAST(:value AS float8[]))
                AS t(enterprise_id, period, period_start, period_end, months, quantity, value)
        ), existing AS (
            SELECT a.id, a.value AS old_value, a.batch_id AS old_batch, i.value AS new_value
            FROM incoming i JOIN carbon_activity a USING (enterprise_id, period, quantity)
        ), rev AS (
            INSERT INTO carbon_activity_revisions (activity_id, old_value, new_value,
                                                   old_batch_id, batch_id, revised_by)
            SELECT id, old_value, new_value, old_batch, :batch, :who FROM existing
            WHERE old_value IS DISTINCT FROM new_value
            RETURNING 1
        ), up AS (
            INSERT INTO carbon_activity AS a (enterprise_id, period, period_start, period_end,
                                              months, quantity, value, batch_id)
            SELECT enterprise_id, period, period_start, period_end, months, quantity, value,
                   :batch FROM incoming
            ON CONFLICT (enterprise_id, period, quantity) DO UPDATE
               SET value = EXCLUDED.value, batch_id = EXCLUDED.batch_id, updated_at = now()
               WHERE a.value IS DISTINCT FROM EXCLUDED.value
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM rev), (SELECT count(*) FROM existing)
    """), {**cols, "batch": batch_id, "who": meta["api_key_id"]}).one()
    counts = {"inserted": len(rows) - int(existing), "unchanged": int(existing) - int(revised),
              "revised": int(revised)}
    conn.execute(text("UPDATE carbon_activity_batches SET inserted=:inserted,"
                      " unchanged=:unchanged, revised=:revised WHERE id=:id"),
                 {**counts, "id": batch_id})
    return {"batch": batch_id, **counts}


def activity_records(conn: Connection, start: date, end: date, enterprise_id: int | None
                     ) -> list[dict[str, Any]]:
    """Records whose whole span lies inside [start, end)."""
    scope = "AND a.enterprise_id = :e" if enterprise_id is not None else ""
    rows = conn.execute(text(
        "SELECT a.enterprise_id, e.code, a.period, a.months, a.quantity, a.value, a.batch_id"
        " FROM carbon_activity a JOIN enterprises e ON e.id = a.enterprise_id"
        f" WHERE a.period_start >= :a AND a.period_end <= :b {scope}"
        " ORDER BY e.code, a.quantity, a.period"), {"a": start, "b": end, "e": enterprise_id})
    keys = ("enterprise_id", "enterprise", "period", "months", "quantity", "value", "batch")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def activity_list(conn: Connection, enterprise_id: int | None, period: str | None
                  ) -> list[dict[str, Any]]:
    scope = "AND a.enterprise_id = :e" if enterprise_id is not None else ""
    per = "AND a.period = :p" if period else ""
    rows = conn.execute(text(
        "SELECT e.code, a.period, a.quantity, a.value, a.batch_id, a.updated_at,"
        " (SELECT count(*) FROM carbon_activity_revisions v WHERE v.activity_id = a.id)"
        " FROM carbon_activity a JOIN enterprises e ON e.id = a.enterprise_id"
        f" WHERE true {scope} {per} ORDER BY e.code, a.period, a.quantity"),
        {"e": enterprise_id, "p": period})
    keys = ("enterprise", "period", "quantity", "value", "batch", "updated_at", "revisions")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def activity_revisions(conn: Connection, enterprise_id: int | None, period: str | None
                       ) -> list[dict[str, Any]]:
    scope = "AND a.enterprise_id = :e" if enterprise_id is not None else ""
    per = "AND a.period = :p" if period else ""
    rows = conn.execute(text(
        "SELECT e.code, a.period, a.quantity, v.old_value, v.new_value, v.old_batch_id,"
        " v.batch_id, v.revised_by, k.prefix, v.revised_at"
        " FROM carbon_activity_revisions v JOIN carbon_activity a ON a.id = v.activity_id"
        " JOIN enterprises e ON e.id = a.enterprise_id"
        " LEFT JOIN api_keys k ON k.id = v.revised_by"
        f" WHERE true {scope} {per} ORDER BY v.id"), {"e": enterprise_id, "p": period})
    keys = ("enterprise", "period", "quantity", "old_value", "new_value", "old_batch", "batch",
            "revised_by_key", "revised_by_key_prefix", "revised_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def energy_by_month(conn: Connection, start: date, end: date, enterprise_id: int | None, *,
                    rollups: ReadingsStore) -> list[dict[str, Any]]:
    """Per enterprise, local month, carrier and green-direct-supply flag: the sum of the meter-day
    rollups (``meter_days``, or TimescaleDB's ``readings_daily``) over [start, end) local days."""
    scope = "AND m.enterprise_id = :e" if enterprise_id is not None else ""
    src = rollups.days_source("CAST(:a AS date)", "CAST(:b AS date)")
    rows = conn.execute(text(
        "SELECT m.enterprise_id, to_char(d.day, 'YYYY-MM'), m.carrier, m.canonical_unit,"
        " m.green_direct_supply, sum(d.value), sum(d.n)::bigint, sum(d.n_flagged)::bigint,"
        " array_agg(DISTINCT m.code ORDER BY m.code)"
        f" FROM {src} d JOIN meters m ON m.id = d.meter_id"
        f" WHERE d.day >= CAST(:a AS date) AND d.day < CAST(:b AS date) {scope}"
        " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3"), {"a": start, "b": end, "e": enterprise_id})
    keys = ("enterprise_id", "month", "carrier", "unit", "green_direct_supply", "value",
            "readings", "flagged", "meters")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def reading_batches(conn: Connection, start: date, end: date, enterprise_id: int | None
                    ) -> dict[int, list[int]]:
    """Per enterprise, the distinct ingest batches of its readings in [start, end) local days
    (provenance; the one query that reads ``readings`` itself, one month at a time)."""
    scope = "WHERE enterprise_id = :e" if enterprise_id is not None else ""
    rows = conn.execute(text(
        "SELECT m.enterprise_id, array_agg(DISTINCT r.batch_id ORDER BY r.batch_id)"
        " FROM readings r JOIN meters m ON m.id = r.meter_id"
        f" WHERE r.meter_id IN (SELECT id FROM meters {scope})"
        " AND r.start_ts >= CAST(:a AS timestamp) AT TIME ZONE :tz"
        " AND r.start_ts < CAST(:b AS timestamp) AT TIME ZONE :tz GROUP BY 1"),
        {"a": start, "b": end, "e": enterprise_id, "tz": TZ}).all()
    return {int(e): [int(b) for b in ids] for e, ids in rows}


def meter_batches(conn: Connection, start: date, end: date) -> dict[int, tuple[int, ...]]:
    """Per meter, the distinct ingest batches of its readings in [start, end) local days."""
    rows = conn.execute(text(
        "SELECT meter_id, array_agg(batch_id ORDER BY batch_id) FROM (SELECT DISTINCT"
        " r.meter_id, r.batch_id FROM readings r"
        " WHERE r.start_ts >= CAST(:a AS timestamp) AT TIME ZONE :tz"
        " AND r.start_ts < CAST(:b AS timestamp) AT TIME ZONE :tz) d GROUP BY 1"),
        {"a": start, "b": end, "tz": TZ}).all()
    return {int(m): tuple(int(b) for b in ids) for m, ids in rows}


def meter_enterprises(conn: Connection) -> dict[int, int | None]:
    """Every meter's enterprise id."""
    return dict(conn.execute(text("SELECT id, enterprise_id FROM meters")).all())  # type: ignore[arg-type]


def readings_version(conn: Connection) -> tuple[object, ...]:
    """A fingerprint that changes whenever stored readings can have changed: readings are only
    written by an upload, in the transaction that adds its ``ingest_batches`` row (rows are never
    deleted), so the count, largest and summed id of the committed batches differ after any
    commit. The database's oid and the server's start time tell databases and restores apart."""
    row = conn.execute(text(
        "SELECT count(*), coalesce(max(id), 0), coalesce(sum(id), 0),"
        " (SELECT oid FROM pg_database WHERE datname = current_database()),"
        " pg_postmaster_start_time(), current_database() FROM ingest_batches")).one()
    return tuple(row)


def enterprise_codes(conn: Connection) -> dict[int, str]:
    return dict(conn.execute(text("SELECT id, code FROM enterprises")).all())  # type: ignore[arg-type]


# ---- closed periods ----------------------------------------------------------------------------
def closed_months(conn: Connection, months: list[str]) -> set[str]:
    rows = conn.execute(text("SELECT period FROM carbon_periods WHERE status = 'closed'"
                             " AND period = ANY(:m)"), {"m": months}).scalars().all()
    return set(rows)


def closed_months_for_write(conn: Connection, months: list[str]) -> set[str]:
    """Closed months among ``months``, with their rows share-locked (created 'open' if absent)
    so a concurrent close waits for this write, or this write sees the close."""
    conn.execute(text("INSERT INTO carbon_periods (period, status) SELECT unnest(CAST(:m AS"
                      " text[])), 'open' ON CONFLICT DO NOTHING"), {"m": months})
    rows = conn.execute(text("SELECT period, status FROM carbon_periods WHERE period = ANY(:m)"
                             " ORDER BY period FOR SHARE"), {"m": months}).all()
    return {p for p, st in rows if st == "closed"}


def lock_period(conn: Connection, period: str) -> str | None:
    """Row-lock the period (creating it 'open') and return its status."""
    conn.execute(text("INSERT INTO carbon_periods (period, status) VALUES (:p, 'open')"
                      " ON CONFLICT DO NOTHING"), {"p": period})
    return conn.execute(text("SELECT status FROM carbon_periods WHERE period = :p FOR UPDATE"),
                        {"p": period}).scalar()


def set_period_status(conn: Connection, period: str, status: str,
                      version: int | None = None) -> None:
    conn.execute(text("UPDATE carbon_periods SET status = :s, changed_at = now(),"
                      " version = coalesce(:v, version) WHERE period = :p"),
                 {"p": period, "s": status, "v": version})


def latest_version(conn: Connection, period: str) -> int:
    """The newest closed version of a month (0: never closed)."""
    return int(conn.execute(text("SELECT coalesce(max(version), 0) FROM carbon_frozen_ledgers"
                                 " WHERE period = :p"), {"p": period}).scalar_one())


def add_event(conn: Connection, period: str, action: str, *, reason: str | None,
              api_key_id: int | None, actor: str, ledgers: int = 0,
              park_input_hash: str | None = None, version: int | None = None) -> int:
    return int(conn.execute(text(
        "INSERT INTO carbon_period_events (period, action, reason, api_key_id, actor, ledgers,"
        " park_input_hash, version) VALUES (:p, :a, :r, :k, :actor, :n, :h, :v) RETURNING id"),
        {"p": period, "a": action, "r": reason, "k": api_key_id, "actor": actor, "n": ledgers,
         "h": park_input_hash, "v": version}).scalar_one())


def store_frozen(conn: Connection, period: str, event_id: int, version: int,
                 ledgers: list[tuple[str, str, str, str]]) -> None:
    """Add one version of the period's frozen ledgers: (scope, code, input_hash, ledger JSON
    text). Earlier versions stay."""
    conn.execute(text(
        "INSERT INTO carbon_frozen_ledgers (period, version, scope, code, event_id, input_hash,"
        " ledger) SELECT :p, :v, s, c, :ev, h, CAST(j AS jsonb) FROM unnest(CAST(:s AS text[]),"
        " CAST(:c AS text[]), CAST(:h AS text[]), CAST(:j AS text[])) AS t(s, c, h, j)"),
        {"p": period, "v": version, "ev": event_id, "s": [x[0] for x in ledgers],
         "c": [x[1] for x in ledgers], "h": [x[2] for x in ledgers],
         "j": [x[3] for x in ledgers]})


def _with_version(led: dict[str, Any], version: int) -> dict[str, Any]:
    led = dict(led)
    led["version"] = int(version)
    return led


def frozen_ledgers(conn: Connection, months: list[str], scope: str, code: str
                   ) -> dict[str, dict[str, Any]]:
    """Current frozen ledgers (the newest version) of closed months among ``months``."""
    rows = conn.execute(text(
        "SELECT f.period, f.version, f.ledger FROM carbon_frozen_ledgers f"
        " JOIN carbon_periods p ON p.period = f.period AND p.status = 'closed'"
        " AND p.version = f.version"
        " WHERE f.period = ANY(:m) AND f.scope = :s AND f.code = :c"),
        {"m": months, "s": scope, "c": code}).all()
    return {p: _with_version(led, v) for p, v, led in rows}


def frozen_version(conn: Connection, period: str, version: int, scope: str, code: str
                   ) -> dict[str, Any] | None:
    """One entity's ledger as frozen by close ``version`` of the month (any version)."""
    row = conn.execute(text(
        "SELECT ledger FROM carbon_frozen_ledgers WHERE period = :p AND version = :v"
        " AND scope = :s AND code = :c"),
        {"p": period, "v": version, "s": scope, "c": code}).scalar()
    return None if row is None else _with_version(row, version)


def frozen_hashes(conn: Connection, period: str) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in conn.execute(text(  # type: ignore[misc]
        "SELECT f.scope, f.code, f.input_hash FROM carbon_frozen_ledgers f"
        " JOIN carbon_periods p ON p.period = f.period AND p.version = f.version"
        " WHERE f.period = :p ORDER BY f.scope DESC, f.code"), {"p": period}).all()]


def period_info(conn: Connection, period: str) -> tuple[str | None, list[dict[str, Any]]]:
    status = conn.execute(text("SELECT status FROM carbon_periods WHERE period = :p"),
                          {"p": period}).scalar()
    rows = conn.execute(text(
        "SELECT id, action, reason, actor, api_key_id, ledgers, park_input_hash, version, at"
        " FROM carbon_period_events WHERE period = :p ORDER BY id"), {"p": period}).all()
    keys = ("event", "action", "reason", "actor", "api_key_id", "ledgers", "park_input_hash",
            "version", "at")
    return status, [dict(zip(keys, r, strict=True)) for r in rows]


def version_summaries(conn: Connection, period: str) -> list[dict[str, Any]]:
    """Per version: the park's totals and every ledger's input hash (for differences)."""
    rows = conn.execute(text(
        "SELECT version, scope, code, input_hash, ledger->'energy_tce', ledger->'co2_t',"
        " ledger->'co2_location_based_t', ledger->'co2_market_based_t', event_id"
        " FROM carbon_frozen_ledgers WHERE period = :p ORDER BY version, scope DESC, code"),
        {"p": period}).all()
    out: dict[int, dict[str, Any]] = {}
    for v, scope, code, h, e, c, cl, cm, ev in rows:
        d = out.setdefault(int(v), {"version": int(v), "event": int(ev), "hashes": {}})
        d["hashes"][f"{scope}:{code}"] = h
        if scope == "park":
            d["park"] = {"energy_tce": e, "co2_t": c, "co2_location_based_t": cl,
                         "co2_market_based_t": cm}
    return [out[v] for v in sorted(out)]


def frozen_all(conn: Connection, period: str, version: int | None = None
               ) -> list[dict[str, Any]]:
    """Every frozen ledger of a month (park first, then enterprises by code): the current
    version of a closed month, or the given version."""
    if version is None:
        rows = conn.execute(text(
            "SELECT f.version, f.ledger FROM carbon_frozen_ledgers f"
            " JOIN carbon_periods p ON p.period = f.period AND p.status = 'closed'"
            " AND p.version = f.version"
            " WHERE f.period = :p ORDER BY f.scope DESC, f.code"), {"p": period}).all()
    else:
        rows = conn.execute(text(
            "SELECT version, ledger FROM carbon_frozen_ledgers WHERE period = :p"
            " AND version = :v ORDER BY scope DESC, code"), {"p": period, "v": version}).all()
    return [_with_version(led, v) for v, led in rows]


def enterprise_names(conn: Connection) -> dict[str, tuple[str, str]]:
    """code -> (name, zone)."""
    rows = conn.execute(text("SELECT code, name, zone FROM enterprises")).all()
    return {c: (n, z) for c, n, z in rows}


# ---- green-electricity instruments -------------------------------------------------------------
_INSTRUMENT_COLS = ("id", "enterprise_id", "enterprise", "kind", "period", "mwh", "bundled_with",
                    "source", "batch")


def lock_instrument_ids(conn: Connection, ids: list[str]) -> None:
    """Transaction locks on the ids (sorted, so two batches never deadlock): a concurrent claim
    of the same id waits, then sees this one."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('instrument:' || i, 0))"
                      " FROM unnest(CAST(:ids AS text[])) AS i ORDER BY i"), {"ids": sorted(ids)})


def instruments_by_id(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = conn.execute(text(
        "SELECT i.id, i.enterprise_id, e.code, i.kind, i.period, i.mwh, i.bundled_with, i.source,"
        " i.batch_id FROM carbon_instruments i JOIN enterprises e ON e.id = i.enterprise_id"
        " WHERE i.id = ANY(:ids)"), {"ids": ids}).all()
    return {r[0]: dict(zip(_INSTRUMENT_COLS, r, strict=True)) for r in rows}


def bundled_mwh(conn: Connection, targets: list[str], excluding: list[str]) -> dict[str, float]:
    """MWh of stored certificates bundled with each of ``targets`` (not those in ``excluding``)."""
    rows = conn.execute(text(
        "SELECT bundled_with, sum(mwh) FROM carbon_instruments WHERE bundled_with = ANY(:t)"
        " AND NOT (id = ANY(:x)) GROUP BY 1"), {"t": targets, "x": excluding}).all()
    return {t: float(v) for t, v in rows}


def write_instruments(conn: Connection, rows: list[dict[str, Any]],
                      existing: dict[str, dict[str, Any]], meta: dict[str, Any]
                      ) -> dict[str, int]:
    """Insert new instruments, revise changed ones (old and new kept in the audit trail).

    rows: id, enterprise_id, kind, period, period_start, period_end, mwh, bundled_with, source."""
    batch = int(conn.execute(text(
        "INSERT INTO carbon_instrument_batches (api_key_id, enterprise_id, payload_sha256, rows)"
        " VALUES (:api_key_id, :enterprise_id, :payload_sha256, :rows) RETURNING id"),
        meta).scalar_one())
    fields = ("kind", "period", "mwh", "bundled_with", "source")
    new = [r for r in rows if r["id"] not in existing]
    changed = [r for r in rows if r["id"] in existing
               and any(existing[r["id"]][f] != r[f] for f in fields)]
    if new:
        conn.execute(text(
            "INSERT INTO carbon_instruments (id, enterprise_id, kind, period, period_start,"
            " period_end, mwh, bundled_with, source, batch_id) VALUES (:id, :enterprise_id,"
            " :kind, :period, :period_start, :period_end, :mwh, :bundled_with, :source, :batch)"),
            [{**r, "batch": batch} for r in new])
    for r in changed:
        old = existing[r["id"]]
        conn.execute(text(
            "INSERT INTO carbon_instrument_revisions (instrument_id, old, new, old_batch_id,"
            " batch_id, revised_by) VALUES (:id, CAST(:old AS jsonb), CAST(:new AS jsonb), :ob,"
            " :b, :who)"),
            {"id": r["id"], "old": json.dumps({f: old[f] for f in fields}),
             "new": json.dumps({f: r[f] for f in fields}), "ob": old["batch"], "b": batch,
             "who": meta["api_key_id"]})
        conn.execute(text(
            "UPDATE carbon_instruments SET kind = :kind, period = :period, period_start ="
            " :period_start, period_end = :period_end, mwh = :mwh, bundled_with = :bundled_with,"
            " source = :source, batch_id = :batch, updated_at = now() WHERE id = :id"),
            {**r, "batch": batch})
    counts = {"inserted": len(new), "unchanged": len(rows) - len(new) - len(changed),
              "revised": len(changed)}
    conn.execute(text("UPDATE carbon_instrument_batches SET inserted = :inserted, unchanged ="
                      " :unchanged, revised = :revised WHERE id = :id"), {**counts, "id": batch})
    periods = sorted({r["period"] for r in new + changed}
                     | {existing[r["id"]]["period"] for r in changed})
    return {"batch": batch, **counts, "periods_written": periods}


def instrument_list(conn: Connection, enterprise_id: int | None, period: str | None
                    ) -> list[dict[str, Any]]:
    scope = "AND i.enterprise_id = :e" if enterprise_id is not None else ""
    per = "AND i.period = :p" if period else ""
    rows = conn.execute(text(
        "SELECT i.id, e.code, i.kind, i.period, i.mwh, i.bundled_with, i.source, i.batch_id,"
        " i.claimed_at, i.updated_at, (SELECT count(*) FROM carbon_instrument_revisions v"
        " WHERE v.instrument_id = i.id) FROM carbon_instruments i"
        f" JOIN enterprises e ON e.id = i.enterprise_id WHERE true {scope} {per}"
        " ORDER BY e.code, i.period, i.kind, i.id"), {"e": enterprise_id, "p": period})
    keys = ("id", "enterprise", "kind", "period", "mwh", "bundled_with", "source", "batch",
            "claimed_at", "updated_at", "revisions")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def instrument_records(conn: Connection, months: list[str], enterprise_id: int | None
                       ) -> list[dict[str, Any]]:
    """Instruments of the given months (one enterprise or all), for the ledger."""
    scope = "AND i.enterprise_id = :e" if enterprise_id is not None else ""
    rows = conn.execute(text(
        "SELECT i.id, i.enterprise_id, e.code, i.kind, i.period, i.mwh, i.bundled_with, i.source,"
        " i.batch_id FROM carbon_instruments i JOIN enterprises e ON e.id = i.enterprise_id"
        f" WHERE i.period = ANY(:m) {scope} ORDER BY i.id"), {"m": months, "e": enterprise_id})
    return [dict(zip(_INSTRUMENT_COLS, r, strict=True)) for r in rows]


def add_closed_period_alert(conn: Connection, period: str, start: date, end: date,
                            message: str) -> None:
    """An operator alert (no enterprise: operators see it) that a closed month got new data;
    one open alert per month."""
    conn.execute(text(
        "INSERT INTO alerts (kind, period_start, period_end, message)"
        " SELECT 'closed_period_changed', CAST(:a AS timestamp) AT TIME ZONE :tz,"
        " CAST(:b AS timestamp) AT TIME ZONE :tz, :msg WHERE NOT EXISTS (SELECT 1 FROM alerts"
        " WHERE kind = 'closed_period_changed' AND acknowledged_at IS NULL"
        " AND period_start = CAST(:a AS timestamp) AT TIME ZONE :tz)"),
        {"a": start, "b": end, "tz": TZ, "msg": message})


def expected_readings(conn: Connection, start: date, end: date, enterprise_id: int | None,
                      carriers: list[str]) -> int:
    """Readings expected in [start, end) local days from the energy meters (of ``carriers``)
    that have ever reported: each meter's intervals in the span."""
    scope = "AND m.enterprise_id = :e" if enterprise_id is not None else ""
    return int(conn.execute(text(
        "SELECT coalesce(sum(greatest(0, floor(extract(epoch FROM"
        " (CAST(:b AS timestamp) - CAST(:a AS timestamp))) / 60 / m.interval_minutes))), 0)"
        " FROM meters m WHERE m.carrier = ANY(:c)"
        " AND EXISTS (SELECT 1 FROM readings r WHERE r.meter_id = m.id)"
        f" {scope}"), {"a": start, "b": end, "e": enterprise_id, "c": carriers}).scalar_one())


def months_written_by_batch(conn: Connection, batch_id: int, meter_ids: list[int],
                            months: list[tuple[str, date, date]]) -> list[str]:
    """Months (label, first local day, first day after) in which the readings batch inserted
    or revised a reading (an unchanged reading keeps its earlier batch)."""
    out = []
    for label, start, end in months:
        hit = conn.execute(text(
            "SELECT EXISTS (SELECT 1 FROM readings WHERE meter_id = ANY(:m) AND batch_id = :b"
            " AND start_ts >= CAST(:a AS timestamp) AT TIME ZONE :tz"
            " AND start_ts < CAST(:z AS timestamp) AT TIME ZONE :tz)"),
            {"m": meter_ids, "b": batch_id, "a": start, "z": end, "tz": TZ}).scalar()
        if hit:
            out.append(label)
    return out
