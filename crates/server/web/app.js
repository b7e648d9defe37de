// Touchpoint's dashboard: a small script, no build step. It reads the same /api routes as
// any client, with the signed-in session (the page hands over who is signed in, their
// projects and the CSRF token as JSON). A view's whole state is in the address (#…), so a
// view can be shared and reloaded; the language is remembered in this browser.

const boot = JSON.parse(document.getElementById("boot").textContent);

const T = {
  en: {
    overview: "Overview", journey: "Journey map", project: "Project", period: "Period", compare: "Compare to the previous period",
    language: "Language", signout: "Sign out", days: (n) => `Last ${n} days`, events: "Events", touchpointEvents: "Touchpoint events",
    vsPrevious: "vs the previous period", noPrevious: "no events in the previous period", perDay: "Events per day and channel",
    asTable: "Show as a table", day: "Day", channel: "Channel", total: "Total", csv: "Download CSV", png: "Download PNG",
    painPoints: "Top pain points", touchpoint: "Touchpoint", stage: "Stage", reach: "Reach", lost: "Customers lost",
    exitRate: "Exit rate", conversion: "Conversion", churn: "Churn", significance: "q-value", customers: "Customers",
    noData: "No events in this period yet.", openJourney: "Open the journey map", error: "Could not load this view",
    chartLabel: (n, d) => `Bar chart of ${n} events over ${d} days, by channel`, none: "none",
    unclassified: "No stage", emptyStage: "No customers at this stage in this period.", painPoint: "Pain point",
    noPain: "No touchpoint stands out as a pain point in this period.", why: "Why", moreChurn: "more churn", lessConversion: "less conversion",
  },
  cs: {
    overview: "Přehled", journey: "Mapa cesty", project: "Projekt", period: "Období", compare: "Porovnat s předchozím obdobím",
    language: "Jazyk", signout: "Odhlásit se", days: (n) => `Posledních ${n} dní`, events: "Události", touchpointEvents: "Události kontaktních bodů",
    vsPrevious: "oproti předchozímu období", noPrevious: "v předchozím období žádné události", perDay: "Události po dnech a kanálech",
    asTable: "Zobrazit jako tabulku", day: "Den", channel: "Kanál", total: "Celkem", csv: "Stáhnout CSV", png: "Stáhnout PNG",
    painPoints: "Hlavní problémová místa", touchpoint: "Kontaktní bod", stage: "Fáze", reach: "Dosah", lost: "Ztracení zákazníci",
    exitRate: "Míra odchodu", conversion: "Konverze", churn: "Odchod", significance: "q-hodnota", customers: "Zákazníci",
    noData: "V tomto období zatím nejsou žádné události.", openJourney: "Otevřít mapu cesty", error: "Tento pohled se nepodařilo načíst",
    chartLabel: (n, d) => `Sloupcový graf ${n} událostí za ${d} dní podle kanálu`, none: "žádné",
    unclassified: "Bez fáze", emptyStage: "V tomto období v této fázi nejsou žádní zákazníci.", painPoint: "Problémové místo",
    noPain: "Žádný kontaktní bod v tomto období nevyčnívá jako problémové místo.", why: "Proč", moreChurn: "vyšší odchod", lessConversion: "nižší konverze",
  },
  pl: {
    overview: "Przegląd", journey: "Mapa ścieżki", project: "Projekt", period: "Okres", compare: "Porównaj z poprzednim okresem",
    language: "Język", signout: "Wyloguj", days: (n) => `Ostatnie ${n} dni`, events: "Zdarzenia", touchpointEvents: "Zdarzenia punktów styku",
    vsPrevious: "względem poprzedniego okresu", noPrevious: "brak zdarzeń w poprzednim okresie", perDay: "Zdarzenia dziennie według kanału",
    asTable: "Pokaż jako tabelę", day: "Dzień", channel: "Kanał", total: "Razem", csv: "Pobierz CSV", png: "Pobierz PNG",
    painPoints: "Główne punkty bólu", touchpoint: "Punkt styku", stage: "Etap", reach: "Zasięg", lost: "Utraceni klienci",
    exitRate: "Odsetek wyjść", conversion: "Konwersja", churn: "Odejścia", significance: "wartość q", customers: "Klienci",
    noData: "Brak zdarzeń w tym okresie.", openJourney: "Otwórz mapę ścieżki", error: "Nie udało się wczytać tego widoku",
    chartLabel: (n, d) => `Wykres słupkowy ${n} zdarzeń z ${d} dni według kanału`, none: "brak",
    unclassified: "Bez etapu", emptyStage: "W tym okresie na tym etapie nie ma klientów.", painPoint: "Punkt bólu",
    noPain: "Żaden punkt styku nie wyróżnia się w tym okresie jako punkt bólu.", why: "Dlaczego", moreChurn: "więcej odejść", lessConversion: "mniej konwersji",
  },
};
const LANGS = { en: "English", cs: "Čeština", pl: "Polski" };
const VIEWS = ["overview", "journey"];
const RANGES = [7, 30, 90, 365];
const COLOURS = ["#0b5cad", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#1098ad", "#5c940d", "#e67700", "#495057"];

// ---- State in the address -------------------------------------------------------------
function readState() {
  const h = new URLSearchParams(location.hash.slice(1));
  const saved = localStorage.getItem("tp.lang");
  const lang = [h.get("lang"), saved, boot.lang].find((l) => l && T[l]) || "en";
  const projects = boot.projects.map((p) => String(p.id));
  const project = projects.includes(h.get("project")) ? h.get("project") : projects[0];
  const view = VIEWS.includes(h.get("view")) ? h.get("view") : "overview";
  const range = RANGES.includes(Number(h.get("range"))) ? Number(h.get("range")) : 30;
  return { lang, project, view, range, compare: h.get("compare") === "1" };
}
let state = readState();
const t = (k, ...a) => { const v = T[state.lang][k] ?? T.en[k] ?? k; return typeof v === "function" ? v(...a) : v; };

function go(change) {
  state = { ...state, ...change };
  const h = new URLSearchParams({ project: state.project ?? "", view: state.view, range: state.range, compare: state.compare ? "1" : "0", lang: state.lang });
  if ("#" + h.toString() !== location.hash) location.hash = h.toString(); else render();
}
window.addEventListener("hashchange", () => { state = readState(); render(); });

// ---- Talking to the API -----------------------------------------------------------------
async function api(path, body) {
  const r = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "X-Touchpoint-Project": state.project, "X-CSRF-Token": boot.csrf, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent("/" + location.hash); throw new Error("signed out"); }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error?.message || r.statusText);
  return data;
}

// ---- Small helpers ----------------------------------------------------------------------
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmt = (n, d = 0) => (n == null || Number.isNaN(n) ? "–" : Number(n).toLocaleString(state.lang, { maximumFractionDigits: d, minimumFractionDigits: d }));
const pct = (x, d = 1) => (x == null ? "–" : fmt(100 * x, d) + " %");
const day = (d) => d.toISOString().slice(0, 10);
function period(range, back = 0) {
  const to = new Date(); to.setUTCHours(0, 0, 0, 0); to.setUTCDate(to.getUTCDate() - back * range);
  const from = new Date(to); from.setUTCDate(from.getUTCDate() - (range - 1));
  return { from: day(from), to: day(to), fromS: from.getTime() / 1000, toS: to.getTime() / 1000 + 86400 };
}
function download(name, text, type = "text/csv;charset=utf-8") {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type })); a.download = name; a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
const csvCell = (v) => { const s = String(v ?? ""); return /^[=+\-@\t\r]/.test(s) ? "'" + s : /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
function tableCsv(table) {
  return [...table.rows].map((r) => [...r.cells].map((c) => csvCell(c.dataset.v ?? c.textContent.trim())).join(",")).join("\n") + "\n";
}
function svgPng(svg, name) {
  const xml = new XMLSerializer().serializeToString(svg);
  const img = new Image();
  const box = svg.viewBox.baseVal;
  img.onload = () => {
    const c = document.createElement("canvas"); c.width = box.width * 2; c.height = box.height * 2;
    const g = c.getContext("2d"); g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height); g.drawImage(img, 0, 0, c.width, c.height);
    c.toBlob((b) => { const a = document.createElement("a"); a.href = URL.createObjectURL(b); a.download = name; a.click(); });
  };
  img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(xml);
}

// ---- The header -------------------------------------------------------------------------
function header() {
  const el = document.getElementById("top");
  document.documentElement.lang = state.lang;
  const projects = boot.projects.map((p) => `<option value="${p.id}"${String(p.id) === state.project ? " selected" : ""}>${esc(p.name)}</option>`).join("");
  el.innerHTML = `<div class="bar">
    <span class="brand">Touchpoint</span>
    <nav class="views" aria-label="Views">${VIEWS.map((v) => `<a href="#" data-view="${v}"${v === state.view ? ' aria-current="page"' : ""}>${esc(t(v))}</a>`).join("")}</nav>
    <div class="who"><span>${esc(boot.user.email)}</span>
      <form method="post" action="/logout"><input type="hidden" name="csrf" value="${esc(boot.csrf)}"><button class="quiet" type="submit">${esc(t("signout"))}</button></form></div>
  </div>
  <div class="bar controls">
    <div class="field"><label for="project">${esc(t("project"))}</label><select id="project">${projects}</select></div>
    <div class="field"><label for="range">${esc(t("period"))}</label><select id="range">${RANGES.map((r) => `<option value="${r}"${r === state.range ? " selected" : ""}>${esc(t("days", r))}</option>`).join("")}</select></div>
    <div class="field check"><input type="checkbox" id="compare"${state.compare ? " checked" : ""}><label for="compare">${esc(t("compare"))}</label></div>
    <div class="field"><label for="lang">${esc(t("language"))}</label><select id="lang">${Object.entries(LANGS).map(([k, v]) => `<option value="${k}" lang="${k}"${k === state.lang ? " selected" : ""}>${v}</option>`).join("")}</select></div>
  </div>`;
  el.querySelectorAll("[data-view]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); go({ view: a.dataset.view }); }));
  el.querySelector("#project").addEventListener("change", (e) => go({ project: e.target.value }));
  el.querySelector("#range").addEventListener("change", (e) => go({ range: Number(e.target.value) }));
  el.querySelector("#compare").addEventListener("change", (e) => go({ compare: e.target.checked }));
  el.querySelector("#lang").addEventListener("change", (e) => {
    localStorage.setItem("tp.lang", e.target.value);
    document.cookie = `tp_lang=${e.target.value}; Path=/; Max-Age=31536000; SameSite=Lax`;
    go({ lang: e.target.value });
  });
}

// ---- Overview ---------------------------------------------------------------------------
async function overview(main) {
  const now = period(state.range), prev = period(state.range, 1);
  const [rows, tps, before, map] = await Promise.all([
    api(`/api/volume?from=${now.from}&to=${now.to}&lang=${state.lang}`),
    api(`/api/touchpoints?lang=${state.lang}`),
    state.compare ? api(`/api/volume?from=${prev.from}&to=${prev.to}&lang=${state.lang}`) : Promise.resolve(null),
    api("/api/analytics/journey-map", { filter: { from: now.fromS, to: now.toS }, query: {} }),
  ]);
  const channelOf = Object.fromEntries(tps.map((x) => [x.key, x.channel]));
  const days = []; for (let d = new Date(now.from + "T00:00:00Z"); day(d) <= now.to; d.setUTCDate(d.getUTCDate() + 1)) days.push(day(d));
  const byDay = {}, channels = {};
  let total = 0, touch = 0;
  for (const r of rows) {
    const ch = r.touchpoint ? channelOf[r.touchpoint] || "other" : null;
    total += r.events;
    if (!ch) continue;
    touch += r.events;
    (byDay[r.day] ??= {})[ch] = (byDay[r.day]?.[ch] || 0) + r.events;
    channels[ch] = (channels[ch] || 0) + r.events;
  }
  const order = Object.keys(channels).sort((a, b) => channels[b] - channels[a]);
  const colour = (ch) => COLOURS[Math.min(order.indexOf(ch), COLOURS.length - 1)];
  const prevTotal = before ? before.reduce((s, r) => s + r.events, 0) : null;
  const delta = prevTotal ? (total - prevTotal) / prevTotal : null;
  const deltaText = before == null ? "" : delta == null ? `<p class="muted">${esc(t("noPrevious"))}</p>`
    : `<p class="delta ${delta >= 0 ? "up" : "down"}">${delta >= 0 ? "▲" : "▼"} ${pct(Math.abs(delta))} <span class="muted">${esc(t("vsPrevious"))} (${fmt(prevTotal)})</span></p>`;

  // The stacked bars, drawn as SVG.
  const W = 720, H = 240, pad = 28, bw = (W - pad) / Math.max(days.length, 1);
  const max = Math.max(1, ...days.map((d) => Object.values(byDay[d] || {}).reduce((a, b) => a + b, 0)));
  let bars = "";
  days.forEach((d, i) => {
    let y = H - 20;
    for (const ch of order) {
      const v = byDay[d]?.[ch] || 0; if (!v) continue;
      const h = ((H - 40) * v) / max; y -= h;
      bars += `<rect x="${(pad + i * bw + bw * 0.1).toFixed(1)}" y="${y.toFixed(1)}" width="${(bw * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="${colour(ch)}"><title>${d} · ${esc(ch)}: ${fmt(v)}</title></rect>`;
    }
  });
  const ticks = [0, 0.5, 1].map((f) => `<text x="${pad - 4}" y="${(H - 20 - (H - 40) * f + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#4d4d4d">${fmt(max * f)}</text>`).join("");
  const labels = [days[0], days[days.length - 1]].map((d, i) => `<text x="${i ? W : pad}" y="${H - 4}" text-anchor="${i ? "end" : "start"}" font-size="11" fill="#4d4d4d">${d}</text>`).join("");
  const svg = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("chartLabel", fmt(touch), days.length))}" xmlns="http://www.w3.org/2000/svg"><line x1="${pad}" x2="${W}" y1="${H - 20}" y2="${H - 20}" stroke="#8a8a8a"/>${ticks}${bars}${labels}</svg>`;
  const legend = order.map((ch) => `<li><i style="background:${colour(ch)}"></i>${esc(ch)} <span class="muted">${fmt(channels[ch])}</span></li>`).join("");
  const table = `<table id="volume-table"><caption>${esc(t("perDay"))}</caption><thead><tr><th>${esc(t("day"))}</th>${order.map((c) => `<th class="n">${esc(c)}</th>`).join("")}<th class="n">${esc(t("total"))}</th></tr></thead><tbody>${days.map((d) => {
    const v = byDay[d] || {}; const s = Object.values(v).reduce((a, b) => a + b, 0);
    return `<tr><td>${d}</td>${order.map((c) => `<td class="n" data-v="${v[c] || 0}">${fmt(v[c] || 0)}</td>`).join("")}<td class="n" data-v="${s}">${fmt(s)}</td></tr>`;
  }).join("")}</tbody></table>`;

  const report = map.groups?.[0]?.report;
  const pains = (report?.pain_points || []).slice(0, 5);
  const name = Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const painRows = pains.map((p) => {
    const why = [p.churn?.adverse ? t("moreChurn") : null, p.conversion?.adverse ? t("lessConversion") : null].filter(Boolean).join(", ");
    const q = Math.min(p.churn?.q ?? 1, p.conversion?.q ?? 1);
    return `<tr><td>${esc(name[p.touchpoint] || p.touchpoint)}</td><td>${esc(p.stage)}</td><td class="n" data-v="${p.reach}">${fmt(p.reach)}</td><td class="n" data-v="${p.customers_lost}">${fmt(p.customers_lost, 1)}</td><td>${esc(why)}</td><td class="n" data-v="${q}">${q < 0.001 ? "&lt; 0.001" : fmt(q, 3)}</td></tr>`;
  }).join("");

  main.innerHTML = `<h1>${esc(t("overview"))}</h1>
  <div class="grid">
    <section class="panel" aria-labelledby="k1"><h2 id="k1">${esc(t("events"))}</h2><p class="kpi" id="total-events" data-v="${total}">${fmt(total)}</p>${deltaText}
      <p class="muted">${esc(t("touchpointEvents"))}: <span id="touchpoint-events">${fmt(touch)}</span> · ${now.from} – ${now.to}</p></section>
    <section class="panel" aria-labelledby="k2"><h2 id="k2">${esc(t("customers"))}</h2><p class="kpi">${fmt(map.groups?.[0]?.customers ?? 0)}</p>
      <p class="muted">${esc(t("reach"))} · ${now.from} – ${now.to}</p></section>
  </div>
  <section class="panel chart" aria-labelledby="c1"><h2 id="c1">${esc(t("perDay"))}</h2>
    ${total ? svg + `<ul class="legend">${legend}</ul>` : `<p>${esc(t("noData"))}</p>`}
    <details><summary>${esc(t("asTable"))}</summary><div class="scroll">${table}</div></details>
    <div class="tools"><button class="quiet" id="csv-volume" type="button">${esc(t("csv"))}</button>${total ? `<button class="quiet" id="png-volume" type="button">${esc(t("png"))}</button>` : ""}</div>
  </section>
  <section class="panel" aria-labelledby="p1"><h2 id="p1">${esc(t("painPoints"))}</h2>
    ${pains.length ? `<div class="scroll"><table id="pain-table"><thead><tr><th>${esc(t("touchpoint"))}</th><th>${esc(t("stage"))}</th><th class="n">${esc(t("reach"))}</th><th class="n">${esc(t("lost"))}</th><th>${esc(t("why"))}</th><th class="n">${esc(t("significance"))}</th></tr></thead><tbody>${painRows}</tbody></table></div>` : `<p>${esc(t("noPain"))}</p>`}
    <div class="tools"><a href="#" id="to-journey">${esc(t("openJourney"))}</a></div>
  </section>`;
  main.querySelector("#csv-volume").addEventListener("click", () => download(`volume-${now.from}-${now.to}.csv`, tableCsv(main.querySelector("#volume-table"))));
  main.querySelector("#png-volume")?.addEventListener("click", () => svgPng(main.querySelector(".chart svg"), `volume-${now.from}-${now.to}.png`));
  main.querySelector("#to-journey").addEventListener("click", (e) => { e.preventDefault(); go({ view: "journey" }); });
}

// ---- Journey map ------------------------------------------------------------------------
async function journey(main) {
  const now = period(state.range);
  const [map, tps, project] = await Promise.all([
    api("/api/analytics/journey-map", { filter: { from: now.fromS, to: now.toS }, query: {} }),
    api(`/api/touchpoints?lang=${state.lang}`),
    api("/api/project"),
  ]);
  const name = Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const stageName = Object.fromEntries((project.stages || []).map((s) => [s.key, s.names?.[state.lang] || s.key]));
  stageName.unclassified ??= t("unclassified");
  const report = map.groups?.[0]?.report || { stages: [], pain_points: [] };
  const painful = new Set((report.pain_points || []).map((p) => p.touchpoint));
  const maxReach = Math.max(1, ...report.stages.flatMap((s) => s.touchpoints.map((x) => x.reach)));
  const stat = (label, value) => `<div><dt>${esc(label)}</dt><dd>${value}</dd></div>`;
  const stages = report.stages.map((s) => `<section class="panel stage" aria-labelledby="st-${esc(s.key)}">
    <h2 id="st-${esc(s.key)}"><span>${esc(stageName[s.key] || s.key)}</span><span class="muted" title="${esc(t("customers"))}">${fmt(s.customers)}</span></h2>
    ${s.touchpoints.length ? `<ul class="tps">${s.touchpoints.map((x) => `<li>
      <p class="tp">${painful.has(x.key) ? `<span class="pain" role="img" aria-label="${esc(t("painPoint"))}">⚠</span> ` : ""}${esc(name[x.key] || x.key)}</p>
      <div class="meter" aria-hidden="true"><span style="width:${((100 * x.reach) / maxReach).toFixed(1)}%"></span></div>
      <dl class="stats">${stat(t("reach"), fmt(x.reach))}${stat(t("exitRate"), pct(x.exit_rate))}${stat(t("conversion"), pct(x.conversion_rate))}${stat(t("churn"), pct(x.churn_rate))}</dl>
    </li>`).join("")}</ul>` : `<p class="muted">${esc(t("emptyStage"))}</p>`}</section>`).join("");
  const rows = report.stages.flatMap((s) => s.touchpoints.map((x) => `<tr><td>${esc(stageName[s.key] || s.key)}</td><td>${esc(name[x.key] || x.key)}</td>
    <td class="n" data-v="${x.reach}">${fmt(x.reach)}</td><td class="n" data-v="${x.exit_rate}">${pct(x.exit_rate)}</td>
    <td class="n" data-v="${x.conversion_rate ?? ""}">${pct(x.conversion_rate)}</td><td class="n" data-v="${x.churn_rate ?? ""}">${pct(x.churn_rate)}</td></tr>`)).join("");
  main.innerHTML = `<h1>${esc(t("journey"))}</h1><p class="muted">${now.from} – ${now.to} · ${esc(t("customers"))}: ${fmt(map.groups?.[0]?.customers ?? 0)}</p>
    ${report.stages.length ? `<div class="stages">${stages}</div>` : `<p class="panel">${esc(t("noData"))}</p>`}
    <section class="panel"><details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table id="journey-table">
      <thead><tr><th>${esc(t("stage"))}</th><th>${esc(t("touchpoint"))}</th><th class="n">${esc(t("reach"))}</th><th class="n">${esc(t("exitRate"))}</th><th class="n">${esc(t("conversion"))}</th><th class="n">${esc(t("churn"))}</th></tr></thead>
      <tbody>${rows}</tbody></table></div></details>
      <div class="tools"><button class="quiet" id="csv-journey" type="button">${esc(t("csv"))}</button></div></section>`;
  main.querySelector("#csv-journey").addEventListener("click", () => download(`journey-map-${now.from}-${now.to}.csv`, tableCsv(main.querySelector("#journey-table"))));
}

// ---- Rendering --------------------------------------------------------------------------
let generation = 0;
async function render() {
  header();
  const main = document.getElementById("view");
  const mine = ++generation;
  main.setAttribute("aria-busy", "true");
  try {
    const el = document.createElement("div");
    await (state.view === "journey" ? journey : overview)(el);
    if (mine !== generation) return;
    main.replaceChildren(...el.childNodes);
  } catch (e) {
    if (mine === generation) main.innerHTML = `<p class="notice" role="alert">${esc(t("error"))}: ${esc(e.message)}</p>`;
  } finally {
    if (mine === generation) main.removeAttribute("aria-busy");
  }
}
render();
