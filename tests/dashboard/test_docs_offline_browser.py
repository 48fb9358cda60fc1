"""/docs and /redoc render their operations with the internet blocked, and no request leaves
127.0.0.1 (Swagger UI, ReDoc and the favicon are served by the service itself)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from app.main import create_app
from tests.live_server import live_server

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path, operation", [
    ("/docs", ".opblock"),
    ("/redoc", "[data-section-id^='operation/']"),
])
def test_api_docs_render_offline(browser, engine, settings, path, operation):
    with live_server(create_app(settings, engine=engine)) as base:
        context = browser.new_context()
        requested: list[str] = []
        left: list[str] = []

        def only_local(route):  # type: ignore[no-untyped-def]
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                left.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        tab = context.new_page()
        tab.on("request", lambda r: requested.append(r.url))
        errors: list[str] = []
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.goto(base + path)
        tab.wait_for_selector(operation, timeout=30_000)
        assert tab.locator(operation).count() > 10
        assert "/v1/readings" in tab.content()
        tab.wait_for_load_state("networkidle")
        context.close()
    assert not left, f"requests that left 127.0.0.1: {left}"
    assert requested and all(urlsplit(u).hostname == "127.0.0.1" for u in requested
                             if not u.startswith(("data:", "blob:"))), requested
    assert not errors, errors
