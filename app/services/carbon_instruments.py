"""Upload of green-electricity instruments (绿证, 绿电交易, 绿电直连): the rules of readings —
idempotent, revisions audited with who/when, all-or-nothing, problem+json naming every bad row
and field. An id is claimed once in the whole park: a claim of an id another enterprise holds is
refused (409 "already claimed", nothing else about it). The accounting rules are carbon's
(`carbon.instruments`); this module only checks who may write what and stores it.

An instrument of a closed month is stored (the answer lists ``closed_periods_touched`` and an
operator alert says the month needs a reopen to restate); the frozen ledger does not change."""

from __future__ import annotations

import hashlib
import math
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from app.auth import Principal
from app.json_records import body_records
from app.problems import Problem, RowError, batch_rejected, batch_too_large
from app.repositories import carbon as repo
from app.repositories import core as core_repo
from app.repositories.carbon import instrument_list as instrument_list
from app.services.carbon_periods import PeriodError, parse_period
from carbon.instruments import KINDS, Instrument, check_instruments

MAX_ROWS = 100_000
COLUMNS = ("id", "kind", "enterprise", "period", "mwh", "bundled_with", "source")
MAX_SOURCE_CHARS = 500



def _mwh(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        x = float(str(v).strip())
    except ValueError:
        return None
    return x if math.isfinite(x) and x > 0 else None


def closed_periods_touched(conn: Connection, months: list[str], what: str) -> list[str]:
    """Closed months among ``months``; each gets one open operator alert saying it needs a
    reopen to restate (data are stored, the frozen ledger stays as it was)."""
    closed = sorted(repo.closed_months(conn, sorted(set(months)))) if months else []
    for m in closed:
        p = parse_period(m)
        repo.add_closed_period_alert(
            conn, m, p.start, p.end,
            f"{what} for closed month {m} were stored; reopen {m} and close it again to restate"
            f" / 已关账月份 {m} 收到新数据，需重新开账后再关账以更正")
    return closed


def record_instruments(engine: Engine, principal: Principal, body: bytes, content_type: str
                       ) -> dict[str, Any]:
    """Validate every row, then claim/store the batch in one transaction."""
    items = body_records(body, content_type, "instruments", ("id", "kind", "period", "mwh"))
    if len(items) > MAX_ROWS:
        raise batch_too_large(f"A batch may hold at most {MAX_ROWS} instruments.")
    if not items:
        raise batch_rejected([RowError(row=None, field="body", message="empty")],
                             "The batch holds no instruments.")
    with Session(engine) as session:
        visible = core_repo.visible_enterprise_ids(session, principal)
    errors: list[RowError] = []
    rows: list[dict[str, Any]] = []
    for i, item in enumerate(items, start=1):
        def bad(field: str, message: str, row: int = i) -> None:
            errors.append(RowError(row=row, field=field, message=message))

        code = str(item.get("enterprise") or principal.enterprise_code or "").strip()
        ent_id = visible.get(code)
        if not code:
            bad("enterprise", "required")
        elif ent_id is None:
            bad("enterprise", f"unknown enterprise (or not yours): {code}")
        label = str(item.get("period") or "").strip()
        try:
            period = parse_period(label)
            if period.months != 1:
                raise PeriodError("an instrument belongs to one month: use YYYY-MM")
        except PeriodError as exc:
            period = None
            bad("period", str(exc))
        kind = str(item.get("kind") or "").strip()
        if kind not in KINDS:
            bad("kind", f"unknown kind {kind!r}; use one of {list(KINDS)}")
        mwh = _mwh(item.get("mwh"))
        if mwh is None:
            bad("mwh", "not a finite number > 0")
        source = item.get("source")
        source = "" if source is None else str(source).strip()
        if len(source) > MAX_SOURCE_CHARS:
            bad("source", f"at most {MAX_SOURCE_CHARS} characters")
        bundled = item.get("bundled_with")
        bundled = str(bundled).strip() if bundled not in (None, "") else None
        extra = set(item) - set(COLUMNS)
        if extra:
            bad(sorted(extra)[0], "unknown field")
        iid = str(item.get("id") or "").strip()
        rows.append({"row": i, "id": iid, "enterprise_id": ent_id, "enterprise": code,
                     "kind": kind, "period": label, "mwh": mwh, "bundled_with": bundled,
                     "source": source,
                     "period_start": period.start if period else None,
                     "period_end": period.end if period else None})
    with engine.begin() as conn:
        ids = sorted({r["id"] for r in rows if r["id"]}
                     | {r["bundled_with"] for r in rows if r["bundled_with"]})
        repo.lock_instrument_ids(conn, ids)
        stored = repo.instruments_by_id(conn, ids)
        # a bundle may point only at an instrument the writer can see (never reveal others')
        known = {k: Instrument(v["id"], v["kind"], v["enterprise"], v["period"], v["mwh"],
                               v["bundled_with"], v["source"])
                 for k, v in stored.items() if v["enterprise_id"] in visible.values()}
        lib_items = [Instrument(r["id"], r["kind"], r["enterprise"], r["period"],
                                r["mwh"] if r["mwh"] is not None else 0.0, r["bundled_with"],
                                r["source"]) for r in rows]
        elsewhere = repo.bundled_mwh(conn, ids, [r["id"] for r in rows])
        for idx, field, message in check_instruments(lib_items, known, elsewhere):
            if not any(e["row"] == idx + 1 and e["field"] == field for e in errors):
                errors.append(RowError(row=idx + 1, field=field, message=message))
        if errors:
            errors.sort(key=lambda e: (e["row"], e["field"]))
            raise batch_rejected(errors)
        taken = [{"row": r["row"], "field": "id", "message": f"{r['id']} is already claimed"}
                 for r in rows if r["id"] in stored
                 and stored[r["id"]]["enterprise_id"] != r["enterprise_id"]]
        if taken:
            raise Problem(409, "Instrument id(s) already claimed; an instrument is claimed once"
                          " in the whole park. Nothing was stored. / 该凭证已被认领。",
                          kind="already-claimed", errors=taken)
        counts = repo.write_instruments(conn, rows, stored, {
            "api_key_id": principal.key_id, "enterprise_id": principal.enterprise_id,
            "payload_sha256": hashlib.sha256(body).hexdigest(), "rows": len(rows)})
        touched = closed_periods_touched(conn, counts.pop("periods_written"),
                                         "Green-electricity instruments")
    return {**counts, "rows": len(rows), "closed_periods_touched": touched}
