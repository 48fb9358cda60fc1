"""/docs and /redoc still work under their Content-Security-Policy, in headless Chromium.

The pages load Swagger UI and ReDoc from jsDelivr; with no network here, the browser is served
the same bundles from the ``fastapi-offline`` package at those URLs, so the CSP is judged on the
real scripts (skipped when that package or Chromium is absent)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import live_server

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ZCPARK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def test_docs_pages_render_without_csp_violations(app):
    sync_api = pytest.importorskip("playwright.sync_api")
    offline = pytest.importorskip("fastapi_offline")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    static = Path(offline.__file__).parent / "static"
    refused: list[str] = []

    def from_cdn(route: Any) -> None:
        bundle = static / route.request.url.rsplit("/", 1)[-1]
        if bundle.is_file():
            route.fulfill(path=str(bundle))
        else:
            route.fulfill(status=404, body="")

    with live_server(app) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: refused.append(m.text)
                    if "Content Security Policy" in m.text or "Refused to" in m.text else None)
            page.route("https://cdn.jsdelivr.net/**", from_cdn)
            page.route("https://fastapi.tiangolo.com/**",
                       lambda r: r.fulfill(path=str(static / "favicon.png")))
            page.route("https://fonts.googleapis.com/**",
                       lambda r: r.fulfill(body="", content_type="text/css"))
            page.goto(base + "/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.locator(".opblock").count() > 40
            page.goto(base + "/redoc")
            page.wait_for_selector("h1:has-text(\"zcpark\")", timeout=30_000)
            assert page.locator("[data-section-id]").count() > 40
        finally:
            browser.close()
    assert not refused, refused
