/* zcpark dashboard (一图统览): a small single-page app over the /v1 API.
 * The API key lives in sessionStorage and goes out as "Authorization: Bearer"; API text is
 * written with textContent only. Times are shown in Asia/Shanghai whatever the browser's zone. */
"use strict";
(function () {
  const TZ = "Asia/Shanghai";
  const KEY_STORE = "zcpark.key";
  const LANG_STORE = "zcpark.lang";
  const COLORS = { grid: "#4d8fe8", pv: "#f4b400", export: "#a779e9", load: "#e8eef6",
    charge: "#2ec4b6", discharge: "#ff7a59", soc: "#f4b400", accent: "#2ec4b6" };
  const state = {
    key: sessionStorage.getItem(KEY_STORE),
    lang: localStorage.getItem(LANG_STORE) || "zh",
    period: "day", date: null, view: "overview", overview: null, charts: {},
    scope: null,
  };

  // ---------------------------------------------------------------- helpers
  const $ = (sel) => document.querySelector(sel);
  const t = (k) => (window.ZC_I18N[state.lang] || {})[k] ?? window.ZC_I18N.zh[k] ?? k;
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const locale = () => (state.lang === "zh" ? "zh-CN" : "en-GB");
  function num(v, digits) {
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits,
      minimumFractionDigits: digits }).format(v);
  }
  /** Energy with an SI prefix that keeps 3–4 significant digits: kWh, MWh or GWh. */
  function energyParts(kwh) {
    const a = Math.abs(kwh);
    if (a >= 1e6) return [num(kwh / 1e6, 2), "GWh"];
    if (a >= 1e3) return [num(kwh / 1e3, 2), "MWh"];
    return [num(kwh, 1), "kWh"];
  }
  const energy = (kwh) => energyParts(kwh).join(" ");
  const FACTOR = { kWh: 1, MWh: 1e3, GWh: 1e6 };
  function tce(v) { return `${num(v, Math.abs(v) >= 100 ? 0 : 2)} tce`; }
  function qty(v, unit) {
    const a = Math.abs(v);
    return `${num(v, a >= 1000 ? 0 : a >= 10 ? 1 : 3)} ${unit}`;
  }
  function fmtTime(iso, bucket) {
    const d = new Date(iso);
    const opt = { timeZone: TZ, hour12: false };
    if (bucket === "hour") Object.assign(opt, { hour: "2-digit", minute: "2-digit" });
    else if (bucket === "day") Object.assign(opt, { month: "2-digit", day: "2-digit" });
    else if (bucket === "month") Object.assign(opt, { year: "numeric", month: "2-digit" });
    else if (bucket === "date") Object.assign(opt, { year: "numeric", month: "2-digit", day: "2-digit" });
    else Object.assign(opt, { year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit" });
    return new Intl.DateTimeFormat(locale(), opt).format(d);
  }
  function shanghaiToday() {
    const parts = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric",
      month: "2-digit", day: "2-digit" }).format(new Date());
    return parts; // en-CA formats as YYYY-MM-DD
  }
  const carrierLabel = (c) => t(`carrier_${c}`);
  const zoneLabel = (z) => t(`zone_${z}`);

  class ApiError extends Error {
    constructor(status, body) { super((body && body.detail) || `HTTP ${status}`);
      this.status = status; this.body = body; }
  }
  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    opts.headers = Object.assign({ Authorization: `Bearer ${state.key}`,
      Accept: "application/json" }, opts.headers);
    const r = await fetch(path, opts);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401) { logout(t("login_failed")); throw new ApiError(401, body); }
    if (!r.ok) throw new ApiError(r.status, body);
    return body;
  }
  function notAvailable(message) {
    return el("div", { class: "na", "data-state": "not-available" },
      el("div", { class: "na-title", text: t("not_available") }),
      el("div", { class: "na-text", text: message }));
  }
  function showError(err) {
    const box = $("#page-error");
    box.hidden = !err;
    box.textContent = err ? (err.status === 404 ? t("not_found") : err.message) : "";
  }

  /** A tiny inline SVG sparkline (tables hold many; ECharts is kept for the big charts). */
  function sparkline(values, color) {
    const w = 120, h = 28, n = values.length;
    const svgNS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("class", "spark");
    if (!n) return svg;
    const max = Math.max(...values), min = Math.min(0, ...values);
    const span = max - min || 1;
    const pts = values.map((v, i) => [n === 1 ? w / 2 : (i * (w - 4)) / (n - 1) + 2,
      h - 3 - ((v - min) / span) * (h - 6)]);
    const area = document.createElementNS(svgNS, "path");
    area.setAttribute("d", `M${pts[0][0]},${h - 2} ` + pts.map((p) => `L${p[0]},${p[1]}`).join(" ")
      + ` L${pts[n - 1][0]},${h - 2} Z`);
    area.setAttribute("fill", color || COLORS.accent);
    area.setAttribute("fill-opacity", "0.18");
    const line = document.createElementNS(svgNS, "polyline");
    line.setAttribute("points", pts.map((p) => p.join(",")).join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", color || COLORS.accent);
    line.setAttribute("stroke-width", "1.5");
    svg.append(area, line);
    return svg;
  }
  function shareBar(pct) {
    const wrap = el("div", { class: "share" });
    const bar = el("div", { class: "share-bar" });
    bar.style.width = `${Math.max(0, Math.min(100, pct || 0))}%`;
    wrap.append(bar, el("span", { text: pct === null ? "–" : `${num(pct, 1)} %` }));
    return wrap;
  }
  function chart(id) {
    const node = document.getElementById(id);
    if (!state.charts[id] || state.charts[id].getDom() !== node) {
      if (state.charts[id]) state.charts[id].dispose();
      state.charts[id] = echarts.init(node, null, { renderer: "canvas" });
    }
    return state.charts[id];
  }
  const axisStyle = {
    axisLine: { lineStyle: { color: "#3a5673" } },
    axisLabel: { color: "#9fb3c8" },
    splitLine: { lineStyle: { color: "#1d3550" } },
  };

  // ---------------------------------------------------------------- i18n
  function applyLang() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = t("app_title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const b of document.querySelectorAll("[data-lang-toggle]")) {
      b.textContent = state.lang === "zh" ? "English" : "中文";
    }
  }
  function toggleLang() {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_STORE, state.lang);
    applyLang();
    if (state.key && state.scope) route();
  }

  // ---------------------------------------------------------------- login
  function showLogin(message) {
    $("#app").hidden = true;
    $("#login").hidden = false;
    $("#login-error").textContent = message || "";
    $("#login-key").focus();
  }
  function logout(message) {
    state.key = null; state.scope = null; state.overview = null;
    sessionStorage.removeItem(KEY_STORE);
    for (const c of Object.values(state.charts)) c.dispose();
    state.charts = {};
    showLogin(message);
  }
  async function login(ev) {
    ev.preventDefault();
    const key = $("#login-key").value.trim();
    if (!key) return;
    $("#login-error").textContent = "";
    try {
      const r = await fetch("/v1/enterprises", { headers: { Authorization: `Bearer ${key}` } });
      if (r.status === 401) { $("#login-error").textContent = t("login_failed"); return; }
      if (!r.ok) { $("#login-error").textContent = `HTTP ${r.status}`; return; }
    } catch (e) { $("#login-error").textContent = t("network_error"); return; }
    state.key = key;
    sessionStorage.setItem(KEY_STORE, key);
    $("#login-key").value = "";
    start();
  }

  // ---------------------------------------------------------------- overview
  async function loadOverview() {
    const q = new URLSearchParams({ period: state.period, date: state.date });
    const data = await api(`/v1/overview?${q}`);
    state.overview = data;
    state.scope = data.scope;
    renderWho();
    const badge = $("#nav-alert-count");
    badge.hidden = !data.alerts.open;
    badge.textContent = data.alerts.open;
    $("#footer-factor").textContent = `${t("factor_set")} ${data.factor_set}`;
    return data;
  }
  function renderWho() {
    const s = state.scope;
    $("#who").textContent = s ? `${t(`role_${s.role}`)}${s.enterprise ? ` · ${s.enterprise}` : ""}` : "";
    for (const a of document.querySelectorAll("[data-role]")) {
      a.hidden = !!s && !a.dataset.role.split(" ").includes(s.role);
    }
  }
  function tile(id, label, main, unit, subs, raw) {
    return el("div", { class: "tile", id, "data-kwh": raw },
      el("div", { class: "tile-label", text: label }),
      el("div", { class: "tile-value" }, el("span", { class: "v", text: main }),
        el("span", { class: "u", text: unit || "" })),
      ...subs.map((s) => el("div", { class: "tile-sub" }, s)));
  }
  function renderTiles(d) {
    const today = d.tiles.today, month = d.tiles.month, m = d.modules;
    const box = $("#tiles");
    box.replaceChildren();
    const [lv, lu] = energyParts(today.load_kwh);
    const own = state.scope && state.scope.role === "enterprise";  // an enterprise sees its own load
    box.append(tile("tile-load", `${t("today")} · ${t(own ? "tile_load_enterprise" : "tile_load")}`, lv, lu,
      [`${t("this_month")} ${energy(month.load_kwh)}`], today.load_kwh));
    const [pv, pu] = energyParts(today.pv_kwh);
    const pvSub = el("span", { id: "pv-expected", text: `${t("expected")}: ${m.pv ? t("loading") : t("not_available")}` });
    box.append(tile("tile-pv", `${t("today")} · ${t("tile_pv")}`, pv, pu,
      [pvSub, el("span", { id: "pv-expected-month", text: `${t("this_month")} ${energy(month.pv_kwh)}` })], today.pv_kwh));
    const [gv, gu] = energyParts(today.grid_import_kwh);
    box.append(tile("tile-grid", `${t("today")} · ${t("tile_grid")}`, gv, gu,
      [`${t("export")} ${energy(today.grid_export_kwh)}`,
        `${t("this_month")} ${energy(month.grid_import_kwh)} / ${energy(month.grid_export_kwh)}`],
      today.grid_import_kwh));
    box.append(tile("tile-energy", `${t("today")} · ${t("tile_energy")}`, num(today.energy_tce, 1), "tce",
      [`${t("this_month")} ${tce(month.energy_tce)}`], null));
    const st = d.storage;
    const soc = st && !st.error && st.soc_pct !== null && st.soc_pct !== undefined;
    const socSub = soc ? `${t("planned")} ${num(st.soc_mwh, 1)} / ${num(st.energy_mwh, 0)} MWh`
      : !m.storage ? t("not_available") : !st ? t("no_station") : st.error ? st.error : t("no_plan_short");
    box.append(tile("tile-storage", t("tile_storage"), soc ? num(st.soc_pct, 0) : "–", soc ? "%" : "",
      [socSub, st && !st.error ? `${st.name}` : ""], null));
    const alertTile = tile("tile-alerts", t("tile_alerts"), String(d.alerts.open), "",
      [el("a", { href: "#/alerts", text: t("nav_alerts") + " →" })], null);
    if (d.alerts.open) alertTile.classList.add("warn");
    box.append(alertTile);
  }
  function balanceOption(d) {
    const pts = d.balance.points;
    const max = Math.max(1, ...pts.map((p) => Math.max(p.load_kwh, p.grid_import_kwh + p.pv_kwh)));
    const [scale, unit] = max >= 1e6 ? [1e6, "GWh"] : max >= 1e3 ? [1e3, "MWh"] : [1, "kWh"];
    $("#balance-unit").textContent = unit;
    const r = (v) => Math.round((v / scale) * 1000) / 1000;
    const cats = pts.map((p) => fmtTime(p.start, d.bucket));
    const fmt = (v) => `${num(v, 2)} ${unit}`;
    return {
      backgroundColor: "transparent", animation: false,
      grid: { left: 56, right: 16, top: 36, bottom: 28 },
      legend: { top: 0, textStyle: { color: "#c9d6e3" } },
      tooltip: { trigger: "axis", valueFormatter: fmt },
      xAxis: Object.assign({ type: "category", data: cats }, axisStyle),
      yAxis: Object.assign({ type: "value", name: unit, nameTextStyle: { color: "#9fb3c8" } }, axisStyle),
      series: [
        { name: t("s_grid_import"), type: "bar", stack: "supply", color: COLORS.grid,
          data: pts.map((p) => r(p.grid_import_kwh)) },
        { name: t("s_pv"), type: "bar", stack: "supply", color: COLORS.pv,
          data: pts.map((p) => r(p.pv_kwh)) },
        { name: t("s_export"), type: "bar", stack: "supply", color: COLORS.export,
          data: pts.map((p) => -r(p.grid_export_kwh)) },
        { name: t(state.scope && state.scope.role === "enterprise" ? "s_load_enterprise" : "s_load"), type: "line", smooth: true, symbol: "none", color: COLORS.load,
          lineStyle: { width: 2 }, data: pts.map((p) => r(p.load_kwh)) },
      ],
    };
  }
  /** Resolves when the chart has painted (ECharts' "finished" event after the next render). */
  function painted(c) {
    return new Promise((resolve) => {
      const done = () => { c.off("finished", done); resolve(); };
      c.on("finished", done);
    });
  }
  function renderBalance(d) {
    $("#balance-range").textContent = rangeLabel(d);
    const c = chart("chart-balance");
    const done = painted(c);
    state.balanceOption = balanceOption(d);
    c.setOption(state.balanceOption, true);
    const tot = d.balance.totals;
    const box = $("#balance-totals");
    box.replaceChildren(
      ...[[state.scope && state.scope.role === "enterprise" ? "s_load_enterprise" : "s_load", tot.load_kwh, "load"], ["s_grid_import", tot.grid_import_kwh, "grid"],
        ["s_pv", tot.pv_kwh, "pv"], ["s_export", tot.grid_export_kwh, "export"]].map(([k, v, c]) =>
        el("div", { class: "total", "data-series": c, "data-kwh": v },
          el("span", { class: `dot ${c}` }), el("span", { class: "muted", text: t(k) }),
          el("strong", { text: energy(v) }))));
    return done;
  }
  function rangeLabel(d) {
    const end = new Date(new Date(d.end).getTime() - 1);
    if (d.period === "day") return fmtTime(d.start, "date");
    const f = new Intl.DateTimeFormat(locale(), { timeZone: TZ, year: "numeric", month: "2-digit",
      day: "2-digit" });
    return `${f.format(new Date(d.start))} – ${f.format(end)}`;
  }
  function zoneRows(zones, compact) {
    const head = el("tr", {}, el("th", { text: t("col_zone") }),
      compact ? null : el("th", { class: "num", text: t("col_enterprises") }),
      el("th", { class: "num", text: t("col_energy") }),
      compact ? null : el("th", { class: "num", text: t("col_electricity") }),
      el("th", { text: t("col_share") }), el("th", { text: t("col_trend") }));
    const rows = zones.map((z) => el("tr", { "data-zone": z.zone },
      el("td", { text: zoneLabel(z.zone) }),
      compact ? null : el("td", { class: "num", text: z.enterprises }),
      el("td", { class: "num", "data-tce": z.energy_tce, text: tce(z.energy_tce) }),
      compact ? null : el("td", { class: "num", text: energy(z.electricity_kwh) }),
      el("td", {}, shareBar(z.share_pct)), el("td", {}, sparkline(z.series_tce))));
    return [el("thead", {}, head), el("tbody", {}, rows)];
  }
  function enterpriseRows(ents, compact) {
    const head = el("tr", {}, el("th", { text: t("col_rank") }), el("th", { text: t("col_enterprise") }),
      compact ? null : el("th", { text: t("col_zone") }),
      compact ? null : el("th", { text: t("col_industry") }),
      el("th", { class: "num", text: t("col_energy") }),
      compact ? null : el("th", { class: "num", text: t("col_electricity") }),
      compact ? null : el("th", { text: t("col_share") }),
      el("th", { text: t("col_trend") }), compact ? null : el("th", { text: t("col_quality") }));
    const rows = ents.map((e, i) => el("tr", { "data-enterprise": e.code,
      onclick: () => { location.hash = `#/enterprise/${encodeURIComponent(e.code)}`; } },
      el("td", { class: "muted", text: i + 1 }),
      el("td", {}, el("a", { href: `#/enterprise/${encodeURIComponent(e.code)}`, text: e.name }),
        compact ? null : el("div", { class: "muted small", text: e.code })),
      compact ? null : el("td", { text: zoneLabel(e.zone) }),
      compact ? null : el("td", { class: "muted", text: e.industry || "" }),
      el("td", { class: "num", "data-tce": e.energy_tce, text: tce(e.energy_tce) }),
      compact ? null : el("td", { class: "num", "data-kwh": e.electricity_kwh, text: energy(e.electricity_kwh) }),
      compact ? null : el("td", {}, shareBar(e.share_pct)),
      el("td", {}, sparkline(e.series_tce)),
      compact ? null : el("td", { class: e.flagged_readings ? "warn-text" : "ok-text",
        text: e.flagged_readings ? `${e.flagged_readings} ${t("flagged")}` : t("all_ok") })));
    return [el("thead", {}, head), el("tbody", {}, rows)];
  }
  function renderOverviewRanking(d) {
    $("#overview-zones").replaceChildren(...zoneRows(d.zones, true));
    $("#overview-enterprises").replaceChildren(...enterpriseRows(d.enterprises.slice(0, 6), true));
  }
  const IND_UNITS = { energy_intensity_tce_per_10k_yuan: "tce/万元", energy_intensity_change_vs_base_pct: "%",
    co2_per_energy_t_per_tce: "tCO₂/tce", clean_energy_share_pct: "%" };
  function indValue(name, v, digits) {
    if (v === null || v === undefined) return "–";
    return `${num(v, digits === undefined ? (Math.abs(v) >= 10 ? 1 : 3) : digits)} ${IND_UNITS[name] || ""}`.trim();
  }
  const STATUS_CLASS = { achieved: "ok", on_track: "ok", missed: "bad", off_track: "bad", no_data: "warn", incomplete: "warn", insufficient_data: "warn" };
  function renderCarbonPending(d) {
    const box = $("#carbon-body");
    box.replaceChildren(d.modules.carbon ? el("div", { class: "muted small", "data-state": "loading", text: t("loading") })
      : notAvailable(t("na_carbon")));
  }
  function renderCarbon(c) {
    const box = $("#carbon-body");
    box.replaceChildren();
    if (!c) { box.append(notAvailable(t("no_data"))); return; }
    if (c.error) { box.append(notAvailable(c.error)); return; }
    box.append(el("div", { class: "carbon-head", "data-state": "carbon" },
      el("div", { class: "co2", "data-co2": "location" }, el("div", { class: "muted small", text: `${c.period} · ${t("co2_location")}` }),
        el("strong", { text: `${num(c.co2_location_based_t, 0)} tCO₂` })),
      el("div", { class: "co2", "data-co2": "market" }, el("div", { class: "muted small", text: `${c.period} · ${t("co2_market")}` }),
        el("strong", { text: `${num(c.co2_market_based_t, 0)} tCO₂` }))));
    const statusOf = (name) => c.status.filter((r) => r.indicator === name);
    const rows = c.indicators.map((ind) => {
      const target = (ind.targets || []).find((x) => x.value !== null && x.value !== undefined && typeof x.value === "number")
        || (ind.targets || [])[0];
      const cmp = (x) => (x === "<=" ? "≤" : x === ">=" ? "≥" : x);
      const final = statusOf(ind.name).filter((r) => typeof r.target_value === "number")
        .sort((a, b) => b.evaluation_year - a.evaluation_year)[0];
      const targetText = final ? `${cmp(final.comparator)} ${num(final.target_value, final.target_value < 1 ? 2 : 0)} (${final.evaluation_year})`
        : !target ? "–" : target.value !== null && typeof target.value === "number"
        ? `${target.comparator === "<=" ? "≤" : target.comparator === ">=" ? "≥" : target.comparator} ${num(target.value, target.value < 1 ? 2 : 0)} (${target.year})`
        : target.change_vs_base_pct !== null && target.change_vs_base_pct !== undefined ? `${num(target.change_vs_base_pct, 0)} % (${target.year})`
        : (target.bands ? t("by_size") : "–");
      const phases = statusOf(ind.name).map((r) => el("span", { class: `pill ${STATUS_CLASS[r.status] || "warn"}`,
        title: [r.note, r.projected_value !== null && r.projected_value !== undefined ? `${t("trend")} → ${r.evaluation_year}: ${indValue(ind.name, r.projected_value)}` : "",
          r.required_yearly_change_pct !== null && r.required_yearly_change_pct !== undefined ? `${t("needed")} ${num(r.required_yearly_change_pct, 1)} %/a` : ""].filter(Boolean).join(" · "),
        text: `${r.evaluation_year} ${t(`st_${r.status}`)}` }));
      const trend = statusOf(ind.name).find((r) => r.projected_value !== null && r.projected_value !== undefined);
      return el("tr", { "data-indicator": ind.name },
        el("td", { text: t(`ind_${ind.name}`) }),
        el("td", { class: "num", text: indValue(ind.name, ind.value) }),
        el("td", { class: "num muted", text: targetText }),
        el("td", { class: "phases" }, phases.length ? phases : el("span", { class: "muted", text: "–" }),
          trend ? el("div", { class: "muted small", text: `${t("trend")} → ${trend.evaluation_year}: ${indValue(ind.name, trend.projected_value)}` }) : null));
    });
    box.append(el("table", { class: "table carbon" }, el("thead", {}, el("tr", {},
      el("th", { text: t("col_kpi") }), el("th", { class: "num", text: c.period }),
      el("th", { class: "num", text: t("target") }), el("th", { text: `${t("phase")} / ${t("trend")}` }))), el("tbody", {}, rows)));
    const missing = c.indicators.filter((i) => i.value === null).map((i) => t(`ind_${i.name}`));
    if (missing.length) box.append(el("div", { class: "muted small", text: `${t("no_value_added")}: ${missing.join("、")}` }));
  }
  function renderStorageMini(d) {
    const box = $("#storage-mini");
    box.replaceChildren();
    $("#chart-storage-mini").hidden = true;
    if (!d.modules.storage) { box.append(notAvailable(t("na_storage"))); return null; }
    const st = d.storage;
    if (!st) { box.append(notAvailable(t("no_station"))); return null; }
    if (st.error) { box.append(notAvailable(st.error)); return null; }
    box.append(el("div", { class: "muted small", text: `${st.name} · ${t("plan_day")} ${st.day}` }));
    if (!st.plan) { box.append(notAvailable(`${t("no_plan")} ${st.day}`)); return null; }
    const node = $("#chart-storage-mini");
    node.hidden = false;
    const c = chart("chart-storage-mini");
    c.resize();
    c.setOption(storageOption(st.plan.schedule, true), true);
    return null;
  }
  function storageOption(sch, compact) {
    return {
      backgroundColor: "transparent", animation: false,
      grid: compact ? { left: 40, right: 44, top: 28, bottom: 22 } : { left: 56, right: 64, top: 36, bottom: 28 },
      legend: { top: 0, textStyle: { color: "#c9d6e3" }, itemWidth: 12, itemHeight: 8 },
      tooltip: { trigger: "axis" },
      xAxis: Object.assign({ type: "category", data: sch.map((r) => fmtTime(r.start, "hour")) }, axisStyle),
      yAxis: [Object.assign({ type: "value", name: "MW", nameTextStyle: { color: "#9fb3c8" } }, axisStyle),
        Object.assign({ type: "value", name: "MWh", nameTextStyle: { color: "#9fb3c8" } }, axisStyle, { splitLine: { show: false } })],
      series: [
        { name: t("s_discharge"), type: "bar", stack: "p", color: COLORS.discharge, data: sch.map((r) => r.discharge_mw) },
        { name: t("s_charge"), type: "bar", stack: "p", color: COLORS.charge, data: sch.map((r) => -r.charge_mw) },
        { name: t("s_soc"), type: "line", yAxisIndex: 1, smooth: true, symbol: "none", color: COLORS.soc,
          lineStyle: { width: 2 }, data: sch.map((r) => r.soc_mwh) },
      ],
    };
  }
  /** The slower panels (PV expected, carbon), asked for right after the first screen is drawn. */
  async function loadModules(d) {
    if (!d.modules.pv && !d.modules.carbon) return;
    const q = new URLSearchParams({ period: d.period, date: d.date });
    const seq = (state.modulesSeq = (state.modulesSeq || 0) + 1);
    let x;
    try { x = await api(`/v1/overview/modules?${q}`); } catch (e) { x = { pv: { error: e.message }, carbon: { error: e.message } }; }
    // Drop an answer that arrives after the operator moved on (another period, date or view).
    if (seq !== state.modulesSeq || state.view !== "overview" || state.overview !== d) return;
    state.modules = x;
    if (d.modules.carbon) renderCarbon(x.carbon);
    chart("chart-balance").resize();
    if (d.modules.pv) renderPvExpected(d, x.pv);
    document.body.dataset.modules = "loaded";
  }
  function renderPvExpected(d, pv) {
    const node = $("#pv-expected");
    if (!node) return;
    if (!pv || pv.error) { node.textContent = `${t("expected")}: ${pv ? pv.error : t("no_data")}`; return; }
    // measured and expected of the same (metered) arrays; the tile says how many
    const today = pv.today_measured_kwh;
    const covers = t("pv_arrays_covered").replace("{n}", String(pv.arrays));
    node.textContent = `${t("expected")} ${energy(pv.today_expected_kwh)}${pv.today_expected_kwh > 0 ? ` · ${num(100 * today / pv.today_expected_kwh, 0)} % ${t("of_expected")}` : ""} · ${covers}`;
    node.dataset.kwh = String(pv.today_expected_kwh);
    node.dataset.measuredKwh = String(today);
    node.dataset.arrays = String(pv.arrays);
    $("#pv-expected-month").textContent = `${t("this_month")} ${energy(pv.month_measured_kwh)} / ${t("expected")} ${energy(pv.month_expected_kwh)}`;
    if (pv.series) {
      const c = chart("chart-balance");
      const unit = $("#balance-unit").textContent;
      const scale = FACTOR[unit] || 1;
      const opt = state.balanceOption;
      opt.series = opt.series.filter((x) => x.id !== "pv-expected").concat([{ id: "pv-expected",
        name: t("s_pv_expected"), type: "line", symbol: "none", smooth: true, color: COLORS.pv,
        lineStyle: { type: "dashed", width: 1.5 },
        data: pv.series.map((p) => Math.round((p.expected_kwh / scale) * 1000) / 1000) }]);
      c.setOption(opt, true);
    }
  }

  const MIX_COLORS = { electricity_import: COLORS.grid, pv_generation: COLORS.pv, coal: "#8d99ae",
    natural_gas: "#2ec4b6", heat: "#ff7a59", steam: "#ffb4a2", diesel: "#b5838d", gasoline: "#e5989b",
    lpg: "#90be6d", electricity_export: COLORS.export };
  function renderMix(d) {
    const parts = d.mix.filter((m) => m.energy_tce > 0);
    const total = parts.reduce((a, m) => a + m.energy_tce, 0);
    $("#mix-total").textContent = tce(d.balance.totals.energy_tce);
    chart("chart-mix").setOption({
      backgroundColor: "transparent", animation: false,
      tooltip: { trigger: "item", formatter: (p) => `${p.name}<br>${tce(p.value)} · ${num(p.percent, 1)} %` },
      legend: { orient: "vertical", right: 0, top: "middle", textStyle: { color: "#c9d6e3" } },
      series: [{ type: "pie", radius: ["48%", "76%"], center: ["34%", "50%"], avoidLabelOverlap: true,
        label: { show: false }, itemStyle: { borderColor: "#10233a", borderWidth: 2 },
        data: parts.map((m) => ({ name: carrierLabel(m.carrier), value: m.energy_tce,
          itemStyle: { color: MIX_COLORS[m.carrier] } })) }],
      title: total ? undefined : { text: t("no_data"), left: "center", top: "middle",
        textStyle: { color: "#8ea5bd", fontSize: 13, fontWeight: "normal" } },
    }, true);
  }
  async function showOverview() {
    const d = await loadOverview();
    renderTiles(d);
    const chartDone = renderBalance(d);
    renderCarbonPending(d);
    renderMix(d);
    renderOverviewRanking(d);
    renderStorageMini(d);
    await chartDone;
    markRendered("overview");
    loadModules(d);
  }
  function markRendered(view) {
    document.body.dataset.rendered = view;
    document.body.dataset.renderedAt = String(performance.now());
  }

  // ---------------------------------------------------------------- ranking & drill-down
  async function showRanking() {
    const d = await loadOverview();
    $("#ranking-range").textContent = rangeLabel(d);
    $("#zones-table").replaceChildren(...zoneRows(d.zones, false));
    $("#enterprises-table").replaceChildren(...enterpriseRows(d.enterprises, false));
    markRendered("ranking");
  }
  const METER_RESOLUTION = { day: "hour", week: "hour", month: "day", year: "month" };
  async function showEnterprise(code) {
    $("#meter-card").hidden = true;
    const q = new URLSearchParams({ period: state.period, date: state.date });
    const d = await api(`/v1/overview/enterprises/${encodeURIComponent(code)}?${q}`);
    if (!state.scope) await loadOverview();
    const e = d.enterprise;
    $("#enterprise-title").textContent = `${e.name} (${e.code})`;
    $("#enterprise-sub").textContent = `${t("zone")}: ${zoneLabel(e.zone)} · ${t("industry")}: ${e.industry || "–"} · ${rangeLabel(d)}`;
    const head = el("tr", {}, el("th", { text: t("col_meter") }), el("th", { text: t("col_carrier") }),
      el("th", { class: "num", text: t("col_total") }), el("th", { class: "num", text: t("col_energy") }),
      el("th", { text: t("col_trend") }), el("th", { text: t("col_quality") }));
    const rows = d.meters.map((m) => el("tr", { "data-meter": m.code, onclick: () => showMeter(m, d) },
      el("td", {}, el("button", { type: "button", class: "link", text: m.code }),
        el("div", { class: "muted small", text: m.name || "" })),
      el("td", { text: carrierLabel(m.carrier) }),
      el("td", { class: "num", "data-total": m.total, text: m.unit === "kWh" ? energy(m.total) : qty(m.total, m.unit) }),
      el("td", { class: "num", text: m.carrier === "water" ? "–" : tce(m.energy_tce) }),
      el("td", {}, sparkline(m.series, m.carrier === "pv_generation" ? COLORS.pv : COLORS.accent)),
      el("td", { class: m.flagged_readings ? "warn-text" : "ok-text",
        text: m.flagged_readings ? `${m.flagged_readings} ${t("flagged")}` : t("all_ok") })));
    $("#meters-table").replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
    markRendered("enterprise");
  }
  async function showMeter(m, d) {
    // meter codes are unique per enterprise: name the one being shown
    const q = new URLSearchParams({ start: d.start, end: d.end, resolution: METER_RESOLUTION[d.period],
      enterprise: d.enterprise.code });
    const s = await api(`/v1/meters/${encodeURIComponent(m.code)}/readings?${q}`);
    const card = $("#meter-card");
    card.hidden = false;
    $("#meter-title").textContent = `${m.code} · ${carrierLabel(m.carrier)}`;
    const total = s.points.reduce((a, p) => a + p.value, 0);
    const totalNode = $("#meter-total");
    totalNode.textContent = `${t("col_total")} ${s.unit === "kWh" ? energy(total) : qty(total, s.unit)}`;
    totalNode.dataset.total = String(total);
    const bucket = s.resolution === "hour" && d.period === "week" ? "datetime" : s.resolution;
    chart("chart-meter").setOption({
      backgroundColor: "transparent", animation: false,
      grid: { left: 64, right: 16, top: 24, bottom: 28 },
      tooltip: { trigger: "axis", valueFormatter: (v) => qty(v, s.unit) },
      xAxis: Object.assign({ type: "category", data: s.points.map((p) => fmtTime(p.start, bucket)) }, axisStyle),
      yAxis: Object.assign({ type: "value", name: s.unit, nameTextStyle: { color: "#9fb3c8" } }, axisStyle),
      series: [{ type: s.points.length > 60 ? "line" : "bar", name: m.code, symbol: "none",
        areaStyle: s.points.length > 60 ? { opacity: 0.2 } : undefined,
        color: m.carrier === "pv_generation" ? COLORS.pv : COLORS.grid,
        data: s.points.map((p) => p.value) }],
    }, true);
    card.scrollIntoView({ block: "nearest" });
    markRendered("meter");
  }

  // ---------------------------------------------------------------- alerts
  async function showAlerts() {
    const openOnly = $("#alerts-open-only").checked;
    const alerts = await api(`/v1/alerts?open_only=${openOnly}`);
    const canAck = state.scope && state.scope.role !== "planner";
    const table = $("#alerts-table");
    if (!alerts.length) {
      table.replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "muted", text: t("no_alerts") }))));
      markRendered("alerts");
      return;
    }
    const head = el("tr", {}, el("th", { text: t("col_kind") }), el("th", { text: t("col_enterprise") }),
      el("th", { text: t("col_meter") }), el("th", { text: t("col_period") }),
      el("th", { text: t("col_message") }), el("th", { text: t("col_opened") }),
      el("th", { text: t("col_status") }));
    const rows = alerts.map((a) => {
      const status = el("td", {});
      const acked = () => status.replaceChildren(el("span", { class: "pill ok",
        text: `${t("acknowledged")} ${a.acknowledged_at ? fmtTime(a.acknowledged_at, "datetime") : ""}` }));
      if (a.acknowledged_at) acked();
      else if (canAck) {
        status.append(el("button", { class: "small-btn", "data-ack": a.id, text: t("acknowledge"),
          onclick: async (ev) => {
            ev.target.disabled = true;
            try {
              const r = await api(`/v1/alerts/${a.id}/acknowledge`, { method: "POST" });
              Object.assign(a, r); acked();
              loadOverview().catch(() => {});
            } catch (e) { ev.target.disabled = false; showError(e); }
          } }));
      } else status.append(el("span", { class: "pill bad", text: t("open") }));
      return el("tr", { "data-alert": a.id },
        el("td", {}, el("span", { class: "pill warn", text: t(`kind_${a.kind}`) })),
        el("td", { text: a.enterprise || "–" }), el("td", { class: "muted", text: a.meter || "–" }),
        el("td", { class: "muted", text: `${fmtTime(a.period_start, "datetime")} – ${fmtTime(a.period_end, "datetime")}` }),
        el("td", { text: alertMessage(a) }), el("td", { class: "muted", text: fmtTime(a.opened_at, "datetime") }),
        status);
    });
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
    markRendered("alerts");
  }

  /** An alert's message in the page's language: the service writes it in English with fixed
   *  wording per kind, so the Chinese view rebuilds it from the numbers it carries. */
  function alertMessage(a) {
    if (state.lang !== "zh") return a.message;
    let m;
    if (a.kind === "missing_data" && (m = /: (\d+) of (\d+) intervals missing/.exec(a.message)))
      return `${m[2]} 个时段中缺少 ${m[1]} 个读数`;
    if (a.kind === "pv_underperformance"
      && (m = /: ([\d.]+) kWh measured vs ([\d.]+) kWh expected on (\S+) \(PR ([\d.]+)\)/.exec(a.message)))
      return `${m[3]} 实测发电 ${m[1]} kWh，预期 ${m[2]} kWh（性能比 ${m[4]}）`;
    if (a.kind === "storage_safety"
      && (m = /: (SOC|temperature|power) (\S+) (\S+) (below|above) the safe (?:minimum|maximum) (\S+) \S+ for (\d+) interval/.exec(a.message))) {
      const what = { SOC: "荷电状态", temperature: "温度", power: "功率" }[m[1]];
      const unit = m[3] === "degC" ? "°C" : m[3];
      return `${what} ${m[2]} ${unit}，${m[4] === "below" ? "低于安全下限" : "高于安全上限"} ${m[5]} ${unit}，持续 ${m[6]} 个时段`;
    }
    if (a.kind === "dr_instruction" && a.message.includes(" / ")) return a.message.split(" / ").slice(1).join(" / ");
    return t(`kind_${a.kind}`);
  }

  // ---------------------------------------------------------------- storage & scenarios
  /** A KPI value with the unit its name carries (…_yuan, …_t, …_tce, …_pct, …_mwh, …_kwp). */
  function kpiValue(name, v) {
    if (v === null || v === undefined) return "–";
    if (typeof v !== "number") return Array.isArray(v) ? (v.length ? v.join(", ") : "–") : String(v);
    const money = (x) => (state.lang === "zh"
      ? (Math.abs(x) >= 1e8 ? `${num(x / 1e8, 2)} 亿元` : `${num(x / 1e4, 1)} 万元`)
      : (Math.abs(x) >= 1e6 ? `${num(x / 1e6, 1)} M yuan` : `${num(x, 0)} yuan`));
    if (name.endsWith("_yuan") && !name.endsWith("_per_10k_yuan")) return money(v);
    if (Number.isInteger(v) && !/_(t|tce|mwh|kwh|kwp|yuan)$/.test(name)) return num(v, 0);
    const units = [["_per_10k_yuan", "/万元"], ["_t_per_tce", "tCO₂/tce"], ["_per_tce", "/tce"],
      ["_co2_t", "tCO₂"], ["_t", "t"], ["_tce", "tce"], ["_pct", "%"], ["_mwh", "MWh"], ["_mw", "MW"],
      ["_kwh", "kWh"], ["_kwp", "kWp"], ["_h", "h"]];
    if (/co2/.test(name) && name.endsWith("_t")) return `${num(v, Math.abs(v) >= 100 ? 0 : 3)} tCO₂`;
    for (const [suffix, unit] of units) {
      if (name.endsWith(suffix)) return `${num(v, Math.abs(v) >= 100 ? 0 : 3)} ${unit}`;
    }
    return num(v, Math.abs(v) >= 100 ? 0 : 3);
  }
  /** KPIs as a grid of small cards: the name as the API spells it (unit in the name), the value
   * formatted with that unit. */
  /** KPIs with a label (zh/en, unit in the label) first; solver diagnostics and any KPI without
   *  a label go behind a closed "details" toggle, so no raw key is on screen. */
  const known = (k) => (window.ZC_I18N.zh[k] !== undefined);
  function kpiTable(obj) {
    const entries = Object.entries(obj || {});
    const shown = entries.filter(([k]) => known(`kpi_${k}`));
    const diag = entries.filter(([k]) => !known(`kpi_${k}`));
    const box = el("div", { class: "kpis" }, shown.map(([k, v]) => el("div", { class: "kpi", "data-kpi": k },
      el("div", { class: "kpi-name", text: t(`kpi_${k}`) }), el("div", { class: "kpi-value", text: kpiText(k, v) }))));
    if (!diag.length) return box;
    return el("div", {}, box, el("details", { class: "diagnostics" }, el("summary", { class: "muted small", text: t("details") }),
      el("div", { class: "kpis" }, diag.map(([k, v]) => el("div", { class: "kpi", "data-kpi": k },
        el("div", { class: "kpi-name mono", text: k }), el("div", { class: "kpi-value", text: kpiValue(k, v) }))))));
  }
  function kpiText(k, v) {
    if (k === "strategy") return t(`strategy_${v}`);
    if (Array.isArray(v) && k === "binding_targets_missed") return v.length ? v.map(targetLabel).join(", ") : "–";
    return kpiValue(k, v);
  }
  /** A target "id" or "id@phase" as people read it. */
  function targetLabel(id) {
    const [name, phase] = String(id).split("@");
    return `${known(`tg_${name}`) ? t(`tg_${name}`) : name}${phase ? ` (${t(phase)})` : ""}`;
  }
  async function blobImage(path, alt) {
    const r = await fetch(path, { headers: { Authorization: `Bearer ${state.key}` } });
    if (!r.ok) return el("div", { class: "muted small", text: `${alt}: HTTP ${r.status}` });
    const img = el("img", { class: "plot", alt });
    img.src = URL.createObjectURL(await r.blob());
    return el("figure", {}, img, el("figcaption", { class: "muted small", text: alt }));
  }
  async function showStorage() {
    if (!state.overview) await loadOverview();
    const box = $("#storage-body");
    box.replaceChildren();
    $("#chart-storage").hidden = true;
    if (!state.overview.modules.storage) { box.append(notAvailable(t("na_storage"))); markRendered("storage"); return; }
    const stations = await api("/v1/storage");
    if (!stations.length) { box.append(notAvailable(t("no_data"))); markRendered("storage"); return; }
    const st = stations[0];
    let plan = null;
    try { plan = await api(`/v1/storage/${encodeURIComponent(st.code)}/plan?day=${state.date}`); } catch (e) {
      if (e.status !== 404) throw e;
    }
    const b = st.battery || {};
    box.append(el("p", { class: "muted", text: `${st.name} (${st.code}) · ${zoneLabel(st.zone)} · ${b.power_discharge_mw ?? b.power_mw ?? "–"} MW / ${b.energy_mwh ?? "–"} MWh` }));
    if (!plan) { box.append(notAvailable(`${t("no_plan")} ${state.date}`)); markRendered("storage"); return; }
    const node = $("#chart-storage");
    node.hidden = false;
    const sch = plan.schedule;
    const c = chart("chart-storage");
    c.resize();
    const done = painted(c);
    c.setOption(storageOption(sch, false), true);
    box.append(el("p", { class: "muted small", text: `${t("plan_day")} ${plan.day} · ${t(`strategy_${plan.strategy}`)} · ${t("published")} ${fmtTime(plan.created_at, "datetime")}` }));
    const kpis = el("div", { id: "storage-kpis" }, kpiTable(plan.kpis));
    const old = $("#storage-kpis");
    if (old) old.remove();
    node.after(kpis);
    await done;
    markRendered("storage");
  }
  async function showScenarios() {
    if (!state.overview) await loadOverview();
    const box = $("#scenarios-body");
    box.replaceChildren();
    if (!state.overview.modules.scenarios) { box.append(notAvailable(t("na_scenarios"))); markRendered("scenarios"); return; }
    const runs = await api("/v1/scenarios");
    if (!runs.length) { box.append(notAvailable(t("no_runs"))); markRendered("scenarios"); return; }
    const detail = el("div", { id: "scenario-detail" });
    const head = el("tr", {}, el("th", { text: "#" }), el("th", { text: t("scenario_name") }),
      el("th", { text: t("status_label") }), el("th", { text: t("col_opened") }),
      el("th", { class: "num", text: t("kpi_total_cost_yuan") }), el("th", { class: "num", text: t("kpi_total_co2_t") }));
    const rows = runs.map((r) => el("tr", { "data-run": r.id, "data-status": r.status,
      onclick: () => showRun(r.id, detail) },
      el("td", { class: "muted", text: r.id }), el("td", {}, el("button", { type: "button", class: "link", text: r.name })),
      el("td", {}, el("span", { class: `pill ${r.status === "done" ? "ok" : r.status === "failed" ? "bad" : "warn"}`, text: t(`run_${r.status}`) })),
      el("td", { class: "muted", text: fmtTime(r.created_at, "datetime") }),
      el("td", { class: "num", text: kpiValue("total_cost_yuan", r.kpis && r.kpis.summary ? r.kpis.summary.total_cost_yuan : null) }),
      el("td", { class: "num", text: kpiValue("total_co2_t", r.kpis && r.kpis.summary ? r.kpis.summary.total_co2_t : null) })));
    box.append(el("table", { class: "table clickable", id: "runs-table" }, el("thead", {}, head), el("tbody", {}, rows)), detail);
    const firstDone = runs.find((r) => r.status === "done");
    if (firstDone) await showRun(firstDone.id, detail);
    markRendered("scenarios");
  }
  async function showRun(id, box) {
    const run = await api(`/v1/scenarios/${id}`);
    box.replaceChildren(el("h3", { text: `${t("scenario_run")} #${run.id} · ${run.name}` }));
    if (run.status === "failed") { box.append(el("p", { class: "error", text: run.error || "" })); return; }
    if (run.status !== "done") { box.append(el("p", { class: "muted", text: t(`run_${run.status}`) })); return; }
    const k = run.kpis || {};
    const targets = (k.targets || []).map((r) => el("tr", {},
      el("td", { text: targetLabel(r.target_id || r.name || "") }), el("td", { text: `${t(r.phase)} ${r.evaluation_year || ""}` }),
      el("td", { class: "num", text: kpiValue(r.indicator || "", r.actual_value) }),
      el("td", { class: "num", text: r.target_value === null || r.target_value === undefined ? "–"
        : `${r.comparator === "<=" ? "≤" : r.comparator === ">=" ? "≥" : r.comparator || ""} ${kpiValue(r.indicator || "", r.target_value)}` }),
      el("td", {}, el("span", { class: `pill ${["achieved", "on_track"].includes(r.status) ? "ok" : ["no_data", "incomplete", "insufficient_data"].includes(r.status) ? "warn" : "bad"}`, text: t(`st_${r.status}`) }))));
    box.append(el("div", { class: "grid half" },
      el("div", {}, el("h4", { text: t("kpis") }), kpiTable(k.summary)),
      el("div", {}, el("h4", { text: t("target") }), el("table", { class: "table" }, el("thead", {}, el("tr", {},
        el("th", { text: t("target") }), el("th", { text: t("phase") }), el("th", { class: "num", text: t("col_value") }),
        el("th", { class: "num", text: t("target") }), el("th", { text: t("status") }))), el("tbody", {}, targets)))));
    const plots = run.links && run.links.plots ? Object.entries(run.links.plots) : [];
    const figs = await Promise.all(plots.map(([name, path]) => blobImage(path, known(`plot_${name}`) ? t(`plot_${name}`) : name)));
    box.append(el("h4", { text: t("plots") }), el("div", { class: "plots" }, figs));
  }

  // ---------------------------------------------------------------- virtual power plant
  const FLEX_KINDS = ["curtailable", "shiftable", "storage", "pv_curtailment"];
  const FLEX_COLORS = { curtailable: "#4d8fe8", shiftable: "#a779e9", storage: "#2ec4b6",
    pv_curtailment: "#f4b400" };
  const kw = (v) => (v === null || v === undefined ? "–" : `${num(v, Math.abs(v) >= 100 ? 0 : 1)} kW`);
  const kwh = (v) => (v === null || v === undefined ? "–" : `${num(v, Math.abs(v) >= 100 ? 0 : 1)} kWh`);
  const yuan = (v) => (v === null || v === undefined ? "–" : `${num(v, 0)} ${state.lang === "zh" ? "元" : "yuan"}`);
  const pct = (r) => (r === null || r === undefined ? "–" : `${num(r * 100, 1)} %`);
  const settleStatus = (s) => (s ? t(`settle_${String(s).replace(/ /g, "_")}`) : "–");
  /** Where an event stands now: cancelled, upcoming, ongoing or past. */
  function eventState(ev, now) {
    if (ev.status !== "active") return "cancelled";
    if (new Date(ev.start).getTime() > now) return "upcoming";
    if (new Date(ev.end).getTime() > now) return "ongoing";
    return "past";
  }
  async function orNull(promise) {
    try { return await promise; } catch (e) { if (e.status === 404) return null; throw e; }
  }
  async function showVpp() {
    const now = Date.now();
    const from = new Date(Math.floor(now / 900000) * 900000);
    const to = new Date(from.getTime() + 24 * 3600 * 1000);
    const q = new URLSearchParams({ start: from.toISOString(), end: to.toISOString() });
    const [flex, events] = await Promise.all([api(`/v1/flex/available?${q}`), api("/v1/dr/events")]);
    const flexDone = renderFlex(flex);
    const selected = await renderEvents(events, now);
    await flexDone;
    if (selected) await showEvent(selected);
    else $("#vpp-event-card").hidden = true;
    markRendered("vpp");
  }
  function renderFlex(flex) {
    $("#vpp-flex-range").textContent = `${fmtTime(flex.start, "datetime")} – ${fmtTime(flex.end, "datetime")} · ${flex.step_minutes} min`;
    const kinds = FLEX_KINDS.map((k) => flex.kinds.find((x) => x.kind === k)
      || { kind: k, resources: 0, status: "ok", notes: [], steps: [] });
    $("#vpp-flex-tiles").replaceChildren(...kinds.map((k) => {
      const red = k.steps.map((s) => s.reduce_kw);
      const first = k.steps.length ? k.steps[0] : null;
      const subs = [`${t("vpp_flex_max")} ${kw(red.length ? Math.max(...red) : 0)}`,
        `${t("vpp_flex_increase")} ${kw(first ? first.increase_kw : 0)}`,
        `${k.resources} ${t("vpp_flex_resources")}${k.status !== "ok" ? ` · ${t("vpp_flex_insufficient")}` : ""}`];
      const node = tile(`flex-${k.kind}`, `${t(`flex_${k.kind}`)} · ${t("vpp_flex_now")}`,
        num(first ? first.reduce_kw : 0, 0), "kW", subs, null);
      node.dataset.kind = k.kind;
      node.dataset.reduceKw = first ? first.reduce_kw : 0;
      return node;
    }));
    const c = chart("chart-vpp-flex");
    const done = painted(c);
    const cats = (kinds.find((k) => k.steps.length) || { steps: [] }).steps.map((s) => fmtTime(s.start, "hour"));
    c.setOption({
      backgroundColor: "transparent", animation: false,
      grid: { left: 64, right: 72, top: 36, bottom: 28 },
      legend: { top: 0, textStyle: { color: "#c9d6e3" } },
      tooltip: { trigger: "axis", valueFormatter: (v) => kw(v) },
      xAxis: Object.assign({ type: "category", data: cats }, axisStyle),
      // the station (tens of MW) on its own axis, so the loads (hundreds of kW) stay readable
      yAxis: [Object.assign({ type: "value", name: t("vpp_flex_unit"), nameTextStyle: { color: "#9fb3c8" } }, axisStyle),
        Object.assign({ type: "value", name: `${t("flex_storage")} kW`, nameTextStyle: { color: "#9fb3c8" } }, axisStyle,
          { splitLine: { show: false } })],
      series: kinds.map((k) => ({ name: t(`flex_${k.kind}`), type: "line", symbol: "none",
        stack: k.kind === "storage" ? undefined : "flex", yAxisIndex: k.kind === "storage" ? 1 : 0,
        areaStyle: k.kind === "storage" ? undefined : { opacity: 0.35 }, color: FLEX_COLORS[k.kind],
        data: k.steps.map((s) => Math.round(s.reduce_kw * 10) / 10) })),
    }, true);
    return done;
  }
  async function renderEvents(events, now) {
    const table = $("#vpp-events-table");
    if (!events.length) {
      table.replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "muted", text: t("vpp_no_events") }))));
      return null;
    }
    const withState = events.map((ev) => ({ ev, st: eventState(ev, now) }));
    const upcoming = withState.filter((x) => x.st === "upcoming" || x.st === "ongoing")
      .sort((a, b) => new Date(a.ev.start) - new Date(b.ev.start));
    const past = withState.filter((x) => x.st === "past" || x.st === "cancelled")
      .sort((a, b) => new Date(b.ev.start) - new Date(a.ev.start));
    const settled = await Promise.all(past.map((x) => (x.st === "past"
      ? orNull(api(`/v1/dr/events/${encodeURIComponent(x.ev.id)}/settlement`)) : null)));
    const head = el("tr", {}, el("th", { text: t("col_event") }), el("th", { text: t("col_window") }),
      el("th", { text: t("col_direction") }), el("th", { class: "num", text: t("col_target_kw") }),
      el("th", { class: "num", text: t("col_price_yuan_per_kwh") }), el("th", { text: t("col_status") }),
      el("th", { class: "num", text: t("col_delivered_kwh") }), el("th", { class: "num", text: t("col_delivery_ratio") }),
      el("th", { class: "num", text: t("col_revenue_yuan") }));
    const row = ({ ev, st }, s) => el("tr", { "data-event": ev.id, "data-state": st,
      onclick: () => { showEvent(ev.id).catch(showError); } },
      el("td", {}, el("button", { type: "button", class: "link", text: ev.id })),
      el("td", { class: "muted", text: `${fmtTime(ev.start, "datetime")} – ${fmtTime(ev.end, "hour")}` }),
      el("td", { text: t(`dir_${ev.direction}`) }),
      el("td", { class: "num", text: num(ev.target_kw, 0) }),
      el("td", { class: "num", text: num(ev.price_yuan_per_kwh, 2) }),
      el("td", {}, el("span", { class: `pill ${st === "past" ? (s ? "ok" : "warn") : st === "cancelled" ? "bad" : "warn"}`,
        text: st === "past" ? `${t("ev_past")} · ${t(s ? "ev_settled" : "ev_not_settled")}` : t(`ev_${st}`) })),
      el("td", { class: "num", "data-kwh": s ? s.delivered_kwh : null, text: s ? num(s.delivered_kwh ?? 0, 0) : "–" }),
      el("td", { class: "num", text: s && s.delivery_ratio !== null ? num(s.delivery_ratio * 100, 1) : "–" }),
      el("td", { class: "num", text: s && s.revenue_yuan !== null ? num(s.revenue_yuan, 0) : "–" }));
    table.replaceChildren(el("thead", {}, head),
      el("tbody", {}, upcoming.map((x) => row(x, null)), past.map((x, i) => row(x, settled[i]))));
    const pick = past.find((x, i) => settled[i]) || upcoming[0] || past[0];
    return state.vppEvent && events.some((e) => e.id === state.vppEvent) ? state.vppEvent : pick.ev.id;
  }
  async function showEvent(id) {
    state.vppEvent = id;
    for (const tr of document.querySelectorAll("#vpp-events-table tbody tr")) {
      tr.classList.toggle("selected", tr.dataset.event === id);
    }
    const enc = encodeURIComponent(id);
    const [ev, plan, settle] = await Promise.all([api(`/v1/dr/events/${enc}`),
      orNull(api(`/v1/dr/events/${enc}/plan`)), orNull(api(`/v1/dr/events/${enc}/settlement`))]);
    const card = $("#vpp-event-card");
    card.hidden = false;
    card.dataset.event = id;
    $("#vpp-event-name").textContent = `${ev.id} · ${fmtTime(ev.start, "datetime")} – ${fmtTime(ev.end, "hour")} · ${t(`dir_${ev.direction}`)}`;
    const settled = !!(settle && settle.steps && settle.steps.length);
    $("#vpp-event-scope").textContent = settled ? t("vpp_curves_settled") : plan ? t("vpp_curves_planned") : "";
    const kpi = (key, value) => el("div", { class: "kpi", "data-kpi": key },
      el("div", { class: "kpi-name", text: t(key) }), el("div", { class: "kpi-value", text: value }));
    $("#vpp-event-kpis").replaceChildren(
      kpi("col_target_kw", kw(ev.target_kw)),
      kpi("vpp_plan_status", plan ? t(`plan_${plan.status.replace(/ /g, "_")}`) : t("vpp_no_plan")),
      kpi("vpp_shortfall_kw", plan ? kw(plan.shortfall_kw) : "–"),
      kpi("vpp_target_kwh", settle ? kwh(settle.target_kwh) : "–"),
      kpi("col_delivered_kwh", settle ? kwh(settle.delivered_kwh) : t("ev_not_settled")),
      kpi("col_delivery_ratio", settle ? pct(settle.delivery_ratio) : "–"),
      kpi("col_revenue_yuan", settle ? yuan(settle.revenue_yuan) : "–"),
      kpi("col_status", settle ? settleStatus(settle.status) : "–"));
    const c = chart("chart-vpp-event");
    c.resize();
    const done = painted(c);
    c.setOption(eventOption(ev, plan, settle), true);
    renderContrib(plan, settle);
    await done;
  }
  /** The park's baseline, plan and actual kW per step, and each enterprise's planned kW. */
  function eventOption(ev, plan, settle) {
    const sign = ev.direction === "reduce" ? -1 : 1;
    const settled = !!(settle && settle.steps && settle.steps.length);
    const starts = settled ? settle.steps.map((s) => s.start) : plan ? plan.steps.map((s) => s.start) : [];
    const keyOf = (iso) => new Date(iso).getTime();
    const planAt = new Map((plan ? plan.steps : []).map((s) => [keyOf(s.start), s]));
    const base = settled ? settle.steps.map((s) => s.baseline_kw)
      : starts.map((s) => (planAt.get(keyOf(s)) || {}).baseline_kw ?? null);
    const r1 = (v) => (v === null || v === undefined ? null : Math.round(v * 10) / 10);
    const planned = starts.map((s, i) => {
      const p = planAt.get(keyOf(s));
      return base[i] === null || base[i] === undefined || !p ? null : r1(base[i] + sign * p.delivered_kw);
    });
    const series = [
      { name: t("s_baseline_kw"), type: "line", symbol: "none", color: "#9fb3c8",
        lineStyle: { type: "dashed", width: 2 }, data: base.map(r1) },
      { name: t("s_plan_kw"), type: "line", symbol: "none", color: COLORS.accent, lineStyle: { width: 2 }, data: planned },
    ];
    if (settled) {
      series.push({ name: t("s_actual_kw"), type: "line", symbol: "circle", symbolSize: 4, color: COLORS.discharge,
        lineStyle: { width: 2 }, data: settle.steps.map((s) => r1(s.actual_kw)) });
    }
    const byEnt = new Map();
    for (const ins of plan ? plan.instructions : []) {
      const name = ins.enterprise || t("vpp_park_storage");
      const row = byEnt.get(name) || new Map();
      for (const s of ins.steps) row.set(keyOf(s.start), (row.get(keyOf(s.start)) || 0) + s.power_kw);
      byEnt.set(name, row);
    }
    for (const [name, row] of byEnt) {
      series.push({ name: `${name} · ${t("s_contribution_kw")}`, type: "bar", stack: "contrib", yAxisIndex: 1,
        data: starts.map((s) => r1(row.get(keyOf(s)) || 0)) });
    }
    return {
      backgroundColor: "transparent", animation: false,
      grid: { left: 72, right: 72, top: 60, bottom: 28 },
      legend: { top: 0, textStyle: { color: "#c9d6e3" } },
      tooltip: { trigger: "axis", valueFormatter: (v) => kw(v) },
      xAxis: Object.assign({ type: "category", data: starts.map((s) => fmtTime(s, "hour")) }, axisStyle),
      yAxis: [Object.assign({ type: "value", name: t("s_baseline_kw").replace(/（.*|\s\(.*/, "") + " kW", scale: true,
        nameTextStyle: { color: "#9fb3c8" } }, axisStyle),
      Object.assign({ type: "value", name: t("s_contribution_kw"), nameTextStyle: { color: "#9fb3c8" } }, axisStyle,
        { splitLine: { show: false } })],
      series,
    };
  }
  function renderContrib(plan, settle) {
    const rows = new Map();
    const get = (name) => rows.get(name) || rows.set(name, { name, planned: null, delivered: null,
      revenue: null, status: null, deadline: null }).get(name);
    for (const ins of plan ? plan.instructions : []) {
      const r = get(ins.enterprise || t("vpp_park_storage"));
      if (ins.energy_kwh !== null && ins.energy_kwh !== undefined) r.planned = (r.planned || 0) + ins.energy_kwh;
      if (!r.deadline || ins.deadline < r.deadline) r.deadline = ins.deadline;
    }
    let park = null;
    for (const line of settle ? settle.lines : []) {
      if (line.level === "park") { park = line; continue; }
      if (line.level !== "enterprise") continue;
      Object.assign(get(line.enterprise), { delivered: line.delivered_kwh, revenue: line.revenue_yuan,
        status: line.status });
    }
    const head = el("tr", {}, el("th", { text: t("col_enterprise") }), el("th", { text: t("col_deadline") }),
      el("th", { class: "num", text: t("col_planned_kwh") }), el("th", { class: "num", text: t("col_delivered_kwh") }),
      el("th", { class: "num", text: t("col_revenue_yuan") }), el("th", { text: t("col_status") }));
    const fmt = (v) => (v === null || v === undefined ? "–" : num(v, Math.abs(v) >= 100 ? 0 : 1));
    const body = [...rows.values()].map((r) => el("tr", { "data-enterprise": r.name },
      el("td", { text: r.name }), el("td", { class: "muted", text: r.deadline ? fmtTime(r.deadline, "datetime") : "–" }),
      el("td", { class: "num", text: fmt(r.planned) }), el("td", { class: "num", "data-kwh": r.delivered, text: fmt(r.delivered) }),
      el("td", { class: "num", text: fmt(r.revenue) }), el("td", { text: settleStatus(r.status) })));
    if (park) {
      body.push(el("tr", { class: "total-row", "data-enterprise": "" }, el("td", {}, el("strong", { text: t("vpp_park_total") })),
        el("td", { text: "" }), el("td", { class: "num", text: fmt(plan ? plan.instructions.reduce((a, i) => a + (i.energy_kwh || 0), 0) : null) }),
        el("td", { class: "num", "data-kwh": park.delivered_kwh, text: fmt(park.delivered_kwh) }),
        el("td", { class: "num", text: fmt(park.revenue_yuan) }), el("td", { text: settleStatus(park.status) })));
    }
    $("#vpp-contrib-table").replaceChildren(el("thead", {}, head), el("tbody", {}, body));
  }

  // ---------------------------------------------------------------- routing
  const VIEWS = ["overview", "ranking", "enterprise", "alerts", "storage", "scenarios", "vpp"];
  async function route() {
    const [, view, arg] = (location.hash || "#/overview").split("/");
    const name = VIEWS.includes(view) ? view : "overview";
    state.view = name;
    for (const v of VIEWS) $(`#view-${v}`).hidden = v !== name;
    for (const a of document.querySelectorAll("#nav a")) {
      a.classList.toggle("active", a.dataset.view === name || (name === "enterprise" && a.dataset.view === "ranking"));
    }
    showError(null);
    document.body.dataset.rendered = "";
    document.body.dataset.modules = "";
    state.modulesSeq = (state.modulesSeq || 0) + 1;
    try {
      if (name === "overview") await showOverview();
      else if (name === "ranking") await showRanking();
      else if (name === "enterprise") await showEnterprise(decodeURIComponent(arg || ""));
      else if (name === "alerts") await showAlerts();
      else if (name === "storage") await showStorage();
      else if (name === "scenarios") await showScenarios();
      else if (name === "vpp") await showVpp();
    } catch (e) {
      if (e.status !== 401) { showError(e); markRendered(`${name}-error`); }
    }
    for (const c of Object.values(state.charts)) c.resize();
  }
  function setPeriod(p) {
    state.period = p;
    for (const b of document.querySelectorAll("#period-switch button")) {
      b.classList.toggle("active", b.dataset.period === p);
    }
  }
  function start() {
    $("#login").hidden = true;
    $("#app").hidden = false;
    applyLang();
    route();
  }

  document.addEventListener("DOMContentLoaded", () => {
    state.date = shanghaiToday();
    $("#date-input").value = state.date;
    setPeriod("day");
    applyLang();
    $("#login-form").addEventListener("submit", login);
    for (const b of document.querySelectorAll("[data-lang-toggle]")) b.addEventListener("click", toggleLang);
    $("#logout").addEventListener("click", () => logout());
    for (const b of document.querySelectorAll("#period-switch button")) {
      b.addEventListener("click", () => { setPeriod(b.dataset.period); route(); });
    }
    $("#date-input").addEventListener("change", (ev) => { if (ev.target.value) { state.date = ev.target.value; route(); } });
    $("#alerts-open-only").addEventListener("change", () => route());
    window.addEventListener("hashchange", route);
    window.addEventListener("resize", () => { for (const c of Object.values(state.charts)) c.resize(); });
    if (state.key) start(); else showLogin();
  });
})();
