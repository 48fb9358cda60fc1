"""User-facing labels in Chinese and English, from ``app/data/labels.yaml``: one home for the
dashboard's table (served as ``/dashboard/static/i18n.js``) and the monthly report's."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")


@cache
def _data() -> dict[str, Any]:
    text = resources.files("app.data").joinpath("labels.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _is_leaf(node: Any) -> bool:
    return isinstance(node, dict) and bool(node) and set(node) <= set(LANGS) \
        and all(isinstance(v, str) for v in node.values())


def _in(node: dict[str, Any], lang: Lang) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if _is_leaf(value):
            if lang in value:
                out[key] = value[lang]
        elif isinstance(value, dict):
            out[key] = _in(value, lang)
        else:
            raise ValueError(f"labels.yaml: {key!r} is neither {{zh, en}} nor a group")
    return out


@cache
def table(name: str, lang: Lang) -> dict[str, Any]:
    """The ``name`` table (``dashboard`` or ``report``) in ``lang``: each ``{zh, en}`` entry
    becomes its text, groups stay nested; an entry without ``lang`` is left out (the caller
    falls back). Do not mutate the result (it is shared); copy it."""
    return _in(_data()[name], lang)


@cache
def dashboard_script() -> str:
    """``window.ZC_I18N = {zh: {...}, en: {...}}``: the dashboard's labels as a script (the
    page loads only scripts from its own origin, so the table comes as one)."""
    tables = {lang: table("dashboard", lang) for lang in LANGS}
    return ("/* Labels of the dashboard (app/data/labels.yaml): Chinese first, English on the "
            "toggle. */\n\"use strict\";\nwindow.ZC_I18N = "
            + json.dumps(tables, ensure_ascii=False, indent=1) + ";\n")
