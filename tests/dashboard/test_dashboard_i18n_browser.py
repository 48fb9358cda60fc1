"""The Chinese views show no raw key (a snake_case token) and no English status; solver
diagnostics sit behind a closed "details" toggle."""

from __future__ import annotations

import re

import pytest

from tests.dashboard.test_dashboard_browser import login, wait_view

pytestmark = pytest.mark.browser

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
ENGLISH_STATUS = re.compile(r"\b(achieved|missed|on track|off track|no data|done|failed|queued"
                            r"|running|optimal|rolling|rule)\b")


@pytest.mark.parametrize("view", ["storage", "scenarios"])
def test_zh_views_show_no_raw_keys(page, demo_server, view):
    login(page, demo_server)
    page.click(f"#nav a[data-view={view}]")
    wait_view(page, view)
    if view == "scenarios":
        page.wait_for_selector("#scenario-detail .kpis", timeout=30_000)
    text = page.inner_text(f"#view-{view}")
    # scenario names are what the planner called them (data, not labels)
    for name in page.locator("#runs-table tbody button.link").all_inner_texts():
        text = text.replace(name, "")
    assert not SNAKE.findall(text), SNAKE.findall(text)
    assert not ENGLISH_STATUS.findall(text), ENGLISH_STATUS.findall(text)
    # the diagnostics are there for who wants them, closed
    details = page.locator(f"#view-{view} details.diagnostics")
    if details.count():
        assert not details.first.evaluate("d => d.open")
        details.first.locator("summary").click()
        assert SNAKE.search(page.inner_text(f"#view-{view} details.diagnostics"))


def test_enterprise_view_labels_its_own_load(page, demo_server):
    login(page, demo_server, demo_server.enterprise_key)
    label = page.inner_text("#tile-load .tile-label")
    assert "企业负荷" in label and "园区" not in label


def test_zh_alerts_read_in_chinese(page, demo_server):
    login(page, demo_server)
    page.click("#nav a[data-view=alerts]")
    wait_view(page, "alerts")
    text = page.inner_text("#view-alerts")
    assert "实测发电" in text and "安全上限" in text  # the demo's PV and storage alerts
    for english in ("intervals missing", "measured vs", "expected on", "safe maximum",
                    "safe minimum"):
        assert english not in text, english
