"""The park's OpenADR 2.0b VEN against a real openleadr VTN on 127.0.0.1: an event delivered by the
VTN becomes a stored demand-response event and the VTN sees the opt-in; an event the park cannot
read or take is opted out of, with the reason in the response, and nothing of it is stored."""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openleadr import OpenADRServer, hooks, objects
from sqlalchemy import text

from energy.grid_connection import lhasa_etdz_connection
from tests.conftest import auth, unique

VEN_ID = "PARKVEN01"
WAIT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Vtn:
    """An openleadr VTN in a thread of its own; opt answers and event responses are queued."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.loop = asyncio.new_event_loop()
        self.opts: queue.Queue[tuple[str, str]] = queue.Queue()
        self.responses: dict[str, dict[str, Any]] = {}
        self.server = OpenADRServer(vtn_id="PARKTESTVTN", http_host="127.0.0.1",
                                    http_port=self.port, show_fingerprint=False,
                                    requested_poll_freq=timedelta(seconds=1))
        self.server.add_handler("on_create_party_registration",
                                lambda info: (VEN_ID, "REG-" + VEN_ID))
        hooks.register("before_handle", self._seen)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    async def _seen(self, message_type: str, payload: dict[str, Any]) -> None:
        if message_type == "oadrCreatedEvent":
            for r in payload.get("event_responses") or []:
                self.responses[r["event_id"]] = r

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.run_async())
        self.loop.run_forever()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/OpenADR2/Simple/2.0b"

    def send(self, event: objects.Event) -> None:
        async def opted(ven_id: str, event_id: str, opt_type: str) -> None:
            self.opts.put((event_id, opt_type))

        self.loop.call_soon_threadsafe(
            lambda: self.server.add_raw_event(ven_id=VEN_ID, event=event, callback=opted))

    def opt_of(self, event_id: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                got, opt = self.opts.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if got == event_id:
                return opt
        raise AssertionError(f"the VTN saw no opt for {event_id} within {WAIT_S} s")

    def cancel(self, event_id: str) -> None:
        self.loop.call_soon_threadsafe(lambda: self.server.cancel_event(VEN_ID, event_id))

    def reason_of(self, event_id: str) -> str:
        """The description of the VEN's response to ``event_id`` (the hook runs as a task)."""
        deadline = time.monotonic() + 5
        while event_id not in self.responses and time.monotonic() < deadline:
            time.sleep(0.05)
        return str(self.responses[event_id]["response_description"])

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def vtn() -> Iterator[Vtn]:
    server = Vtn()
    yield server
    server.stop()
    hooks.HOOKS["before_handle"].remove(server._seen)


@pytest.fixture(scope="module")
def ven_client(make_app, vtn, operator_key, make_enterprise) -> Iterator[TestClient]:
    app = make_app(openadr_vtn_url=vtn.url, openadr_ven_id=VEN_ID)
    with TestClient(app) as c:
        # flexibility for the events below: a 1 MW station (more may exist in this database)
        r = c.post("/v1/storage", headers=auth(operator_key), json={
            "code": unique("BESS"), "name": "VPP station", "zone": "A区",
            "enterprise": make_enterprise()["code"],
            "battery": {"power_charge_mw": 1, "power_discharge_mw": 1, "energy_mwh": 2}})
        assert r.status_code == 201, r.text
        yield c


def _start(days: int) -> datetime:
    return datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(
        days=days)


def oadr_event(event_id: str, start: datetime, *, delta_kw: float = -500.0,
               price: float | None = 2.5, signal: tuple[str, str] = ("LOAD_DISPATCH", "delta"),
               hours: float = 2.0, modification: int = 0,
               created: datetime | None = None) -> objects.Event:
    duration = timedelta(hours=hours)
    signals = [objects.EventSignal(
        signal_id=unique("SIG"), signal_name=signal[0], signal_type=signal[1],
        intervals=[objects.Interval(dtstart=start, duration=duration, signal_payload=delta_kw)])]
    if price is not None:
        signals.append(objects.EventSignal(
            signal_id=unique("SIG"), signal_name="ELECTRICITY_PRICE", signal_type="price",
            intervals=[objects.Interval(dtstart=start, duration=duration,
                                        signal_payload=price)]))
    return objects.Event(
        event_descriptor=objects.EventDescriptor(
            event_id=event_id, modification_number=modification, event_status="far",
            market_context="http://grid.example/dr",
            created_date_time=created or datetime.now(UTC)),
        active_period=objects.ActivePeriod(dtstart=start, duration=duration),
        event_signals=signals, targets=[objects.Target(ven_id=VEN_ID)],
        response_required="always")


def versions(engine, event_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM dr_event_versions WHERE event_id = :i"),
                               {"i": event_id}))


def test_an_event_from_the_vtn_is_stored_and_opted_into(vtn, ven_client, operator_key, engine):
    event_id = unique("OADR")
    start, created = _start(300), datetime.now(UTC).replace(microsecond=0)
    vtn.send(oadr_event(event_id, start, created=created))
    assert vtn.opt_of(event_id) == "optIn"
    stored = ven_client.get(f"/v1/dr/events/{event_id}", headers=auth(operator_key)).json()
    assert (stored["source"], stored["direction"], stored["target_kw"],
            stored["price_yuan_per_kwh"]) == ("openadr", "reduce", 500.0, 2.5)
    assert datetime.fromisoformat(stored["start"]) == start
    assert datetime.fromisoformat(stored["end"]) == start + timedelta(hours=2)
    status = ven_client.get("/v1/dr/openadr", headers=auth(operator_key)).json()
    assert status["enabled"] and status["registered"] and status["ven_id"] == VEN_ID
    assert any(d["event_id"] == event_id and d["opt"] == "optIn" for d in status["decisions"])

    # the same event again (a modification the VTN sends) with the same content: no new version
    vtn.send(oadr_event(event_id, start, modification=1, created=created))
    assert vtn.opt_of(event_id) == "optIn"
    assert versions(engine, event_id) == 1
    # a changed target is a new version
    vtn.send(oadr_event(event_id, start, delta_kw=-600.0, modification=2, created=created))
    assert vtn.opt_of(event_id) == "optIn"
    assert versions(engine, event_id) == 2

    # an overlapping event is opted out of, the reason naming the stored one; nothing stored
    clash = unique("OADR")
    vtn.send(oadr_event(clash, start + timedelta(hours=1)))
    assert vtn.opt_of(clash) == "optOut"
    assert event_id in vtn.reason_of(clash)
    assert versions(engine, clash) == 0


@pytest.mark.parametrize("name,kwargs,reason", [
    ("unknown signal", {"signal": ("SIMPLE", "level"), "delta_kw": 1}, "LOAD_DISPATCH"),
    ("beyond the connection", {"delta_kw": -(lhasa_etdz_connection().import_limit_kw + 1000)},
     "target_kw"),
    ("off the 15-minute grid", {"hours": 1.1}, "15-minute"),
    ("a zero target", {"delta_kw": 0.0}, "delta is 0"),
])
def test_an_event_the_park_cannot_take_is_opted_out_with_the_reason(vtn, ven_client, engine,
                                                                     name, kwargs, reason):
    event_id = unique("OADR")
    vtn.send(oadr_event(event_id, _start(320 + len(name)), **kwargs))
    assert vtn.opt_of(event_id) == "optOut", name
    assert reason in vtn.reason_of(event_id)
    assert versions(engine, event_id) == 0


def test_a_target_beyond_the_parks_flexibility_is_opted_out(vtn, ven_client, operator_key,
                                                           engine):
    start = _start(340)
    r = ven_client.get("/v1/flex/available", headers=auth(operator_key), params={
        "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()})
    can = min(sum(k["steps"][i]["reduce_kw"] for k in r.json()["kinds"]) for i in range(8))
    if can + 100 > lhasa_etdz_connection().import_limit_kw:
        pytest.skip("this database's stations already offer more than the grid connection")
    event_id = unique("OADR")
    vtn.send(oadr_event(event_id, start, delta_kw=-(can + 100)))
    assert vtn.opt_of(event_id) == "optOut"
    assert "flexibility" in vtn.reason_of(event_id)
    assert versions(engine, event_id) == 0


def test_a_cancelled_event_is_a_cancelled_version_and_frees_its_slot(vtn, ven_client,
                                                                     operator_key):
    op = auth(operator_key)
    event_id, start = unique("OADR"), _start(360)
    vtn.send(oadr_event(event_id, start))
    assert vtn.opt_of(event_id) == "optIn"
    vtn.cancel(event_id)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        stored = ven_client.get(f"/v1/dr/events/{event_id}", headers=op).json()
        if stored["status"] == "cancelled":
            break
        time.sleep(0.2)
    assert [(v["version"], v["status"]) for v in stored["versions"]] == [
        (1, "active"), (2, "cancelled")]
    again = unique("OADR")
    vtn.send(oadr_event(again, start))
    assert vtn.opt_of(again) == "optIn"


def test_with_two_processes_one_ven_runs_in_the_scheduler_leader(make_app, vtn, operator_key,
                                                                 engine):
    """Two apps with schedulers stand for two workers: only the leader runs the VEN."""
    fast = {"scheduler_enabled": True, "scheduler_check_seconds": 0.2,
            "scheduler_lease_seconds": 2.0, "scheduler_retry_seconds": 0.2,
            "scenario_executor": "inline", "scenario_poll_seconds": 3600.0,
            "openadr_vtn_url": vtn.url, "openadr_ven_id": VEN_ID}
    op = auth(operator_key)
    with TestClient(make_app(**fast)) as one, TestClient(make_app(**fast)) as two:
        def running() -> list[bool]:
            return [c.get("/v1/dr/openadr", headers=op).json()["running"] for c in (one, two)]

        deadline = time.monotonic() + WAIT_S
        while sorted(running()) != [False, True] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(running()) == [False, True]
        event_id = unique("OADR")
        vtn.send(oadr_event(event_id, _start(250)))
        assert vtn.opt_of(event_id) == "optIn"
        assert versions(engine, event_id) == 1
        time.sleep(3)  # several polls later: still one VEN
        assert sorted(running()) == [False, True]


def test_a_vtn_answering_malformed_xml_stores_nothing_and_the_service_stays_up(
        make_app, operator_key, engine):
    from aiohttp import web

    loop = asyncio.new_event_loop()
    port = _free_port()
    seen: list[bytes] = []

    async def garbage(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(body=b"<oadr:oadrPayload><oadrDistributeEvent><eventID>X",
                            content_type="application/xml")

    async def serve() -> web.AppRunner:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", garbage)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    try:
        with engine.connect() as conn:
            before = conn.scalar(text("SELECT count(*) FROM dr_event_versions"))
        app = make_app(openadr_vtn_url=f"http://127.0.0.1:{port}/OpenADR2/Simple/2.0b",
                       openadr_ven_id=VEN_ID)
        with TestClient(app) as c:
            deadline = time.monotonic() + WAIT_S
            while not seen and time.monotonic() < deadline:
                time.sleep(0.1)
            assert seen, "the VEN never called the VTN"
            assert c.get("/health").status_code == 200
            status = c.get("/v1/dr/openadr", headers=auth(operator_key)).json()
            assert status["enabled"] and not status["registered"]
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM dr_event_versions")) == before
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
