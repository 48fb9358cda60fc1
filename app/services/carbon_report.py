"""Monthly energy-carbon report (HTML): tables of the month and plots of the year to date
(energy, CO2 by source, energy intensity against its targets) inline as SVG, in Chinese or
English. Plots use a CJK font when one is installed; without one, Chinese reports draw their
plot labels in English (tables stay Chinese) and say so."""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib as mpl
from jinja2 import Environment
from matplotlib import font_manager
from matplotlib.figure import Figure
from sqlalchemy import Connection

from app.labels import LANGS, table
from app.repositories import carbon as repo
from app.repositories.readings_store import ReadingsStore
from app.services import carbon as svc
from app.services.carbon_periods import Period, parse_period
from carbon import load_targets
from energy.units import carrier_spec

log = logging.getLogger(__name__)
CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "Noto Sans SC")

LABELS: dict[str, dict[str, Any]] = {lang: table("report", lang) for lang in LANGS}
"""The report's labels (app/data/labels.yaml, beside the dashboard's)."""

TEMPLATE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ L.title }} {{ period }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;max-width:1100px}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #bbb;padding:3px 8px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#eef3ee}
.plots svg{max-width:100%;height:auto}small{color:#666}
</style></head><body>
<h1>{{ L.title }} · {{ period }}</h1>
<p><small>{{ L.generated }}: {{ generated }} · {{ L.factor_set }}: {{ park.factor_set }} ·
{{ L.status }}: {{ L[park.status] if park.status in L else park.status }} ·
{{ L.basis }}: {{ park.basis_zh if lang == "zh" else park.basis }} ·
{{ L.input_hash }}: <code>{{ park.input_hash[:16] }}</code></small></p>
{% if font_note %}<p><small>{{ font_note }}</small></p>{% endif %}
{% if version %}<p>{{ L.version }}: {{ version }}{% if restated %} · <strong class="restated">{{
L.restated }} ({{ L.latest }}: {{ latest }})</strong>{% endif %}</p>{% endif %}
<h2>{{ L.summary }}</h2>
<table><tr><th>{{ L.item }}</th><th>{{ L.value }}</th><th>{{ L.unit }}</th></tr>
{% for label, value, unit in summary %}<tr><td>{{ label }}</td><td class="n">{{ value }}</td>
<td>{{ unit }}</td></tr>{% endfor %}</table>
<h2>{{ L.by_carrier }}</h2>
<table><tr><th>{{ L.carrier }}</th><th>{{ L.quantity }}</th><th>{{ L.unit }}</th><th>tce</th></tr>
{% for name, q, unit, tce in carriers %}<tr><td>{{ name }}</td><td class="n">{{ q }}</td>
<td>{{ unit }}</td><td class="n">{{ tce }}</td></tr>{% endfor %}</table>
<h2>{{ L.by_source }}</h2>
<table><tr><th>{{ L.source }}</th><th>tCO2</th></tr>
{% for name, v in sources %}<tr><td>{{ name }}</td><td class="n">{{ v }}</td></tr>{% endfor %}
</table>
<h2>{{ L.plots }}</h2><div class="plots">{% for svg in plots %}{{ svg | safe }}{% endfor %}</div>
<h2>{{ L.targets }} ({{ year }})</h2>
<table><tr><th>{{ L.target }}</th><th>{{ L.phase }}</th><th>{{ L.target }}</th>
<th>{{ L.actual }}</th><th>{{ L.projected }}</th><th>{{ L.required }}</th>
<th>{{ L.on_track }}</th></tr>
{% for t in targets %}<tr><td>{{ t.name }}</td><td>{{ t.phase_name }} ({{ t.evaluation_year }})</td>
<td class="n">{{ t.comparator }} {{ t.target_value }}</td><td class="n">{{ t.actual_value }}</td>
<td class="n">{{ t.projected_value }}</td><td class="n">{{ t.required_yearly_change_pct }}</td>
<td>{{ t.status_name }}</td></tr>{% endfor %}</table>
<h2>{{ L.enterprises }}</h2>
<table><tr><th>{{ L.enterprise }}</th><th>{{ L.zone }}</th><th>{{ L.energy_tce }} (tce)</th>
<th>{{ L.co2_t }} (tCO2)</th><th>{{ L.va }}</th><th>{{ L.intensity }}</th></tr>
{% for e in enterprises %}<tr><td>{{ e.name }} <small>{{ e.code }}</small></td><td>{{ e.zone }}</td>
<td class="n">{{ e.energy }}</td><td class="n">{{ e.co2 }}</td><td class="n">{{ e.va }}</td>
<td class="n">{{ e.intensity }}</td></tr>{% endfor %}</table>
<h2>{{ L.history }}</h2>
{% if history %}<table><tr><th>{{ L.version }}</th><th>{{ L.closed_at }}</th>
<th>{{ L.closed_by }}</th><th>{{ L.reason }}</th><th>{{ L.energy_tce }} Δ (tce)</th>
<th>{{ L.co2_t }} Δ (tCO2)</th><th>{{ L.ledgers_changed }}</th></tr>
{% for h in history %}<tr><td>{{ h.version }}</td><td>{{ h.closed_at }}</td>
<td>{{ h.closed_by }}</td><td>{{ h.reason or "—" }}</td><td class="n">{{ h.energy_delta }}</td>
<td class="n">{{ h.co2_delta }}</td><td>{{ h.changed }}</td></tr>{% endfor %}</table>
{% else %}<p>{{ L.no_history }}</p>{% endif %}
<p><small>{{ L.note }}</small></p>
</body></html>
"""


CJK_FILE = re.compile(r"cjk|wqy|wenquanyi|sourcehan|simhei|msyh|yahei|notosanssc", re.I)


def _carrier_name(key: str, lang: str, L: dict[str, Any]) -> str:
    try:
        spec = carrier_spec(key)
        return spec.label_zh if lang == "zh" else spec.label_en
    except (KeyError, ValueError, LookupError):
        return L["carriers"].get(key, key)


def _known_cjk_font() -> str | None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


@lru_cache
def cjk_font() -> str | None:
    """The first installed CJK font family, or None. matplotlib lists the fonts it found when it
    built its cache; a CJK font installed later (``apt-get install fonts-noto-cjk``) is added
    here from the system's font folders and the cache is saved again, so it is used at once
    and by every later process."""
    found = _known_cjk_font()
    if found is not None:
        return found
    added = 0
    for path in font_manager.findSystemFonts():
        if CJK_FILE.search(Path(path).name):
            try:
                font_manager.fontManager.addfont(path)
                added += 1
            except (OSError, RuntimeError, ValueError):
                log.warning("font %s could not be read", path)
    found = _known_cjk_font()
    if added and found is not None:
        cache = Path(mpl.get_cachedir()) / \
            f"fontlist-v{font_manager.FontManager.__version__}.json"
        try:
            font_manager.json_dump(font_manager.fontManager, cache)
            log.info("matplotlib font cache rebuilt with %s (%s)", found, cache)
        except OSError as exc:  # read-only home: this process still uses the font
            log.warning("could not save matplotlib's font cache %s: %s", cache, exc)
    return found


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _plots(months: list[str], ledgers: list[dict[str, Any]], intensity: list[float | None],
           base_intensity: float | None, L: dict[str, str], font: str | None) -> list[str]:
    rc = {"svg.fonttype": "none", "font.size": 9,
          "font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"]}
    x = [m[5:] for m in months]
    out = []
    with mpl.rc_context(rc):
        fig = Figure(figsize=(7, 2.6))
        ax = fig.subplots()
        ax.bar(x, [led["energy_tce"] for led in ledgers], color="#4a7d5c")
        ax.set_title(L["plot_energy"])
        ax.set_xlabel(L["month"])
        out.append(_svg(fig))

        fig = Figure(figsize=(7, 2.6))
        ax = fig.subplots()
        bottom = [0.0] * len(ledgers)
        for key, label, color in (("electricity", L["electricity_src"], "#c0504d"),
                                  ("fuels", L["fuels"], "#8064a2"),
                                  ("heat", L["heat"], "#f79646"),
                                  ("process", L["process"], "#4bacc6")):
            vals = [led["co2_by_source"].get(key, 0.0) for led in ledgers]
            ax.bar(x, vals, bottom=bottom, label=label, color=color)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_title(L["plot_co2"])
        ax.legend(fontsize=7, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.18))
        out.append(_svg(fig))

        fig = Figure(figsize=(7, 2.6))
        ax = fig.subplots()
        ax.bar(x, [v if v is not None else 0.0 for v in intensity], color="#9bbb59")
        plan = {t.id: t for t in load_targets("plan").targets}
        final = plan["energy_intensity_2030"].value
        ax.axhline(final, color="#c0504d", ls="--", label=L["target_2030"])
        if base_intensity is not None:
            pct = plan["energy_intensity_reduction_2026_2027"].change_vs_base_pct or 0.0
            ax.axhline(base_intensity * (1 + pct / 100.0), color="#1f497d", ls=":",
                       label=L["target_2027"])
        ax.set_title(L["plot_intensity"])
        ax.legend(fontsize=7)
        out.append(_svg(fig))
    return out


def monthly_report(conn: Connection, period: Period, lang: str, *, store: ReadingsStore,
                   version: int | None = None, want: svc.Basis | None = None) -> str:
    """The HTML report of one month (park scope), with the year to date; ``version``: a closed
    version of the month (default: the newest), with the month's restatement history."""
    font = cjk_font()
    L = dict(LABELS[lang])
    plot_labels = L if (lang != "zh" or font) else LABELS["en"]
    park_entity = svc.Entity("park", "park")
    ledgers = svc.month_ledgers(conn, period, store=store, version=version, want=want)
    park = ledgers[0]
    inds = svc.indicators(conn, park_entity, period, store=store,
                          version=version, want=want)["indicators"]
    history = svc.period_history(conn, period.label)
    months = [f"{period.year:04d}-{m:02d}" for m in range(1, period.start.month + 1)]
    ytd = [svc.ledger(conn, park_entity, parse_period(m), store=store,
                      with_batches=False, want=want) for m in months]
    intensity = []
    for led in ytd:
        va = led["inputs"]["activity"]["value_added_10k_yuan"]
        intensity.append(led["energy_tce"] / va if va else None)
    base = svc.indicators(conn, park_entity, parse_period(str(svc.base_year())),
                          store=store, want=want
                          )["indicators"]["energy_intensity_tce_per_10k_yuan"]
    summary = [
        (L["energy_tce"], _fmt(park["energy_tce"]), "tce"),
        (L["co2_t"], _fmt(park["co2_t"]), "tCO2"),
        (L["co2_location_based_t"], _fmt(park["co2_location_based_t"]), "tCO2"),
        (L["electricity"], _fmt(park["electricity_consumed_kwh"], 0), "kWh"),
        (L["va"], _fmt(inds["value_added_10k_yuan"], 1), L["u_va"]),
        (L["intensity"], _fmt(inds["energy_intensity_tce_per_10k_yuan"], 4), L["u_intensity"]),
        (L["co2_per_energy"], _fmt(inds["co2_per_energy_t_per_tce"], 4), "tCO2/tce"),
        (L["clean_share"], _fmt(inds["clean_energy_share_pct"], 1), "%"),
    ]
    carriers = [(_carrier_name(k, lang, L), _fmt(c.get("quantity", c.get("quantity_t")), 1),
                 c.get("unit", "t"), _fmt(c["tce"])) for k, c in park["energy_by_carrier"].items()]
    src_label = {"fuels": L["fuels"], "electricity": L["electricity_src"], "heat": L["heat"],
                 "process": L["process"]}
    sources = [(src_label.get(k, k), _fmt(v)) for k, v in park["co2_by_source"].items()]
    names = repo.enterprise_names(conn)
    enterprises = []
    for led in ledgers[1:]:
        if led["energy_tce"] == 0 and not led["provenance"]["activity_records"]:
            continue
        va = led["inputs"]["activity"]["value_added_10k_yuan"]
        name, zone = names.get(led["code"], (led["code"], ""))
        enterprises.append({"code": led["code"], "name": name, "zone": zone,
                            "energy": _fmt(led["energy_tce"]), "co2": _fmt(led["co2_t"]),
                            "va": _fmt(va, 1),
                            "intensity": _fmt(led["energy_tce"] / va if va else None, 4)})
    as_of = min(svc.local_today(), period.end - timedelta(days=1))
    targets = []
    for t in svc.targets_status(conn, park_entity, period.year, store=store,
                                as_of=as_of)["status"]:
        row = {k: (_fmt(v, 4) if isinstance(v, float) or v is None else v)
               for k, v in t.items()}
        row["name"] = L["targets_names"].get(t["target_id"], t["target_id"])
        row["phase_name"] = L["phase_names"].get(t["phase"], t["phase"])
        row["status_name"] = L["statuses"].get(t["status"], t["status"])
        targets.append(row)
    env = Environment(autoescape=True)
    return env.from_string(TEMPLATE).render(
        lang=lang, L=L, period=period.label, park=park, summary=summary, carriers=carriers,
        sources=sources, enterprises=enterprises, targets=targets, year=period.year,
        history=history, version=park.get("version"), restated=park.get("restated", False),
        latest=park.get("latest_version"),
        plots=_plots(months, ytd, intensity, base, plot_labels, font),
        font_note=L["no_font"] if (lang == "zh" and not font) else "",
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
