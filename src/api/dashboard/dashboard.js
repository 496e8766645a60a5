// The live dashboard: polls GET /dashboard/data and renders each section.
// Served as is (no build step); the chart is uPlot, served by the API from
// node_modules. Data is written with textContent only, never as HTML.
import uPlot from "/dashboard/vendor/uPlot.esm.js";

const dataUrl = "/dashboard/data";
/** Used until the server says how often to poll, milliseconds. */
const pollMsDefault = 2000;
/** Longest wait for one answer before it counts as failed, milliseconds. */
const fetchTimeoutMs = 10000;
/** sessionStorage only: a key must not outlive the tab. */
const keyStorageName = "txlog.apiKey";

const $ = (id) => document.getElementById(id);
let chart;
let updates = 0;

/** A decimal string with thousands separators, digits untouched (no float). */
function money(text) {
  const [whole, fraction] = String(text).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? `${grouped}.00` : `${grouped}.${fraction.padEnd(2, "0")}`;
}

/** An integer (number or decimal string) with thousands separators. */
function count(value) {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour12: false });
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Replaces a table's body with one row per item, or one row saying it is empty. */
function fillTable(id, items, toCells, emptyText) {
  const body = $(id).tBodies[0];
  const rows = items.map((item) => {
    const tr = document.createElement("tr");
    tr.append(...toCells(item));
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(emptyText, "empty");
    td.colSpan = $(id).tHead.rows[0].cells.length;
    tr.append(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

/** Shows a section's error ("lag unavailable: …") instead of failing the page. */
function sectionError(name, what, section) {
  const box = $(`${name}-error`);
  box.hidden = section.ok;
  box.textContent = section.ok ? "" : `${what} unavailable: ${section.error}`;
  return section.ok;
}

function renderSummary(summary) {
  const ok = sectionError("summary", "summary", summary);
  $("total-count").textContent = ok ? count(summary.count) : "–";
  $("total-amount").textContent = ok ? money(summary.totalAmount) : "–";
  $("total-fraud").textContent = ok ? count(summary.fraudCount) : "–";
  $("total-flagged").textContent = ok ? count(summary.flaggedFraudCount) : "–";
  if (ok) $("summary-note").textContent = `rows in PostgreSQL as of ${clock(summary.asOf)}; exact sums`;
  const byType = ok ? summary.byType : [];
  fillTable(
    "by-type",
    byType,
    (t) => [
      cell(t.type),
      cell(count(t.count), "num"),
      cell(money(t.totalAmount), "num"),
      cell(count(t.fraudCount), "num"),
      cell(count(t.flaggedFraudCount), "num"),
    ],
    ok ? "nothing stored yet" : "–",
  );
}

function renderLag(lag) {
  const ok = sectionError("lag", "lag", lag);
  $("total-lag").textContent = ok ? count(lag.total) : "–";
  if (ok) $("lag-note").textContent = `topic ${lag.topic}, group ${lag.groupId}: messages not yet committed`;
  fillTable(
    "lag",
    ok ? lag.partitions : [],
    (p) => [
      cell(String(p.partition)),
      cell(count(p.endOffset), "num"),
      cell(p.committedOffset === null ? "none yet" : count(p.committedOffset), "num"),
      cell(count(p.lag), p.lag > 0 ? "num behind" : "num"),
    ],
    ok ? "no partitions" : "–",
  );
}

function renderLatest(latest) {
  const ok = sectionError("latest", "latest transactions", latest);
  fillTable(
    "latest",
    ok ? latest.transactions : [],
    (t) => [
      cell(clock(t.acceptedAt)),
      cell(t.type),
      cell(money(t.amount), "num"),
      cell(t.nameOrig, "name"),
      cell(t.nameDest, "name"),
      cell(t.isFraud ? "fraud" : t.isFlaggedFraud ? "flagged" : "", t.isFraud ? "bad" : ""),
      cell(count(Math.max(0, Date.parse(t.committedAt) - Date.parse(t.acceptedAt))), "num"),
    ],
    ok ? "nothing stored yet" : "–",
  );
}

function renderRejections(rejections) {
  const ok = sectionError("rejections", "rejections", rejections);
  fillTable(
    "rejections",
    ok ? rejections.rejections : [],
    (r) => {
      const message = cell(r.message, "message");
      message.title = `${r.transactionId}: ${r.message}`;
      return [cell(clock(r.rejectedAt)), cell(r.reason, "reason"), message];
    },
    ok ? "none" : "–",
  );
}

function chartSize() {
  const box = $("chart");
  return { width: Math.max(300, box.clientWidth), height: 190 };
}

function renderRates(rates) {
  $("chart-minutes").textContent = String(Math.round(rates.ingest.length / 60));
  const seconds = rates.ingest.map((_, i) => rates.firstSecond + i);
  const data = [seconds, rates.ingest, rates.commit];
  if (chart !== undefined) return chart.setData(data);
  chart = new uPlot(
    {
      ...chartSize(),
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { label: "transactions / s", size: 60 }],
      series: [
        { label: "time" },
        { label: "ingest / s", stroke: "#2563eb", width: 2, fill: "rgba(37, 99, 235, 0.08)" },
        { label: "commit / s", stroke: "#16a34a", width: 2 },
      ],
    },
    data,
    $("chart"),
  );
}

function render(data) {
  renderRates(data.rates);
  renderLag(data.lag);
  renderSummary(data.summary);
  renderLatest(data.latest);
  renderRejections(data.rejections);
  updates += 1;
  document.body.dataset.updates = String(updates);
  $("status").textContent = `live · updated ${clock(data.generatedAt)} · every ${data.pollMs / 1000} s`;
  $("status").className = "status ok";
}

function showKeyForm(message) {
  $("key-form").hidden = false;
  $("key-error").textContent = message;
  $("status").textContent = "waiting for an API key";
  $("status").className = "status warn";
}

async function poll() {
  const key = sessionStorage.getItem(keyStorageName);
  const headers = key ? { authorization: `Bearer ${key}` } : {};
  try {
    const response = await fetch(dataUrl, { headers, signal: AbortSignal.timeout(fetchTimeoutMs) });
    if (response.status === 401 || response.status === 403) {
      const body = await response.json().catch(() => ({}));
      showKeyForm(body.message ?? `the API answered ${response.status}`);
      return pollMsDefault;
    }
    if (!response.ok) throw new Error(`the API answered ${response.status}`);
    const data = await response.json();
    $("key-form").hidden = true;
    render(data);
    return data.pollMs ?? pollMsDefault;
  } catch (error) {
    $("status").textContent = `API unreachable: ${error.message}; retrying`;
    $("status").className = "status bad";
    return pollMsDefault;
  }
}

async function loop() {
  const waitMs = await poll();
  setTimeout(loop, waitMs);
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(keyStorageName, $("key-input").value.trim());
  $("key-input").value = "";
  void poll();
});
window.addEventListener("resize", () => chart?.setSize(chartSize()));
void loop();
