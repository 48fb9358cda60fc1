"""The dashboard's labels come from app/data/labels.yaml, the home the monthly report's labels
share: the page's script holds every label the page and its code ask for, in Chinese and
English, and the report reads the same file."""

from __future__ import annotations

import json
import re
from importlib import resources

import yaml
from fastapi.testclient import TestClient

from app.services.carbon_report import LABELS

PREFIX = "window.ZC_I18N = "


def _served(client: TestClient) -> dict[str, dict[str, str]]:
    r = client.get("/dashboard/static/i18n.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["x-content-type-options"] == "nosniff"
    body = r.text
    assert PREFIX in body
    return json.loads(body[body.index(PREFIX) + len(PREFIX):].rstrip().removesuffix(";"))


def test_every_label_the_page_uses_is_served_in_both_languages(client: TestClient) -> None:
    tables = _served(client)
    page = client.get("/dashboard").text
    script = client.get("/dashboard/static/dashboard.js").text
    used = set(re.findall(r'data-i18n="([^"]+)"', page)) | set(re.findall(r'\bt\("([a-z0-9_]+)"\)',
                                                                          script))
    assert len(used) > 50
    for lang in ("zh", "en"):
        missing = sorted(k for k in used if not tables[lang].get(k))
        assert not missing, (lang, missing)
    assert tables["zh"]["app_title"] != tables["en"]["app_title"]


def test_labels_have_one_home() -> None:
    """Each entry holds its Chinese and English side by side; the report's table is the
    file's ``report`` section, as read by the report."""
    raw = yaml.safe_load(resources.files("app.data").joinpath("labels.yaml")
                         .read_text(encoding="utf-8"))
    for key, entry in raw["dashboard"].items():
        assert set(entry) == {"zh", "en"}, key
    assert LABELS["zh"]["title"] == raw["report"]["title"]["zh"]
    assert LABELS["en"]["statuses"]["missed"] == raw["report"]["statuses"]["missed"]["en"]
    static = resources.files("app").joinpath("static")
    assert not static.joinpath("i18n.js").is_file()
