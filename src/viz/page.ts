/**
 * The live view served at GET /viz: the machine's SVG (rendered from the same walk as
 * the docs) with live counts per state from GET /viz/events, and an order lookup that
 * highlights the states in the order's history. Self-contained: inline CSS and JS, no
 * asset from anywhere else, so it works offline.
 */
import { inlineSvg, renderSvg, toDot } from './dot.ts';
import { machineGraph, type MachineGraph } from './graph.ts';

let svg: Promise<string> | undefined;

/** The diagram as a standalone SVG document, rendered once per process on first use. */
export function diagramSvg(): Promise<string> {
  svg ??= renderSvg(toDot(machineGraph()));
  svg.catch(() => (svg = undefined)); // a failed render is retried by the next request
  return svg;
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2433;background:#fafbfd}
header{padding:10px 20px;border-bottom:1px solid #e3e7ef;display:flex;gap:18px;align-items:baseline}
h1{font-size:18px;margin:0}#status{color:#8a94a8}#status.live{color:#1f8a4c}
main{display:grid;grid-template-columns:minmax(0,1fr) 330px;gap:20px;padding:14px 20px}
#diagram svg{width:100%;height:auto;max-height:86vh}
aside section{background:#fff;border:1px solid #e3e7ef;border-radius:8px;padding:10px 14px;margin-bottom:14px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:#52607a;margin:0 0 6px}
table{border-collapse:collapse;width:100%}td{padding:2px 0}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.final td{font-weight:600}form{display:flex;gap:6px}input{flex:1;font:inherit;padding:4px 6px}
ol{padding-left:22px;margin:8px 0 0}li span{color:#52607a;font-variant-numeric:tabular-nums}#order-msg{color:#52607a}
text.count{font:600 11px system-ui,sans-serif;fill:#52607a}
g.state.busy path{fill:#fff4cc}
g.state.visited path{fill:#d8e6ff;stroke:#2f6fdb;stroke-width:2}
g.state.current path{fill:#2f6fdb}g.state.current text{fill:#fff}
g.edge.visited path{stroke:#2f6fdb;stroke-width:2.5}g.edge.visited polygon{fill:#2f6fdb;stroke:#2f6fdb}
g.edge.visited text{fill:#2f6fdb;font-weight:600}`;

const SCRIPT = `
const graph = JSON.parse(document.getElementById('graph').textContent);
const finals = new Set(graph.finals);
const $ = (id) => document.getElementById(id);
const node = (s) => $('state-' + s);
const NS = 'http://www.w3.org/2000/svg';
function countText(s) {
  const g = node(s);
  if (!g) return null;
  let t = g.querySelector('text.count');
  if (!t) {
    const name = g.querySelector('text');
    const y = Number(name.getAttribute('y'));
    name.setAttribute('y', String(y - 7));
    t = document.createElementNS(NS, 'text');
    t.setAttribute('class', 'count');
    t.setAttribute('x', name.getAttribute('x'));
    t.setAttribute('y', String(y + 10));
    t.setAttribute('text-anchor', 'middle');
    g.appendChild(t);
  }
  return t;
}
function showCounts(counts) {
  let live = 0;
  for (const s of graph.states) {
    const n = counts[s] ?? 0;
    const t = countText(s);
    if (t) t.textContent = finals.has(s) ? n + ' total' : n + ' live';
    node(s)?.classList.toggle('busy', !finals.has(s) && n > 0);
    document.querySelector('[data-count="' + s + '"]').textContent = String(n);
    if (!finals.has(s)) live += n;
  }
  $('live').textContent = String(live);
}
let tracked = null, fetching = false;
function clearPath() {
  document.querySelectorAll('#diagram .visited, #diagram .current').forEach((e) => e.classList.remove('visited', 'current'));
  $('timeline').replaceChildren();
}
// The history has states, not events: where two arrows join the same states, the
// failure reason tells a TIMEOUT from a refusal.
function arrows(from, to, reason) {
  const all = [...document.querySelectorAll('g.edge[id^="t:' + from + ':"][id$=":' + to + '"]')];
  const fit = reason ? all.filter((e) => (e.id.split(':')[2] === 'TIMEOUT') === (reason.code === 'TIMEOUT')) : [];
  return fit.length > 0 ? fit : all;
}
function showPath(order) {
  clearPath();
  const t0 = Date.parse(order.history[0]?.at ?? '');
  order.history.forEach((h, i) => {
    node(h.status)?.classList.add('visited');
    const prev = order.history[i - 1];
    if (prev) arrows(prev.status, h.status, order.reason).forEach((e) => e.classList.add('visited'));
    const li = document.createElement('li');
    const when = document.createElement('span');
    when.textContent = ' ' + h.at.slice(11, 23) + (i > 0 ? '  +' + (Date.parse(h.at) - t0) + ' ms' : '');
    li.append(h.status, when);
    $('timeline').append(li);
  });
  node(order.status)?.classList.add('current');
  const extra = order.reason ? ' (' + order.reason.code + ')' : order.totalPrice !== undefined ? ' (total ' + order.totalPrice + ')' : '';
  $('order-msg').textContent = order.orderId + ': ' + order.status + extra;
}
async function track(id) {
  if (!id || fetching) return;
  fetching = true;
  try {
    const res = await fetch('/orders/' + encodeURIComponent(id));
    if (res.status !== 200) {
      tracked = null;
      clearPath();
      $('order-msg').textContent = res.status === 404 ? 'no order ' + id : 'lookup failed: HTTP ' + res.status;
      return;
    }
    const order = await res.json();
    tracked = finals.has(order.status) ? null : id; // follow it until it ends
    showPath(order);
  } catch (err) {
    $('order-msg').textContent = 'lookup failed: ' + err.message;
  } finally {
    fetching = false;
  }
}
$('lookup').addEventListener('submit', (e) => { e.preventDefault(); track($('order-id').value.trim()); });
const events = new EventSource('/viz/events');
events.onopen = () => { $('status').textContent = 'live'; $('status').className = 'live'; };
events.onerror = () => { $('status').textContent = 'reconnecting…'; $('status').className = ''; };
events.addEventListener('unavailable', () => { $('status').textContent = 'store unreachable'; $('status').className = ''; });
events.onmessage = (e) => {
  const msg = JSON.parse(e.data);
  showCounts(msg.counts);
  $('updated').textContent = msg.at.slice(11, 19);
  if (tracked) track(tracked);
};
const preset = new URLSearchParams(location.search).get('order');
if (preset) { $('order-id').value = preset; track(preset); }`;

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderPage(svgDocument: string, graph: MachineGraph = machineGraph()): string {
  const finals = new Set(graph.finals);
  const rows = graph.states
    .map(
      (s) =>
        `<tr${finals.has(s) ? ' class="final"' : ''}><td>${esc(s)}${finals.has(s) ? ' (total)' : ''}</td><td class="n" data-count="${esc(s)}">–</td></tr>`,
    )
    .join('');
  const data = JSON.stringify({ states: graph.states, finals: graph.finals }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order machine: live</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body><header><h1>Order machine</h1><span id="status">connecting…</span>
<span>live orders: <b id="live">–</b></span><span>updated <span id="updated">–</span></span></header>
<main><div id="diagram">${inlineSvg(svgDocument)}</div>
<aside><section><h2>Orders per state</h2><table id="counts">${rows}</table></section>
<section><h2>Follow an order</h2><form id="lookup"><input id="order-id" placeholder="orderId" autocomplete="off" spellcheck="false"><button>Show</button></form>
<p id="order-msg"></p><ol id="timeline"></ol></section></aside></main>
<script type="application/json" id="graph">${data}</script><script>${SCRIPT}</script></body></html>
`;
}
