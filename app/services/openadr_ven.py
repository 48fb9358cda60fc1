"""The park's OpenADR 2.0b VEN (``openleadr``): events from the grid's VTN become demand-response
events through the same intake as ``POST /v1/dr/events``.

An ``oadrDistributeEvent`` is read as: the active period gives start and end; a ``LOAD_DISPATCH``
signal of type ``delta`` gives the target (negative: reduce the park's draw, positive: increase
it; in kW, or in the unit and scale of the signal's ``powerReal`` measurement); an optional
``ELECTRICITY_PRICE`` signal of type ``price`` gives the price (yuan/kWh; 0 without one); the
event's creation time is when it was notified. The VEN opts in when the event was stored (or was
stored already), and opts out otherwise, with the reason in the event response's description:
an event the intake refuses (past, overlapping, beyond the grid connection, not on the 15-minute
grid), a signal it cannot read, or a target beyond the park's available flexibility. Nothing of
an opted-out event is stored. A cancelled event cancels the stored one.
"""

from __future__ import annotations

import asyncio
import logging
import re
import warnings
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.auth import Principal
from app.problems import Problem
from app.schemas.vpp import EVENT_ID_PATTERN
from app.services import dr_events
from app.services import vpp as flex

with warnings.catch_warnings():  # signxml 3.2 (openleadr's pin) still names DSA key types
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    from openleadr import OpenADRClient

log = logging.getLogger(__name__)

SCALE_TO_KW: dict[str | None, float] = {None: 1.0, "none": 1e-3, "k": 1.0, "M": 1e3, "G": 1e6}
"""kW per signal unit (W) at the measurement's SI scale code (OpenADR 2.0b siScaleCode); no
measurement: the payload is in kW."""
OPERATOR = Principal(key_id=0, role="operator")
"""The VEN acts for the park: it sees every resource's flexibility."""
DECISIONS_KEPT = 100
LEAD_CHECK_SECONDS = 1.0
"""How often the VEN's supervisor checks the scheduler's lead and the registration."""
REGISTER_RETRY_SECONDS = 30.0
"""How long after a failed registration the VEN tries again."""


class Refused(Exception):
    """An event the VEN opts out of; the message is the reason sent to the VTN."""


def _signal(event: dict[str, Any], name: str, kind: str) -> dict[str, Any] | None:
    signals = event.get("event_signals") or []
    found = [s for s in signals if s.get("signal_name") == name]
    if not found:
        return None
    if len(found) > 1:
        raise Refused(f"more than one {name} signal")
    if found[0].get("signal_type") != kind:
        raise Refused(f"{name} signal of type {found[0].get('signal_type')!r} "
                      f"(only {kind!r} is read)")
    return found[0]


def _flat_payload(signal: dict[str, Any]) -> float:
    values = {float(i["signal_payload"]) for i in signal.get("intervals") or []}
    if len(values) != 1:
        raise Refused(f"{signal['signal_name']}: {len(values)} different interval payloads "
                      "(one value for the whole event is read)")
    return values.pop()


def read_event(event: dict[str, Any], now: datetime) -> dr_events.EventContent:
    """The demand-response event an OpenADR event dict (openleadr's form) stands for."""
    descriptor = event.get("event_descriptor") or {}
    event_id = str(descriptor.get("event_id") or "")
    if not re.match(EVENT_ID_PATTERN, event_id) or len(event_id) > 128:
        raise Refused("event id is empty, too long or holds characters other than "
                      "letters, digits and _.:-")
    period = event.get("active_period") or {}
    start, duration = period.get("dtstart"), period.get("duration")
    if not isinstance(start, datetime) or not isinstance(duration, timedelta):
        raise Refused("active period without dtstart and duration")
    dispatch = _signal(event, "LOAD_DISPATCH", "delta")
    if dispatch is None:
        names = sorted({str(s.get("signal_name")) for s in event.get("event_signals") or []})
        raise Refused(f"no LOAD_DISPATCH delta signal (got {', '.join(names) or 'none'})")
    measurement = dispatch.get("measurement") or {}
    if measurement and measurement.get("name") not in (None, "powerReal"):
        raise Refused(f"LOAD_DISPATCH measured in {measurement.get('name')!r}, not powerReal")
    scale = measurement.get("scale") if measurement else None
    if scale not in SCALE_TO_KW:
        raise Refused(f"LOAD_DISPATCH scale {scale!r} not read")
    delta_kw = _flat_payload(dispatch) * SCALE_TO_KW[scale]
    if delta_kw == 0:
        raise Refused("LOAD_DISPATCH delta is 0")
    price = _signal(event, "ELECTRICITY_PRICE", "price")
    created = descriptor.get("created_date_time")
    return dr_events.EventContent(
        id=event_id, start_ts=start.astimezone(UTC), end_ts=(start + duration).astimezone(UTC),
        direction="reduce" if delta_kw < 0 else "increase", target_kw=abs(delta_kw),
        price_yuan_per_kwh=_flat_payload(price) if price is not None else 0.0,
        notified_at=created.astimezone(UTC) if isinstance(created, datetime) else now)


def _deliverable_kw(session: Session, ev: dr_events.EventContent, now: datetime) -> float:
    """The least flexibility in ``ev``'s direction over its steps, kW (all kinds summed)."""
    answer = flex.available(session, OPERATOR, ev.start_ts, ev.end_ts, now)
    key = "reduce_kw" if ev.direction == "reduce" else "increase_kw"
    n = len(answer["kinds"][0]["steps"])
    return min(sum(k["steps"][i][key] for k in answer["kinds"]) for i in range(n))


class ParkVen:
    """The VEN client and its decisions (newest last)."""

    def __init__(self, vtn_url: str, ven_id: str, ven_name: str,
                 session_factory: sessionmaker[Session], grid_import_limit_kw: float | None,
                 leads: Callable[[], bool] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.vtn_url, self.ven_id, self.ven_name = vtn_url, ven_id, ven_name
        self.session_factory = session_factory
        self.grid = dr_events.connection(grid_import_limit_kw)
        self.leads = leads
        """True while this process leads the scheduler (one VEN per deployment); None: this
        process alone runs the service, so it runs the VEN."""
        self.clock = clock
        self.decisions: deque[dict[str, Any]] = deque(maxlen=DECISIONS_KEPT)
        self._reasons: dict[tuple[str, int], str] = {}
        self.client = self._new_client()
        self._task: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None

    def _new_client(self) -> OpenADRClient:
        client = OpenADRClient(ven_name=self.ven_name, vtn_url=self.vtn_url, ven_id=self.ven_id,
                               allow_jitter=False, show_fingerprint=False)
        client.add_handler("on_event", self.on_event)
        client.add_handler("on_update_event", self.on_event)
        # The opt-out reason travels in the event response's description (free text in
        # OpenADR 2.0b); openleadr writes "OK"/"ERROR" there, so its message builder is wrapped.
        build = client._create_message

        def with_reasons(message_type: str, **fields: Any) -> Any:
            if message_type == "oadrCreatedEvent":
                for r in fields.get("event_responses") or []:
                    reason = self._reasons.pop((str(r.get("event_id")),
                                                int(r.get("modification_number") or 0)), None)
                    if reason is not None:
                        r["response_description"] = reason[:1000]
            return build(message_type, **fields)

        client._create_message = with_reasons
        return client

    @property
    def running(self) -> bool:
        """True while this process runs the VEN client."""
        return self._task is not None and (not self._task.done() or self.client.scheduler.running)

    @property
    def registered(self) -> bool:
        return self.client.registration_id is not None

    def decide(self, event: dict[str, Any]) -> tuple[str, str]:
        """(opt, reason) for an event; stores it when opting in."""
        now = self.clock()
        descriptor = event.get("event_descriptor") or {}
        try:
            if descriptor.get("event_status") == "cancelled":
                with self.session_factory() as session, session.begin():
                    done = dr_events.cancel(session, str(descriptor.get("event_id")),
                                            source="openadr", now=now, grid=self.grid,
                                            detail=_detail(event))
                return "optIn", "cancelled" if done else "cancelled; no such event stored"
            ev = read_event(event, now)
            with self.session_factory() as session, session.begin():
                _, outcome = dr_events.intake(session, ev, source="openadr", now=now,
                                              grid=self.grid, detail=_detail(event))
                if outcome != "unchanged":
                    can = _deliverable_kw(session, ev, now)
                    if can < ev.target_kw:
                        raise Refused(f"target {ev.target_kw:g} kW beyond the park's available "
                                      f"flexibility ({can:.0f} kW in the weakest step)")
            return "optIn", f"stored ({outcome})"
        except Refused as exc:
            return "optOut", str(exc)
        except Problem as exc:
            fields = ", ".join(e["field"] for e in exc.errors or [] if e.get("field"))
            return "optOut", f"{fields}: {exc.detail}" if fields else exc.detail

    async def on_event(self, event: dict[str, Any]) -> str:
        try:
            opt, reason = await asyncio.to_thread(self.decide, event)
        except Exception:  # a database outage: opt out rather than promise
            log.exception("OpenADR event could not be handled")
            opt, reason = "optOut", "the park's service could not store the event; retry"
        descriptor = event.get("event_descriptor") or {}
        key = (str(descriptor.get("event_id")), int(descriptor.get("modification_number") or 0))
        if opt == "optOut":
            self._reasons[key] = reason
        self.decisions.append({"event_id": key[0], "modification_number": key[1], "opt": opt,
                               "reason": reason, "at": self.clock()})
        log.info("OpenADR event %s (modification %s): %s, %s", *key, opt, reason)
        return opt

    def start(self) -> None:
        """Run the VEN in the running event loop while this process leads the scheduler (or at
        once without one); a VEN that could not register tries again every
        ``REGISTER_RETRY_SECONDS``."""
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def _supervise(self) -> None:
        retry_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            leads = self.leads is None or self.leads()
            if leads and self._task is None:
                log.info("OpenADR VEN starts, VTN %s", self.vtn_url)
                self._task = loop.create_task(self.client.run())
                retry_at = loop.time() + REGISTER_RETRY_SECONDS
            elif not leads and self._task is not None:
                log.info("OpenADR VEN stops (this process no longer leads the scheduler)")
                await self._stop_client()
                self.client = self._new_client()
            elif (self._task is not None and self._task.done() and not self.registered
                  and loop.time() >= retry_at):
                await self._stop_client()
                self.client = self._new_client()
                continue
            await asyncio.sleep(LEAD_CHECK_SECONDS)

    async def _stop_client(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        if self.client.scheduler.running:
            self.client.scheduler.shutdown(wait=False)
        if self.client.client_session is not None:
            await self.client.client_session.close()

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        await self._stop_client()


def _detail(event: dict[str, Any]) -> dict[str, Any]:
    descriptor = event.get("event_descriptor") or {}
    return {"openadr": {"modification_number": descriptor.get("modification_number"),
                        "market_context": descriptor.get("market_context"),
                        "event_status": descriptor.get("event_status")}}
