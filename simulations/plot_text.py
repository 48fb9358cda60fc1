"""Words on the plots, in Chinese (default) and English, and a CJK font for the Chinese ones.

``text(key, lang, **fields)`` gives a label; ``phase_label`` a human name for a plan phase
("第一阶段（2026–2028）" / "Phase 1 (2026–2028)"); ``plot_style(lang)`` is a matplotlib rc context
whose sans-serif list starts with an installed CJK family (Noto Sans CJK SC from the Debian package
fonts-noto-cjk, or another common one). A CJK font installed after matplotlib built its font cache
is added to the running font manager. Without any CJK font the Chinese labels are still written
(the figure's texts stay right) and a warning says the glyphs will not render.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

import matplotlib
from matplotlib import font_manager
from matplotlib.typing import RcKeyType

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"
CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN",
                "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Noto Sans SC", "SimHei",
                "Microsoft YaHei", "PingFang SC", "Noto Serif CJK SC")
_CJK_FILE = re.compile(r"(cjk|wqy|wenquanyi|sourcehan|simhei|yahei|pingfang|notosanssc)", re.I)
_log = logging.getLogger(__name__)

TEXT: dict[str, tuple[str, str]] = {
    # energy balance, typical week
    "pv_used": ("光伏自用", "PV used"),
    "direct_line": ("绿电直连", "direct green line"),
    "discharge": ("储能放电", "storage discharge"),
    "grid_import": ("电网购电", "grid import"),
    "charge": ("储能充电", "storage charge"),
    "export": ("上网电量", "export to grid"),
    "curtailed": ("弃电", "curtailed"),
    "load": ("负荷（含储能辅助用电）", "load (incl. storage auxiliaries)"),
    "power_axis": ("功率（MW）：供给为正，消纳为负", "power (MW): supply +, sinks −"),
    "balance_title": ("{name}：典型周电力平衡（{start} 至 {end}）",
                      "{name}: power balance, typical week ({start} to {end})"),
    "date_axis": ("日期（北京时间）", "date (Beijing time, UTC+8)"),
    # state of charge
    "soc_title": ("{name}：{year} 年储能荷电状态", "{name}: storage state of charge, {year}"),
    "daily_range": ("每日最低–最高", "daily min–max"),
    "daily_mean": ("日均值", "daily mean"),
    "soc_axis": ("荷电状态（MWh）", "state of charge (MWh)"),
    "soc_week": ("典型周（{start} 至 {end}）", "typical week ({start} to {end})"),
    "month_axis": ("{year} 年月份", "month of {year}"),
    # monthly mix
    "storage_losses": ("储能损耗", "storage losses"),
    "energy_axis": ("电量（GWh）：供给为正，上网与损耗为负",
                    "energy (GWh): supply +, export and losses −"),
    "mix_title": ("{name}：{year} 年逐月电量构成", "{name}: monthly energy mix, {year}"),
    "month_ticks": ("1月 2月 3月 4月 5月 6月 7月 8月 9月 10月 11月 12月",
                    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"),
    # carbon and intensity path
    "location_based": ("基于位置（电网平均因子）", "location-based"),
    "market_based": ("基于市场（扣除绿电）", "market-based"),
    "co2_axis": ("二氧化碳排放（千吨 CO$_2$）", "CO$_2$ emissions (kt CO$_2$)"),
    "co2_title": ("二氧化碳排放：两种外购电核算方法", "CO$_2$ by scope-2 method"),
    "intensity": ("单位工业增加值能耗", "energy use per 10,000 yuan value added"),
    "intensity_axis": ("吨标准煤/万元", "tce per 10,000 yuan"),
    "intensity_title": ("能耗强度与目标", "energy intensity vs targets"),
    "core": ("单位能耗二氧化碳排放", "CO$_2$ per unit of energy"),
    "core_axis": ("吨 CO$_2$/吨标准煤", "t CO$_2$ per tce"),
    "core_title": ("核心指标与目标", "core indicator vs targets"),
    "binding": ("约束性目标", "binding target"),
    "guiding": ("引导性目标", "guiding target"),
    "carbon_title": ("{name}：碳排放与能耗强度路径", "{name}: carbon and intensity path"),
    "year_axis": ("年份", "year"),
    "phase": ("第{n}阶段（{start}–{end}）", "Phase {n} ({start}–{end})"),
    # sweeps
    "feasible_case": ("满足约束性目标的方案", "case meeting the binding targets"),
    "infeasible_case": ("未满足约束性目标的方案（不进入前沿）",
                        "case missing a binding target (not on the front)"),
    "front": ("帕累托前沿", "Pareto front"),
    "cost_axis": ("各年总成本合计（百万元）", "total cost over the years (million yuan)"),
    "co2_total_axis": ("各年二氧化碳排放合计（千吨）", "total CO$_2$ over the years (kt)"),
    "pareto_title": ("{title}：成本与碳排放（{n} 个方案，{k} 个在前沿上）",
                     "{title}: cost vs carbon ({n} cases, {k} on the front)"),
    "case": ("方案{case}", "case {case}"),
    "pv_scale": ("光伏×{v}", "PV ×{v}"),
    "storage": ("储能 {p} MW/{e} MWh", "storage {p} MW/{e} MWh"),
    "no_storage": ("无储能", "no storage"),
    "optimal": ("优化调度", "optimal dispatch"),
    "rule": ("规则调度", "rule dispatch"),
}
_ZH_NUMERALS = "一二三四五六七八九十"


def check_lang(lang: str) -> Lang:
    """``lang`` if it is 'zh' or 'en', else ValueError naming the choices."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}")
    return lang


def text(key: str, lang: Lang, **fields: object) -> str:
    """The label ``key`` in ``lang``, with ``fields`` filled in."""
    zh, en = TEXT[key]
    return (zh if lang == "zh" else en).format(**fields)


def phase_label(phase_id: str, phases: Iterable[object], lang: Lang) -> str:
    """Human name of a phase: its order and years ("第一阶段（2026–2028）"); the id if unknown.
    ``phases``: objects with ``id``, ``start_year``, ``end_year`` (and ``title``) in plan order."""
    for n, p in enumerate(phases, start=1):
        if getattr(p, "id", None) == phase_id:
            num = _ZH_NUMERALS[n - 1] if lang == "zh" and n <= 10 else str(n)
            return text("phase", lang, n=num, start=p.start_year, end=p.end_year)  # type: ignore[attr-defined]
    return phase_id.replace("_", " ")


@cache
def cjk_family() -> str | None:
    """An installed CJK font family matplotlib can use, or None. Fonts installed after the font
    cache was built are added to the running font manager first."""
    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((f for f in CJK_FAMILIES if f in names), None)

    found = known()
    if found is None:
        for path in font_manager.findSystemFonts():
            if _CJK_FILE.search(Path(path).name):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # unreadable font file
                    continue
        found = known()
    if found is None:
        _log.warning("no CJK font found (install fonts-noto-cjk): Chinese plot labels will not "
                     "render as glyphs")
    return found


@contextmanager
def plot_style(lang: Lang) -> Iterator[None]:
    """rc settings for drawing in ``lang`` (a CJK sans-serif first for 'zh')."""
    rc: dict[str, object] = {"axes.unicode_minus": False}
    family = cjk_family() if lang == "zh" else None
    if family:
        rc["font.family"] = "sans-serif"
        rc["font.sans-serif"] = [family, *matplotlib.rcParams["font.sans-serif"]]
    with matplotlib.rc_context(cast("dict[RcKeyType, Any]", rc)):
        yield
