// Touchpoint's dashboard: a small script, no build step. It reads the same /api routes as
// any client, with the signed-in session (the page hands over who is signed in, their
// projects and the CSRF token as JSON). A view's whole state is in the address (#…), so a
// view can be shared and reloaded; the language is remembered in this browser.

const boot = JSON.parse(document.getElementById("boot").textContent);

const T = {
  en: {
    customersView: "Customers", customer: "Customer", findCustomer: "Find a customer", findHint: "user id, anonymous id or #number", find: "Find",
    notFound: (q) => `No customer has the id ${q}.`, name: "Name", userId: "User id", since: "Since", profile: "Profile", identities: "Identities",
    conflicts: (n) => `${n} identity conflicts: ids that point to another known customer.`, timeline: "Timeline", noEvents: "No events.",
    export: "Export (JSON)", erase: "Erase everywhere", eraseConfirm: (id) => `Erase customer #${id} from every store? This cannot be undone.`, erased: "Erased.",
    funnel: "Funnel", step: (n) => `Step ${n}`, addStep: "Add a step", removeStep: "Remove the last step", window: "Conversion window",
    strict: "Strict order", breakdown: "Breakdown", noBreakdown: "None", firstChannel: "First-touch channel", firstStage: "First-touch stage",
    fromPrevious: "from the previous step", fromFirst: "from step 1", median: "median time", whoDropped: "Who dropped here",
    droppedAfter: (s, n) => `Dropped after step ${s}: ${n} customers (the first 100 ids)`, allCustomers: "All customers",
    churnView: "Churn", listening: "Listening", churned: "Customers who left", ofCustomers: (n) => `of ${n} customers`, how: "How they left",
    bySignal: "Said so (a churn touchpoint)", bySilence: "Went silent", drivers: "What preceded leaving",
    driversHelp: "Touchpoints more common among customers who left than among those who stayed, significant after correcting for the number of tests.",
    amongChurned: "Among those who left", amongStayed: "Among those who stayed", lift: "Lift", noDrivers: "No touchpoint is significantly more common before leaving.",
    signals: "Churn touchpoints", survey: "Survey", metric: "Metric", noSurveys: "No surveys yet.", byTouchpoint: "By the touchpoint asked about",
    intervalsHelp: "Each line is a 95 % interval; red marks a touchpoint significantly worse than the rest.", everyone: "Everyone",
    intervalsLabel: (m) => `${m} by touchpoint with 95 % intervals`, worse: "significantly worse", better: "significantly better", vsRest: "Against the rest",
    overview: "Overview", journey: "Journey map", project: "Project", period: "Period", compare: "Compare to the previous period",
    language: "Language", signout: "Sign out", days: (n) => `Last ${n} days`, events: "Events", touchpointEvents: "Touchpoint events",
    vsPrevious: "vs the previous period", noPrevious: "no events in the previous period", perDay: "Events per day and channel",
    asTable: "Show as a table", day: "Day", channel: "Channel", total: "Total", csv: "Download CSV", png: "Download PNG",
    painPoints: "Top pain points", touchpoint: "Touchpoint", stage: "Stage", reach: "Reach", lost: "Customers lost",
    exitRate: "Exit rate", conversion: "Conversion", churn: "Churn", significance: "q-value", customers: "Customers",
    noData: "No events in this period yet.", openJourney: "Open the journey map", error: "Could not load this view",
    chartLabel: (n, d) => `Bar chart of ${n} events over ${d} days, by channel`, none: "none",
    customersNote: "with a touchpoint in the period", unclassified: "No stage", emptyStage: "No customers at this stage in this period.", painPoint: "Pain point",
    noPain: "No touchpoint stands out as a pain point in this period.", why: "Why", moreChurn: "more churn", lessConversion: "less conversion",
  },
  cs: {
    customersView: "Zákazníci", customer: "Zákazník", findCustomer: "Najít zákazníka", findHint: "user id, anonymní id nebo #číslo", find: "Najít",
    notFound: (q) => `Žádný zákazník nemá id ${q}.`, name: "Jméno", userId: "User id", since: "Od", profile: "Profil", identities: "Identity",
    conflicts: (n) => `${n} konfliktů identit: id, která ukazují na jiného známého zákazníka.`, timeline: "Časová osa", noEvents: "Žádné události.",
    export: "Export (JSON)", erase: "Vymazat všude", eraseConfirm: (id) => `Vymazat zákazníka #${id} ze všech úložišť? Nelze vrátit.`, erased: "Vymazáno.",
    funnel: "Trychtýř", step: (n) => `Krok ${n}`, addStep: "Přidat krok", removeStep: "Odebrat poslední krok", window: "Okno konverze",
    strict: "Přísné pořadí", breakdown: "Rozpad", noBreakdown: "Žádný", firstChannel: "Kanál prvního kontaktu", firstStage: "Fáze prvního kontaktu",
    fromPrevious: "z předchozího kroku", fromFirst: "z kroku 1", median: "medián času", whoDropped: "Kdo tu odpadl",
    droppedAfter: (s, n) => `Odpadli po kroku ${s}: ${n} zákazníků (prvních 100 id)`, allCustomers: "Všichni zákazníci",
    churnView: "Odchody", listening: "Naslouchání", churned: "Zákazníci, kteří odešli", ofCustomers: (n) => `z ${n} zákazníků`, how: "Jak odešli",
    bySignal: "Řekli to (kontaktní bod odchodu)", bySilence: "Odmlčeli se", drivers: "Co odchodu předcházelo",
    driversHelp: "Kontaktní body častější u zákazníků, kteří odešli, než u těch, kteří zůstali, významné i po korekci na počet testů.",
    amongChurned: "U odešlých", amongStayed: "U zůstávajících", lift: "Násobek", noDrivers: "Žádný kontaktní bod není před odchodem významně častější.",
    signals: "Kontaktní body odchodu", survey: "Průzkum", metric: "Metrika", noSurveys: "Zatím žádné průzkumy.", byTouchpoint: "Podle kontaktního bodu, na který se ptáme",
    intervalsHelp: "Každá úsečka je 95% interval; červeně kontaktní bod významně horší než ostatní.", everyone: "Všichni",
    intervalsLabel: (m) => `${m} podle kontaktního bodu s 95% intervaly`, worse: "významně horší", better: "významně lepší", vsRest: "Oproti ostatním",
    overview: "Přehled", journey: "Mapa cesty", project: "Projekt", period: "Období", compare: "Porovnat s předchozím obdobím",
    language: "Jazyk", signout: "Odhlásit se", days: (n) => `Posledních ${n} dní`, events: "Události", touchpointEvents: "Události kontaktních bodů",
    vsPrevious: "oproti předchozímu období", noPrevious: "v předchozím období žádné události", perDay: "Události po dnech a kanálech",
    asTable: "Zobrazit jako tabulku", day: "Den", channel: "Kanál", total: "Celkem", csv: "Stáhnout CSV", png: "Stáhnout PNG",
    painPoints: "Hlavní problémová místa", touchpoint: "Kontaktní bod", stage: "Fáze", reach: "Dosah", lost: "Ztracení zákazníci",
    exitRate: "Míra odchodu", conversion: "Konverze", churn: "Odchod", significance: "q-hodnota", customers: "Zákazníci",
    noData: "V tomto období zatím nejsou žádné události.", openJourney: "Otevřít mapu cesty", error: "Tento pohled se nepodařilo načíst",
    chartLabel: (n, d) => `Sloupcový graf ${n} událostí za ${d} dní podle kanálu`, none: "žádné",
    customersNote: "s kontaktním bodem v období", unclassified: "Bez fáze", emptyStage: "V tomto období v této fázi nejsou žádní zákazníci.", painPoint: "Problémové místo",
    noPain: "Žádný kontaktní bod v tomto období nevyčnívá jako problémové místo.", why: "Proč", moreChurn: "vyšší odchod", lessConversion: "nižší konverze",
  },
  pl: {
    customersView: "Klienci", customer: "Klient", findCustomer: "Znajdź klienta", findHint: "user id, anonimowe id lub #numer", find: "Szukaj",
    notFound: (q) => `Żaden klient nie ma id ${q}.`, name: "Imię i nazwisko", userId: "User id", since: "Od", profile: "Profil", identities: "Tożsamości",
    conflicts: (n) => `${n} konfliktów tożsamości: id wskazujące na innego znanego klienta.`, timeline: "Oś czasu", noEvents: "Brak zdarzeń.",
    export: "Eksport (JSON)", erase: "Usuń wszędzie", eraseConfirm: (id) => `Usunąć klienta #${id} ze wszystkich magazynów? Tego nie można cofnąć.`, erased: "Usunięto.",
    funnel: "Lejek", step: (n) => `Krok ${n}`, addStep: "Dodaj krok", removeStep: "Usuń ostatni krok", window: "Okno konwersji",
    strict: "Ścisła kolejność", breakdown: "Podział", noBreakdown: "Brak", firstChannel: "Kanał pierwszego kontaktu", firstStage: "Etap pierwszego kontaktu",
    fromPrevious: "z poprzedniego kroku", fromFirst: "z kroku 1", median: "mediana czasu", whoDropped: "Kto tu odpadł",
    droppedAfter: (s, n) => `Odpadli po kroku ${s}: ${n} klientów (pierwsze 100 id)`, allCustomers: "Wszyscy klienci",
    churnView: "Odejścia", listening: "Słuchanie klientów", churned: "Klienci, którzy odeszli", ofCustomers: (n) => `z ${n} klientów`, how: "Jak odeszli",
    bySignal: "Powiedzieli to (punkt styku odejścia)", bySilence: "Zamilkli", drivers: "Co poprzedzało odejście",
    driversHelp: "Punkty styku częstsze u klientów, którzy odeszli, niż u tych, którzy zostali, istotne także po korekcie na liczbę testów.",
    amongChurned: "Wśród odchodzących", amongStayed: "Wśród pozostających", lift: "Krotność", noDrivers: "Żaden punkt styku nie jest istotnie częstszy przed odejściem.",
    signals: "Punkty styku odejścia", survey: "Ankieta", metric: "Miara", noSurveys: "Brak ankiet.", byTouchpoint: "Według punktu styku, o który pytamy",
    intervalsHelp: "Każdy odcinek to 95% przedział; na czerwono punkt styku istotnie gorszy od pozostałych.", everyone: "Wszyscy",
    intervalsLabel: (m) => `${m} według punktu styku z 95% przedziałami`, worse: "istotnie gorszy", better: "istotnie lepszy", vsRest: "Względem pozostałych",
    overview: "Przegląd", journey: "Mapa ścieżki", project: "Projekt", period: "Okres", compare: "Porównaj z poprzednim okresem",
    language: "Język", signout: "Wyloguj", days: (n) => `Ostatnie ${n} dni`, events: "Zdarzenia", touchpointEvents: "Zdarzenia punktów styku",
    vsPrevious: "względem poprzedniego okresu", noPrevious: "brak zdarzeń w poprzednim okresie", perDay: "Zdarzenia dziennie według kanału",
    asTable: "Pokaż jako tabelę", day: "Dzień", channel: "Kanał", total: "Razem", csv: "Pobierz CSV", png: "Pobierz PNG",
    painPoints: "Główne punkty bólu", touchpoint: "Punkt styku", stage: "Etap", reach: "Zasięg", lost: "Utraceni klienci",
    exitRate: "Odsetek wyjść", conversion: "Konwersja", churn: "Odejścia", significance: "wartość q", customers: "Klienci",
    noData: "Brak zdarzeń w tym okresie.", openJourney: "Otwórz mapę ścieżki", error: "Nie udało się wczytać tego widoku",
    chartLabel: (n, d) => `Wykres słupkowy ${n} zdarzeń z ${d} dni według kanału`, none: "brak",
    customersNote: "z punktem styku w okresie", unclassified: "Bez etapu", emptyStage: "W tym okresie na tym etapie nie ma klientów.", painPoint: "Punkt bólu",
    noPain: "Żaden punkt styku nie wyróżnia się w tym okresie jako punkt bólu.", why: "Dlaczego", moreChurn: "więcej odejść", lessConversion: "mniej konwersji",
  },
};
const LANGS = { en: "English", cs: "Čeština", pl: "Polski" };
const VIEWS = ["overview", "journey", "funnel", "churn", "listening", "customers"];
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
  const old = new URLSearchParams(location.hash.slice(1));
  const own = { listening: ["survey", "metric"], funnel: ["steps", "window", "strict", "by", "dropped"], customers: ["customer", "q"] }[state.view] || [];
  for (const k of own) if (old.get(k)) h.set(k, old.get(k));
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
// Charts are drawn at the width they are shown at, so their text stays readable on a phone.
const chartWidth = () => Math.max(300, Math.min(1200, (document.getElementById("view")?.clientWidth || 960) - 66));
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
    <nav class="views" aria-label="Views">${VIEWS.map((v) => `<a href="#" data-view="${v}"${v === state.view ? ' aria-current="page"' : ""}>${esc(t({ churn: "churnView", customers: "customersView" }[v] || v))}</a>`).join("")}</nav>
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
  const W = chartWidth(), H = Math.round(Math.min(260, W * 0.45)), pad = 56, bw = (W - pad) / Math.max(days.length, 1);
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
  const legend = order.map((ch) => `<li><i data-bg="${colour(ch)}"></i>${esc(ch)} <span class="muted">${fmt(channels[ch])}</span></li>`).join("");
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
    return `<tr><td>${esc(name[p.touchpoint] || p.touchpoint)}</td><td>${esc(p.stage)}</td><td class="n" data-v="${p.reach}">${fmt(p.reach)}</td><td class="n" data-v="${p.customers_lost}">${fmt(p.customers_lost, 1)}</td><td>${esc(why)}</td><td class="n" data-v="${q}">${q < 0.001 ? "&lt; " + fmt(0.001, 3) : fmt(q, 3)}</td></tr>`;
  }).join("");

  main.innerHTML = `<h1>${esc(t("overview"))}</h1>
  <div class="grid">
    <section class="panel" aria-labelledby="k1"><h2 id="k1">${esc(t("events"))}</h2><p class="kpi" id="total-events" data-v="${total}">${fmt(total)}</p>${deltaText}
      <p class="muted">${esc(t("touchpointEvents"))}: <span id="touchpoint-events">${fmt(touch)}</span> · ${now.from} – ${now.to}</p></section>
    <section class="panel" aria-labelledby="k2"><h2 id="k2">${esc(t("customers"))}</h2><p class="kpi">${fmt(map.groups?.[0]?.customers ?? 0)}</p>
      <p class="muted">${esc(t("customersNote"))} · ${now.from} – ${now.to}</p></section>
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
      <div class="meter" aria-hidden="true"><span data-w="${((100 * x.reach) / maxReach).toFixed(1)}"></span></div>
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

// ---- Funnel builder ---------------------------------------------------------------------
const WINDOWS = [[3600, "1 h"], [86400, "1 d"], [7 * 86400, "7 d"], [14 * 86400, "14 d"], [30 * 86400, "30 d"]];
function hashParam(k) { return new URLSearchParams(location.hash.slice(1)).get(k); }
function setParams(change) {
  const p = new URLSearchParams(location.hash.slice(1));
  for (const [k, v] of Object.entries(change)) v == null || v === "" ? p.delete(k) : p.set(k, v);
  location.hash = p;
}
async function funnel(main) {
  const now = period(state.range);
  const tps = await api(`/api/touchpoints?lang=${state.lang}`);
  const name = Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const keys = tps.map((x) => x.key);
  const preferred = ["product-page", "cart", "checkout", "order-completed"].filter((k) => keys.includes(k));
  let steps = (hashParam("steps") || "").split(",").filter((k) => keys.includes(k));
  if (!steps.length) steps = preferred.length >= 2 ? preferred : keys.slice(0, 3);
  const win = Number(hashParam("window")) || 7 * 86400;
  const strict = hashParam("strict") === "1";
  const by = ["first_touch_channel", "first_touch_stage"].includes(hashParam("by")) ? hashParam("by") : "";
  const dropped = Number(hashParam("dropped")) || null;
  const stepOptions = (value) => tps.map((x) => `<option value="${esc(x.key)}"${x.key === value ? " selected" : ""}>${esc(name[x.key])}</option>`).join("");
  const controls = `<form class="controls" id="funnel-form">
    ${steps.map((k, i) => `<div class="field"><label for="step-${i}">${esc(t("step", i + 1))}</label><select id="step-${i}" data-step="${i}">${stepOptions(k)}</select></div>`).join("")}
    <div class="field"><button class="quiet" type="button" id="add-step"${steps.length >= 8 ? " disabled" : ""}>${esc(t("addStep"))}</button></div>
    ${steps.length > 2 ? `<div class="field"><button class="quiet" type="button" id="remove-step">${esc(t("removeStep"))}</button></div>` : ""}
    <div class="field"><label for="window">${esc(t("window"))}</label><select id="window">${WINDOWS.map(([v, l]) => `<option value="${v}"${v === win ? " selected" : ""}>${l}</option>`).join("")}</select></div>
    <div class="field check"><input type="checkbox" id="strict"${strict ? " checked" : ""}><label for="strict">${esc(t("strict"))}</label></div>
    <div class="field"><label for="by">${esc(t("breakdown"))}</label><select id="by"><option value="">${esc(t("noBreakdown"))}</option>
      <option value="first_touch_channel"${by === "first_touch_channel" ? " selected" : ""}>${esc(t("firstChannel"))}</option>
      <option value="first_touch_stage"${by === "first_touch_stage" ? " selected" : ""}>${esc(t("firstStage"))}</option></select></div>
  </form>`;
  const query = { steps, window_s: win, mode: strict ? "strict" : "default" };
  if (dropped && dropped < steps.length) query.dropped_step = dropped;
  const res = await api("/api/analytics/funnel", { filter: { from: now.fromS, to: now.toS }, ...(by ? { breakdown: { by } } : {}), max_groups: 6, query });
  const dur = (s) => (s == null ? "–" : s < 3600 ? fmt(s / 60, 0) + " min" : s < 86400 ? fmt(s / 3600, 1) + " h" : fmt(s / 86400, 1) + " d");
  const groups = res.groups || [];
  const body = groups.map((g, gi) => {
    const st = g.report.steps;
    const first = st[0]?.customers || 0;
    const bars = st.map((x) => `<li><div class="tp">${esc(name[x.key] || x.key)}</div><div class="meter big" aria-hidden="true"><span data-w="${first ? ((100 * x.customers) / first).toFixed(1) : 0}"></span></div>
      <div class="muted">${fmt(x.customers)} · ${pct(x.from_first)}${x.step > 1 ? ` · ${esc(t("fromPrevious"))} ${pct(x.from_previous)} · ${esc(t("median"))} ${dur(x.median_s)}` : ""}</div></li>`).join("");
    const rows = st.map((x) => `<tr><td>${x.step}</td><td>${esc(name[x.key] || x.key)}</td><td class="n" data-v="${x.customers}">${fmt(x.customers)}</td>
      <td class="n" data-v="${x.from_previous}">${pct(x.from_previous)}</td><td class="n" data-v="${x.from_first}">${pct(x.from_first)}</td><td class="n" data-v="${x.median_s ?? ""}">${dur(x.median_s)}</td><td class="n" data-v="${x.p90_s ?? ""}">${dur(x.p90_s)}</td>
      <td>${gi === 0 && !by && x.step < st.length ? `<a href="#" data-dropped="${x.step}">${esc(t("whoDropped"))}</a>` : ""}</td></tr>`).join("");
    return `<section class="panel" aria-labelledby="fg-${gi}"><h2 id="fg-${gi}">${esc(g.group === "all" ? t("allCustomers") : g.group)} <span class="muted">${fmt(g.customers)}</span></h2>
      <ol class="funnel">${bars}</ol>
      <details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table class="funnel-table"><thead><tr><th>#</th><th>${esc(t("touchpoint"))}</th><th class="n">${esc(t("customers"))}</th><th class="n">${esc(t("fromPrevious"))}</th><th class="n">${esc(t("fromFirst"))}</th><th class="n">${esc(t("median"))}</th><th class="n">p90</th><th></th></tr></thead><tbody>${rows}</tbody></table></div></details>
      ${g.report.dropped ? `<h3>${esc(t("droppedAfter", g.report.dropped.step, fmt(g.report.dropped.total)))}</h3><p class="ids" id="dropped-ids">${g.report.dropped.customers.map((c) => `<a href="#project=${esc(state.project)}&view=customers&customer=${esc(c)}&lang=${state.lang}">#${esc(c)}</a>`).join(" ") || esc(t("none"))}</p>` : ""}
    </section>`;
  }).join("");
  main.innerHTML = `<h1>${esc(t("funnel"))}</h1><p class="muted">${now.from} – ${now.to}</p>${controls}${body}
    <div class="tools"><button class="quiet" id="csv-funnel" type="button">${esc(t("csv"))}</button></div>`;
  const read = () => [...main.querySelectorAll("[data-step]")].map((el) => el.value);
  main.querySelectorAll("[data-step]").forEach((el) => el.addEventListener("change", () => setParams({ steps: read().join(","), dropped: null })));
  main.querySelector("#add-step").addEventListener("click", () => setParams({ steps: [...read(), keys.find((k) => !read().includes(k)) || keys[0]].join(",") }));
  main.querySelector("#remove-step")?.addEventListener("click", () => setParams({ steps: read().slice(0, -1).join(","), dropped: null }));
  main.querySelector("#window").addEventListener("change", (e) => setParams({ window: e.target.value }));
  main.querySelector("#strict").addEventListener("change", (e) => setParams({ strict: e.target.checked ? "1" : null }));
  main.querySelector("#by").addEventListener("change", (e) => setParams({ by: e.target.value, dropped: null }));
  main.querySelectorAll("[data-dropped]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); setParams({ steps: steps.join(","), dropped: a.dataset.dropped }); }));
  main.querySelector("#csv-funnel").addEventListener("click", () => download(`funnel-${now.from}-${now.to}.csv`, [...main.querySelectorAll(".funnel-table")].map(tableCsv).join("\n")));
}

// ---- Customers --------------------------------------------------------------------------
const role = () => boot.projects.find((p) => String(p.id) === state.project)?.role;
async function customers(main) {
  const id = hashParam("customer");
  const search = `<form class="controls" id="find" role="search"><div class="field"><label for="q">${esc(t("findCustomer"))}</label>
    <input type="text" id="q" name="q" value="${esc(hashParam("q") || "")}" placeholder="${esc(t("findHint"))}"></div>
    <div class="field"><button type="submit">${esc(t("find"))}</button></div></form>`;
  const bind = () => main.querySelector("#find").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = main.querySelector("#q").value.trim();
    if (!q) return setParams({ customer: null, q: null });
    for (const path of [`/api/customers/lookup?user_id=${encodeURIComponent(q)}`, `/api/customers/lookup?anonymous_id=${encodeURIComponent(q)}`, /^#?\d+$/.test(q) ? `/api/customers/${q.replace("#", "")}` : null]) {
      if (!path) continue;
      try { const c = await api(path); return setParams({ customer: c.id, q }); } catch (_) { /* next way */ }
    }
    const out = main.querySelector("#found"); out.innerHTML = `<p class="notice" role="alert">${esc(t("notFound", q))}</p>`;
  });
  if (!id) {
    const list = await api("/api/customers?limit=50");
    const label = (c) => c.traits?.name || c.traits?.email || c.user_id || `#${c.id}`;
    main.innerHTML = `<h1>${esc(t("customersView"))}</h1>${search}<div id="found"></div>
      <section class="panel"><div class="scroll"><table><thead><tr><th>#</th><th>${esc(t("name"))}</th><th>${esc(t("userId"))}</th><th>${esc(t("since"))}</th></tr></thead><tbody>
      ${list.items.map((c) => `<tr><td><a href="#" data-customer="${c.id}">${c.id}</a></td><td>${esc(label(c))}</td><td>${esc(c.user_id || "–")}</td><td>${esc(c.created_at.slice(0, 10))}</td></tr>`).join("")}
      </tbody></table></div></section>`;
    bind();
    main.querySelectorAll("[data-customer]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); setParams({ customer: a.dataset.customer }); }));
    return;
  }
  const [c, tl] = await Promise.all([api(`/api/customers/${encodeURIComponent(id)}`), api(`/api/customers/${encodeURIComponent(id)}/timeline?limit=100&lang=${state.lang}`)]);
  const traits = Object.entries(c.traits || {}).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === "object" ? JSON.stringify(v) : v)}</td></tr>`).join("");
  const ids = (c.identities || []).map((x) => `<li>${esc(x.kind)}: <code>${esc(x.value)}</code></li>`).join("");
  const when = (ts) => new Date(ts).toLocaleString(state.lang, { dateStyle: "medium", timeStyle: "short" });
  const events = tl.items.map((e) => `<li><time datetime="${esc(e.timestamp)}">${esc(when(e.timestamp))}</time> <strong>${esc(e.touchpoint_name || e.name || e.type)}</strong>
    <span class="muted">${esc([e.channel, e.stage].filter(Boolean).join(" · "))}</span></li>`).join("");
  const owner = role() === "owner";
  main.innerHTML = `<h1>${esc(t("customer"))} #${esc(c.id)}</h1>${search}<div id="found"></div>
    <div class="grid">
      <section class="panel" aria-labelledby="cu1"><h2 id="cu1">${esc(t("profile"))}</h2><p>${esc(t("userId"))}: <strong>${esc(c.user_id || "–")}</strong></p>
        ${traits ? `<div class="scroll"><table>${traits}</table></div>` : ""}
        ${owner ? `<div class="tools"><button class="quiet" type="button" id="export">${esc(t("export"))}</button><button class="quiet danger" type="button" id="erase">${esc(t("erase"))}</button></div>` : ""}
        <div id="done" role="status"></div></section>
      <section class="panel" aria-labelledby="cu2"><h2 id="cu2">${esc(t("identities"))}</h2><ul>${ids}</ul>
        ${(c.conflicts || []).length ? `<p class="notice">${esc(t("conflicts", c.conflicts.length))}</p>` : ""}</section>
    </div>
    <section class="panel" aria-labelledby="cu3"><h2 id="cu3">${esc(t("timeline"))}</h2>${events ? `<ol class="timeline">${events}</ol>` : `<p>${esc(t("noEvents"))}</p>`}</section>`;
  bind();
  main.querySelector("#export")?.addEventListener("click", async () => {
    const doc = await api(`/api/customers/${c.id}/export`);
    download(`customer-${c.id}.json`, JSON.stringify(doc, null, 2), "application/json");
  });
  main.querySelector("#erase")?.addEventListener("click", async () => {
    if (!confirm(t("eraseConfirm", c.id))) return;
    const r = await fetch(`/api/customers/${c.id}`, { method: "DELETE", headers: { "X-Touchpoint-Project": state.project, "X-CSRF-Token": boot.csrf } });
    main.querySelector("#done").textContent = r.ok ? t("erased") : (await r.json().catch(() => ({}))).error?.message || r.statusText;
  });
}

// ---- Churn ------------------------------------------------------------------------------
async function churn(main) {
  const now = period(state.range);
  const [res, tps] = await Promise.all([
    api("/api/analytics/churn", { filter: { from: now.fromS, to: now.toS }, query: {} }),
    api(`/api/touchpoints?lang=${state.lang}`),
  ]);
  const name = Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const r = res.groups?.[0]?.report || { drivers: [], signals: [] };
  const drivers = (r.drivers || []).filter((d) => d.driver).slice(0, 12);
  const maxLift = Math.max(1, ...drivers.map((d) => d.lift || 0));
  const rows = drivers.map((d) => `<tr><td>${esc(name[d.touchpoint] || d.touchpoint)}</td>
    <td class="n" data-v="${d.churned_share}">${pct(d.churned_share)}</td><td class="n" data-v="${d.stayed_share}">${pct(d.stayed_share)}</td>
    <td class="n" data-v="${d.lift ?? ""}">${d.lift == null ? "–" : fmt(d.lift, 1) + "×"}<div class="meter" aria-hidden="true"><span data-w="${((100 * (d.lift || 0)) / maxLift).toFixed(1)}"></span></div></td>
    <td class="n" data-v="${d.q}">${d.q < 0.001 ? "&lt; " + fmt(0.001, 3) : fmt(d.q, 3)}</td></tr>`).join("");
  const signals = (r.signals || []).map((x) => `<tr><td>${esc(name[x.touchpoint] || x.touchpoint)}</td><td class="n">${fmt(x.customers)}</td></tr>`).join("");
  main.innerHTML = `<h1>${esc(t("churnView"))}</h1><p class="muted">${now.from} – ${now.to}</p>
  <div class="grid">
    <section class="panel" aria-labelledby="ch1"><h2 id="ch1">${esc(t("churned"))}</h2><p class="kpi" data-v="${r.churned}">${fmt(r.churned)}</p>
      <p class="muted">${pct(r.churn_rate)} ${esc(t("ofCustomers", fmt(r.customers)))}</p></section>
    <section class="panel" aria-labelledby="ch2"><h2 id="ch2">${esc(t("how"))}</h2>
      <p>${esc(t("bySignal"))}: <strong>${fmt(r.by_signal)}</strong><br>${esc(t("bySilence"))}: <strong>${fmt(r.by_silence)}</strong></p></section>
  </div>
  <section class="panel" aria-labelledby="ch3"><h2 id="ch3">${esc(t("drivers"))}</h2><p class="muted">${esc(t("driversHelp"))}</p>
    ${drivers.length ? `<div class="scroll"><table id="drivers-table"><thead><tr><th>${esc(t("touchpoint"))}</th><th class="n">${esc(t("amongChurned"))}</th><th class="n">${esc(t("amongStayed"))}</th><th class="n">${esc(t("lift"))}</th><th class="n">${esc(t("significance"))}</th></tr></thead><tbody>${rows}</tbody></table></div>
    <div class="tools"><button class="quiet" id="csv-drivers" type="button">${esc(t("csv"))}</button></div>` : `<p>${esc(t("noDrivers"))}</p>`}
  </section>
  ${signals ? `<section class="panel" aria-labelledby="ch4"><h2 id="ch4">${esc(t("signals"))}</h2><div class="scroll"><table><thead><tr><th>${esc(t("touchpoint"))}</th><th class="n">${esc(t("customers"))}</th></tr></thead><tbody>${signals}</tbody></table></div></section>` : ""}`;
  main.querySelector("#csv-drivers")?.addEventListener("click", () => download(`churn-drivers-${now.from}-${now.to}.csv`, tableCsv(main.querySelector("#drivers-table"))));
}

// ---- Listening --------------------------------------------------------------------------
async function listening(main) {
  const [surveys, tps] = await Promise.all([api("/api/surveys"), api(`/api/touchpoints?lang=${state.lang}`)]);
  const name = Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const usable = surveys.filter((x) => x.status !== "draft");
  const h = new URLSearchParams(location.hash.slice(1));
  const survey = usable.find((x) => x.key === h.get("survey"))?.key || usable[0]?.key;
  const metric = ["nps", "csat", "ces"].includes(h.get("metric")) ? h.get("metric") : survey && /csat/.test(survey) ? "csat" : "nps";
  const pick = (id, label, options, value) => `<div class="field"><label for="${id}">${esc(label)}</label><select id="${id}">${options.map(([v, l]) => `<option value="${esc(v)}"${v === value ? " selected" : ""}>${esc(l)}</option>`).join("")}</select></div>`;
  const controls = `<div class="controls">${pick("survey", t("survey"), usable.map((x) => [x.key, x.definition?.title?.[state.lang] || x.key]), survey)}${pick("metric", t("metric"), [["nps", "NPS"], ["csat", "CSAT"], ["ces", "CES"]], metric)}</div>`;
  if (!survey) { main.innerHTML = `<h1>${esc(t("listening"))}</h1><p class="panel">${esc(t("noSurveys"))}</p>`; return; }
  let res, failure = null;
  try { res = await api(`/api/listening/${metric}`, { survey, by: "touchpoint" }); } catch (e) { failure = e.message; }
  const r = res?.result;
  const score = (x) => (metric === "nps" ? fmt(x, 0) : fmt(x, 2));
  const segs = (r?.segments || []).filter((x) => x.result?.score != null);
  // Each segment's score with its 95 % interval, on one axis.
  const all = [r?.result, ...segs.map((x) => x.result)].filter((x) => x?.interval);
  const lo = Math.min(...all.map((x) => x.interval.low)), hi = Math.max(...all.map((x) => x.interval.high));
  const W = chartWidth(), row = 30, left = Math.round(Math.min(260, W * 0.42)), H = row * (segs.length + 1) + 30;
  const X = (v) => left + ((W - left - 20) * (v - lo)) / Math.max(hi - lo, 1e-9);
  const fit = Math.floor((left - 24) / 7.5);
  const short = (label, room = fit) => (label.length > room ? label.slice(0, room - 1) + "…" : label);
  const line = (y, x, label, strong, flag) => `<text x="${left - 8}" y="${y + 5}" text-anchor="end" font-size="14" fill="#1a1a1a"${strong ? ' font-weight="700"' : ""}>${esc(short(label, flag ? fit - 2 : fit))}${flag ? " ●" : ""}</text>
    <line x1="${X(x.interval.low).toFixed(1)}" x2="${X(x.interval.high).toFixed(1)}" y1="${y}" y2="${y}" stroke="${flag ? "#a4001d" : "#0b5cad"}" stroke-width="4" stroke-linecap="round"/>
    <circle cx="${X(x.score).toFixed(1)}" cy="${y}" r="6" fill="${flag ? "#a4001d" : "#0b5cad"}"><title>${esc(label)}: ${score(x.score)} (${score(x.interval.low)} – ${score(x.interval.high)}, n = ${x.n})</title></circle>`;
  const chart = r ? `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("intervalsLabel", metric.toUpperCase()))}" xmlns="http://www.w3.org/2000/svg">
    <line x1="${X(r.result.score).toFixed(1)}" x2="${X(r.result.score).toFixed(1)}" y1="0" y2="${H - 24}" stroke="#8a8a8a" stroke-dasharray="4 4"/>
    ${line(20, r.result, t("everyone"), true, false)}
    ${segs.map((x, i) => line(20 + row * (i + 1), x.result, name[x.segment] || x.segment, false, x.vs_rest?.significant && x.result.score < r.result.score)).join("")}
    <text x="${left}" y="${H - 4}" font-size="12" fill="#4d4d4d">${score(lo)}</text><text x="${W - 20}" y="${H - 4}" text-anchor="end" font-size="12" fill="#4d4d4d">${score(hi)}</text></svg>` : "";
  const rows = segs.map((x) => `<tr><td>${esc(name[x.segment] || x.segment)}</td><td class="n" data-v="${x.result.score}">${score(x.result.score)}</td>
    <td class="n">${score(x.result.interval.low)} – ${score(x.result.interval.high)}</td><td class="n">${fmt(x.result.n)}</td>
    <td>${x.vs_rest?.significant ? esc(x.result.score < r.result.score ? t("worse") : t("better")) : ""}</td></tr>`).join("");
  main.innerHTML = `<h1>${esc(t("listening"))}</h1>${controls}
  ${failure ? `<p class="notice" role="alert">${esc(failure)}</p>` : `
  <div class="grid">
    <section class="panel" aria-labelledby="l1"><h2 id="l1">${metric.toUpperCase()}</h2><p class="kpi" id="score">${score(r.result.score)}</p>
      <p class="muted">95 %: ${score(r.result.interval.low)} – ${score(r.result.interval.high)} · n = ${fmt(r.result.n)}</p></section>
  </div>
  <section class="panel chart" aria-labelledby="l2"><h2 id="l2">${esc(t("byTouchpoint"))}</h2><p class="muted">${esc(t("intervalsHelp"))}</p>${chart}
    <details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table id="segments-table"><thead><tr><th>${esc(t("touchpoint"))}</th><th class="n">${metric.toUpperCase()}</th><th class="n">95 %</th><th class="n">n</th><th>${esc(t("vsRest"))}</th></tr></thead><tbody>${rows}</tbody></table></div></details>
    <div class="tools"><button class="quiet" id="csv-segments" type="button">${esc(t("csv"))}</button></div></section>`}`;
  main.querySelector("#survey").addEventListener("change", (e) => { const p = new URLSearchParams(location.hash.slice(1)); p.set("survey", e.target.value); p.delete("metric"); location.hash = p; });
  main.querySelector("#metric").addEventListener("change", (e) => { const p = new URLSearchParams(location.hash.slice(1)); p.set("metric", e.target.value); location.hash = p; });
  main.querySelector("#csv-segments")?.addEventListener("click", () => download(`${metric}-${survey}.csv`, tableCsv(main.querySelector("#segments-table"))));
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
    await ({ overview, journey, funnel, churn, listening, customers }[state.view] || overview)(el);
    if (mine !== generation) return;
    // Widths and colours set through the DOM: the Content-Security-Policy forbids inline
    // style attributes.
    el.querySelectorAll("[data-w]").forEach((x) => { x.style.width = `${x.dataset.w}%`; });
    el.querySelectorAll("[data-bg]").forEach((x) => { x.style.background = x.dataset.bg; });
    main.replaceChildren(...el.childNodes);
  } catch (e) {
    if (mine === generation) main.innerHTML = `<p class="notice" role="alert">${esc(t("error"))}: ${esc(e.message)}</p>`;
  } finally {
    if (mine === generation) main.removeAttribute("aria-busy");
  }
}
// Charts are drawn for a width: drawn again when the window's width changes much.
let drawnFor = chartWidth(), resizing = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => { if (Math.abs(chartWidth() - drawnFor) > 40) { drawnFor = chartWidth(); render(); } }, 250);
});
render();
