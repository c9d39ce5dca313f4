// The web page's text (see web_page.hpp).
#include "http/web_page.hpp"

namespace p2p {

const char* const web_page_html = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>p2p-daemon</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.4em; margin: 0 0 .2em 0; }
h2 { font-size: 1.1em; margin: 1.4em 0 .4em 0; }
#conn { font-size: .9em; color: #555; }
#conn.bad { color: #b00020; font-weight: bold; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #e4e4e4;
         font-size: .92em; vertical-align: top; }
th { background: #f0f0f0; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { word-break: break-all; }
tr.peer td { color: #555; font-size: .85em; }
tr.peer td.first { padding-left: 2em; }
progress { width: 12em; vertical-align: middle; }
.empty { color: #777; font-style: italic; }
.state-complete { color: #1b5e20; } .state-failed { color: #b00020; }
</style>
</head>
<body>
<h1>p2p-daemon</h1>
<div id="conn">connecting&#8230;</div>
<h2>Downloads</h2>
<table><thead><tr><th>Name</th><th>State</th><th>Progress</th><th>Rate</th><th>ETA</th>
<th>Peers</th></tr></thead><tbody id="downloads"></tbody></table>
<h2>Shared files</h2>
<table><thead><tr><th>Name</th><th>Size</th><th>Content id</th></tr></thead>
<tbody id="shares"></tbody></table>
<h2>Peers</h2>
<table><thead><tr><th>Address</th><th>Peer id</th><th>Files</th><th>Last seen</th>
<th>Source</th></tr></thead><tbody id="peers"></tbody></table>
<h2>Uploads</h2>
<div id="uploads"></div>
<script>
"use strict";
// The token came in the URL (?token=): the server set a session cookie, so
// the address bar and the history need not keep it.
if (location.search) history.replaceState(null, "", location.pathname);
const units = ["B", "KiB", "MiB", "GiB", "TiB"];
function size(n) {
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
  return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
}
function rate(bps) { return bps > 0 ? size(Math.round(bps)) + "/s" : "-"; }
function eta(s) {
  if (!(s > 0)) return "-";
  const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = Math.floor(s % 60);
  return (h ? h + "h" : "") + (h || m ? m + "m" : "") + r + "s";
}
// A table cell holding `text` as text (never markup).
function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}
function empty(tbody, cols, text) {
  const tr = document.createElement("tr");
  cell(tr, text, "empty").colSpan = cols;
  tbody.appendChild(tr);
}
// Per-peer bytes at the previous poll: a rate is the change over the time.
let previous = new Map();
// Each download's bytes when this page load first saw it (data-first-bytes-done:
// live progress is visible, and testable, within one load).
const firstSeen = new Map();
function showDownloads(list, now) {
  const tbody = document.getElementById("downloads");
  const next = new Map();
  tbody.replaceChildren();
  if (list.length === 0) empty(tbody, 6, "no downloads");
  for (const d of list) {
    const tr = document.createElement("tr");
    tr.className = "download";
    tr.dataset.key = String(d.key);
    tr.dataset.bytesDone = String(d.bytes_done);
    if (!firstSeen.has(d.key)) firstSeen.set(d.key, d.bytes_done);
    tr.dataset.firstBytesDone = String(firstSeen.get(d.key));
    tr.dataset.size = String(d.size);
    cell(tr, d.name, "name");
    cell(tr, d.state + (d.seeding ? ", seeding" : ""), "state-" + d.state);
    const td = cell(tr, "");
    const bar = document.createElement("progress");
    bar.max = d.size > 0 ? d.size : 1;
    bar.value = d.size > 0 ? d.bytes_done : 1;
    td.appendChild(bar);
    const pct = d.size > 0 ? Math.floor(100 * d.bytes_done / d.size) : 100;
    const text = document.createElement("span");
    text.className = "progress-text";
    text.textContent = " " + size(d.bytes_done) + " of " + size(d.size) + " (" + pct + " %)";
    td.appendChild(text);
    cell(tr, rate(d.rate_bps), "num");
    cell(tr, d.state === "running" ? eta(d.eta_s) : "-", "num");
    cell(tr, String((d.peers || []).length), "num");
    tbody.appendChild(tr);
    if (d.error) {
      const er = document.createElement("tr");
      er.className = "peer";
      cell(er, "error: " + d.error, "first").colSpan = 6;
      tbody.appendChild(er);
    }
    for (const p of d.peers || []) {
      const id = d.key + " " + p.addr;
      next.set(id, {bytes: p.bytes, t: now});
      const before = previous.get(id);
      const bps = before && now > before.t ? (p.bytes - before.bytes) * 1000 / (now - before.t) : 0;
      const pr = document.createElement("tr");
      pr.className = "peer";
      cell(pr, p.addr, "first");
      cell(pr, p.state + (p.error ? ": " + p.error : ""));
      cell(pr, size(p.bytes) + " from this peer", "num");
      cell(pr, rate(bps), "num peer-rate").dataset.bps = String(Math.round(bps));
      cell(pr, "");
      cell(pr, "");
      tbody.appendChild(pr);
    }
  }
  previous = next;
}
function showShares(list) {
  const tbody = document.getElementById("shares");
  tbody.replaceChildren();
  if (list.length === 0) empty(tbody, 3, "nothing shared");
  for (const s of list) {
    const tr = document.createElement("tr");
    tr.className = "share";
    cell(tr, s.name, "name").title = s.path;
    cell(tr, size(s.size), "num");
    cell(tr, s.id.slice(0, 12));
    tbody.appendChild(tr);
  }
}
function showPeers(list) {
  const tbody = document.getElementById("peers");
  tbody.replaceChildren();
  if (list.length === 0) empty(tbody, 5, "no peers seen");
  for (const p of list) {
    const tr = document.createElement("tr");
    tr.className = "lan-peer";
    cell(tr, p.addr);
    cell(tr, p.id);
    cell(tr, String(p.files), "num");
    cell(tr, Math.round(p.last_seen_ms / 1000) + " s ago", "num");
    cell(tr, p.source);
    tbody.appendChild(tr);
  }
}
async function get(path) {
  const r = await fetch(path, {credentials: "same-origin", cache: "no-store"});
  if (r.status === 401) throw new Error("not authorised: open the URL `p2p-cli web` prints");
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}
let polls = 0, busy = false;
async function poll() {
  if (busy) return; // the last poll still waits: no pile-up
  busy = true;
  const conn = document.getElementById("conn");
  try {
    const [status, peers] = await Promise.all([get("/api/status"), get("/api/peers")]);
    const now = Date.now();
    showDownloads(status.downloads || [], now);
    showShares(status.shares || []);
    showPeers(peers.peers || []);
    const up = status.uploads || {};
    document.getElementById("uploads").textContent =
      (up.active || 0) + " active, " + size(up.bytes_total || 0) + " sent";
    document.body.dataset.polls = String(++polls);
    conn.className = "";
    conn.textContent = "updated " + new Date(now).toLocaleTimeString() + " (every second)";
  } catch (e) {
    conn.className = "bad";
    conn.textContent = "daemon not answering: " + e.message;
  } finally {
    busy = false;
  }
}
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
)HTML";

} // namespace p2p
