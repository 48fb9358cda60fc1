"""The virtual power plant view in headless chromium against the demo park: available
flexibility by kind, the demand-response events, and for an event the park's baseline, plan and
actual curves with each enterprise's contribution, all compared with the API's answers; in
Chinese without raw keys, in English with units, and scoped for an enterprise key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.dashboard.conftest import DemoServer, screenshot
from tests.dashboard.test_dashboard_browser import chart_option, login, shown_number, wait_view
from tests.dashboard.test_dashboard_i18n_browser import ENGLISH_STATUS, SNAKE

pytestmark = pytest.mark.browser

KINDS = ("curtailable", "shiftable", "storage", "pv_curtailment")


def open_vpp(page: Any, server: DemoServer, key: str | None = None) -> None:
    login(page, server, key)
    page.click("#nav a[data-view=vpp]")
    wait_view(page, "vpp")


def windows() -> list[dict[str, str]]:
    """The 24-hour windows the page may have asked for (it floors its clock to 15 minutes)."""
    now = datetime.now(UTC)
    a = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    return [{"start": s.isoformat(), "end": (s + timedelta(hours=24)).isoformat()}
            for s in (a, a - timedelta(minutes=15))]


def r1(v: float | None) -> float | None:
    return None if v is None else round(v * 10) / 10


def test_flexibility_tiles_and_chart_match_the_api(page, demo_server):
    open_vpp(page, demo_server)
    answers = [demo_server.get("/v1/flex/available", **w) for w in windows()]
    shown = {k: shown_number(page.inner_text(f"#flex-{k} .v"), "")[0] for k in KINDS}
    ok = []
    for api in answers:
        first = {k["kind"]: (k["steps"][0]["reduce_kw"] if k["steps"] else 0.0)
                 for k in api["kinds"]}
        ok.append(all(abs(shown[k] - first.get(k, 0.0)) <= 0.5 for k in KINDS))
    assert any(ok), (shown, answers[0]["kinds"])
    api = answers[ok.index(True)]
    # the demo registers curtailable and shiftable loads; the station and PV arrays add theirs
    by_kind = {k["kind"]: k for k in api["kinds"]}
    assert by_kind["curtailable"]["resources"] >= 2 and by_kind["shiftable"]["resources"] >= 2
    option = chart_option(page, "chart-vpp-flex")
    assert [s["name"] for s in option["series"]] == [
        "可中断负荷", "可转移负荷", "储能电站", "光伏限发"]
    for kind, series in zip(KINDS, option["series"], strict=True):
        assert series["data"] == pytest.approx(
            [r1(s["reduce_kw"]) for s in by_kind[kind]["steps"]], abs=0.051)
    assert len(option["x"]) == 96


def test_events_list_upcoming_and_past_with_their_settlement(page, demo_server):
    open_vpp(page, demo_server)
    events = demo_server.get("/v1/dr/events")
    now = datetime.now(UTC)
    past = [e for e in events if datetime.fromisoformat(e["end"]) <= now]
    upcoming = [e for e in events if datetime.fromisoformat(e["start"]) > now]
    assert len(past) >= 2 and len(upcoming) >= 1  # the demo's cycle
    rows = page.locator("#vpp-events-table tbody tr")
    assert rows.count() == len(events)
    # upcoming first (soonest first), then past (latest first)
    order = [rows.nth(i).get_attribute("data-event") for i in range(rows.count())]
    assert order[:len(upcoming)] == [e["id"] for e in sorted(upcoming, key=lambda e: e["start"])]
    for ev in past:
        settlement = demo_server.get(f"/v1/dr/events/{ev['id']}/settlement")
        row = page.locator(f"#vpp-events-table tr[data-event='{ev['id']}']")
        assert row.get_attribute("data-state") == "past"
        assert "已结算" in row.inner_text()
        delivered = row.locator("td[data-kwh]")
        value, tol = shown_number(delivered.inner_text(), "")
        assert abs(value - settlement["delivered_kwh"]) <= tol + 1e-9
    for ev in upcoming:
        row = page.locator(f"#vpp-events-table tr[data-event='{ev['id']}']")
        assert "即将开始" in row.inner_text()


def test_a_settled_event_shows_baseline_plan_actual_and_contributions(page, demo_server):
    open_vpp(page, demo_server)
    event_id = page.get_attribute("#vpp-event-card", "data-event")
    settlement = demo_server.get(f"/v1/dr/events/{event_id}/settlement")
    plan = demo_server.get(f"/v1/dr/events/{event_id}/plan")
    assert settlement["steps"], "the demo's past events are settled with their curves"
    option = chart_option(page, "chart-vpp-event")
    series = {s["name"]: s["data"] for s in option["series"]}
    assert len(option["x"]) == len(settlement["steps"])
    assert series["基线（kW）"] == pytest.approx(
        [r1(s["baseline_kw"]) for s in settlement["steps"]], abs=0.051)
    assert series["实际（kW）"] == pytest.approx(
        [r1(s["actual_kw"]) for s in settlement["steps"]], abs=0.051)
    delivered_plan = {s["start"]: s["delivered_kw"] for s in plan["steps"]}
    expected_plan = [r1(s["baseline_kw"] - delivered_plan[s["start"]]) for s in settlement["steps"]]
    assert series["计划（kW）"] == pytest.approx(expected_plan, abs=0.11)
    # one stacked bar series per enterprise with an instruction, summing to its planned kW
    ents = {i["enterprise"] or "园区储能" for i in plan["instructions"]}
    bars = {name.split(" · ")[0]: data for name, data in series.items() if " · " in name}
    assert set(bars) == ents
    # the table: each enterprise's delivered energy as settled
    for line in settlement["lines"]:
        if line["level"] != "enterprise":
            continue
        cell = page.locator(f"#vpp-contrib-table tr[data-enterprise='{line['enterprise']}'] "
                            "td[data-kwh]")
        value, tol = shown_number(cell.inner_text(), "")
        assert abs(value - line["delivered_kwh"]) <= tol + 1e-9
    text = page.inner_text("#view-vpp")
    assert not SNAKE.findall(text), SNAKE.findall(text)
    assert not ENGLISH_STATUS.findall(text), ENGLISH_STATUS.findall(text)
    for label in ("可调节能力", "需求响应事件", "事件曲线与各企业贡献", "实际响应电量（kWh）",
                  "收益（元）"):
        assert label in text
    screenshot(page, "20_vpp_settled_event")


def test_an_upcoming_event_shows_its_plan_and_no_actual_yet(page, demo_server):
    open_vpp(page, demo_server)
    row = page.locator("#vpp-events-table tr[data-state=upcoming]").first
    event_id = row.get_attribute("data-event")
    row.locator("button.link").click()
    page.wait_for_selector(f"#vpp-event-card[data-event='{event_id}']")
    page.wait_for_function(
        "id => { const n = document.getElementById('chart-vpp-event');"
        " const c = echarts.getInstanceByDom(n); return c && c.getOption().xAxis[0].data.length"
        " > 0 && document.getElementById('vpp-event-name').textContent.startsWith(id); }",
        arg=event_id)
    plan = demo_server.get(f"/v1/dr/events/{event_id}/plan")
    option = chart_option(page, "chart-vpp-event")
    series = {s["name"]: s["data"] for s in option["series"]}
    assert "实际（kW）" not in series
    assert len(option["x"]) == len(plan["steps"])
    assert series["基线（kW）"] == pytest.approx([r1(s["baseline_kw"]) for s in plan["steps"]],
                                                abs=0.051)
    assert "未结算" in page.inner_text("#vpp-event-kpis")
    text = page.inner_text("#view-vpp")
    assert not SNAKE.findall(text), SNAKE.findall(text)
    screenshot(page, "21_vpp_upcoming_event")


def test_english_labels_carry_units(page, demo_server):
    open_vpp(page, demo_server)
    page.click("#app [data-lang-toggle]")
    wait_view(page, "vpp")
    text = page.inner_text("#view-vpp")
    for label in ("Available flexibility", "Demand-response events", "Target (kW)",
                  "Price (yuan/kWh)", "Delivered (kWh)", "Revenue (yuan)"):
        assert label in text, label
    names = [s["name"] for s in chart_option(page, "chart-vpp-event")["series"]]
    assert "Baseline (kW)" in names and "Plan (kW)" in names
    page.click("#app [data-lang-toggle]")  # back to Chinese for the next tests' shared storage
    wait_view(page, "vpp")


def test_an_enterprise_key_sees_only_its_own_contribution(page, demo_server):
    open_vpp(page, demo_server, demo_server.enterprise_key)
    event_id = page.get_attribute("#vpp-event-card", "data-event")
    mine = demo_server.get(f"/v1/dr/events/{event_id}/plan", key=demo_server.enterprise_key)
    assert {i["enterprise"] for i in mine["instructions"]} <= {demo_server.enterprise}
    shown = {n for n in page.locator("#vpp-contrib-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.enterprise)") if n}
    assert shown <= {demo_server.enterprise}
    names = [s["name"] for s in chart_option(page, "chart-vpp-event")["series"]]
    others = {"ND-MATL", "ND-METAL", "GY-BEER", "XZ-DATA"}
    assert not [n for n in names if n.split(" · ")[0] in others]
