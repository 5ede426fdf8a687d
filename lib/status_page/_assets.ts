// The status page itself: one HTML document, its style sheet and its script, served as three
// files so that the Content-Security-Policy can be `default-src 'self'` with nothing inline.
// Kept as strings in a module (not files beside it) so that `deno bundle` and `deno compile`
// carry them. The script draws the plot on a <canvas> itself; it writes only textContent.

/** GET /admin/ */
export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Verona status</title>
<link rel="stylesheet" href="status.css">
<script src="status.js" defer></script>
</head>
<body>
<header>
  <h1>Verona <span id="domain"></span></h1>
  <p id="state" class="pending">Loading…</p>
</header>
<main>
  <section class="cards" aria-label="Summary">
    <div class="card"><h2>Sessions</h2><p class="value" id="sessions">–</p></div>
    <div class="card"><h2>Connections</h2><p class="value" id="connections">–</p></div>
    <div class="card"><h2>Rooms</h2><p class="value" id="rooms">–</p></div>
    <div class="card"><h2>Occupants</h2><p class="value" id="occupants">–</p></div>
    <div class="card"><h2>Memory (RSS)</h2><p class="value" id="memory">–</p></div>
    <div class="card"><h2>JS heap</h2><p class="value" id="heap">–</p></div>
    <div class="card"><h2>Send queues</h2><p class="value" id="queue">–</p></div>
    <div class="card"><h2>Uptime</h2><p class="value" id="uptime">–</p></div>
    <div class="card"><h2>Auth failures</h2><p class="value" id="auth-failures">–</p></div>
  </section>
  <section class="plot">
    <h2>Client stanzas per second
      <span class="key in">in <b id="rate-in">–</b></span>
      <span class="key out">out <b id="rate-out">–</b></span>
    </h2>
    <canvas id="plot" role="img" aria-label="Stanzas per second, in and out, last minutes"></canvas>
  </section>
  <section>
    <h2>All metrics</h2>
    <table id="metrics"><thead><tr><th>Name</th><th>Value</th></tr></thead><tbody></tbody></table>
  </section>
</main>
</body>
</html>
`;

/** GET /admin/status.css */
export const STATUS_CSS = `:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --fg: #1d2430; --muted: #5f6b7a; --card: #ffffff; --line: #d9dee5;
  --in: #1f6feb; --out: #d9480f; --bad: #c92a2a;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #12161c; --fg: #e6e9ee; --muted: #9aa5b4; --card: #1b2129; --line: #2c3440;
    --in: #4c9aff; --out: #ff8a4c; --bad: #ff6b6b; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: baseline; gap: 1.5rem; padding: 0.8rem 1.5rem;
  border-bottom: 1px solid var(--line); background: var(--card); }
h1 { margin: 0; font-size: 1.3rem; }
h1 span { color: var(--muted); font-weight: normal; }
#state { margin: 0; color: var(--muted); }
#state.error { color: var(--bad); font-weight: bold; }
main { padding: 1rem 1.5rem; max-width: 1400px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 0.8rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 0.6rem 0.8rem; }
.card h2 { margin: 0; font-size: 0.8rem; color: var(--muted); font-weight: 600;
  text-transform: uppercase; letter-spacing: 0.03em; }
.value { margin: 0.2rem 0 0; font-size: 1.6rem; font-variant-numeric: tabular-nums; }
section { margin-bottom: 1.2rem; }
section > h2 { font-size: 1rem; margin: 1rem 0 0.5rem; }
.key { margin-left: 1rem; font-weight: normal; font-size: 0.9rem; }
.key::before { content: ""; display: inline-block; width: 1.2em; height: 0.25em; margin-right: 0.35em;
  vertical-align: middle; }
.key.in::before { background: var(--in); }
.key.out::before { background: var(--out); }
.key b { font-variant-numeric: tabular-nums; }
canvas { display: block; width: 100%; height: 280px; background: var(--card);
  border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; background: var(--card); border: 1px solid var(--line);
  font-size: 0.85rem; }
th, td { text-align: left; padding: 0.2rem 0.8rem; border-bottom: 1px solid var(--line); }
td:last-child { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { font-family: ui-monospace, monospace; }
`;

/** GET /admin/status.js */
export const STATUS_JS = `"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  // What the page knows, also for tests and for the curious at the console.
  const view = { points: [], drawn: 0, updates: 0, error: null, windowSeconds: 300 };
  window.veronaStatus = view;

  const sum = (value) =>
    typeof value === "object" && value !== null
      ? Object.values(value).reduce((a, b) => a + b, 0)
      : value;
  const count = (value) => value === undefined ? "–" : Math.round(sum(value)).toLocaleString("en");
  const bytes = (value) => {
    if (value === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let n = value;
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
  };
  const duration = (seconds) => {
    if (seconds === undefined) return "–";
    const d = Math.floor(seconds / 86400);
    const h = Math.floor(seconds % 86400 / 3600);
    const m = Math.floor(seconds % 3600 / 60);
    const s = Math.floor(seconds % 60);
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + m + "m";
    return m + "m " + s + "s";
  };
  const rate = (value) => value === undefined ? "–" : (Math.round(value * 10) / 10).toString();

  function show(status) {
    const m = status.metrics;
    $("domain").textContent = status.domain;
    $("sessions").textContent = count(m.verona_sessions);
    $("connections").textContent = count(m.verona_c2s_connections);
    $("rooms").textContent = count(m.verona_muc_rooms);
    $("occupants").textContent = count(m.verona_muc_occupants);
    $("memory").textContent = bytes(m.verona_process_resident_memory_bytes);
    $("heap").textContent = bytes(m.verona_process_heap_used_bytes);
    $("queue").textContent = bytes(m.verona_c2s_send_queue_bytes);
    $("uptime").textContent = duration(m.verona_uptime_seconds);
    $("auth-failures").textContent = count(m.verona_c2s_auth_failures_total);
    view.points = status.rates;
    view.windowSeconds = status.windowSeconds;
    const last = status.rates[status.rates.length - 1];
    $("rate-in").textContent = rate(last && last.in);
    $("rate-out").textContent = rate(last && last.out);
    const rows = [];
    for (const name of Object.keys(m).sort()) {
      const value = m[name];
      if (typeof value === "object" && value !== null) {
        for (const label of Object.keys(value).sort()) rows.push([name + "{" + label + "}", value[label]]);
      } else rows.push([name, value]);
    }
    const body = document.createElement("tbody");
    for (const [name, value] of rows) {
      const tr = body.insertRow();
      tr.insertCell().textContent = name;
      tr.insertCell().textContent = Number.isInteger(value) ? value.toLocaleString("en") : String(value);
    }
    $("metrics").tBodies[0].replaceWith(body);
    const state = $("state");
    state.className = "";
    state.textContent = "Updated " + new Date(status.time).toLocaleTimeString("en-GB") +
      " · logged in as " + status.admin;
    view.error = null;
    view.updates++;
    draw();
  }

  function niceCeiling(value) {
    if (value <= 5) return 5;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function draw() {
    const canvas = $("plot");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const style = getComputedStyle(document.documentElement);
    const color = (name) => style.getPropertyValue(name).trim();
    const left = 56, right = 16, top = 14, bottom = 28;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    const points = view.points;
    const end = points.length > 0 ? points[points.length - 1].t : Date.now();
    // The last minute at first, growing with the history up to its whole window.
    const kept = points.length > 0 ? (end - points[0].t) / 1000 : 0;
    const seconds = Math.min(view.windowSeconds, Math.max(60, Math.ceil(kept / 60) * 60));
    const span = seconds * 1000;
    const start = end - span;
    let max = 0;
    for (const p of points) max = Math.max(max, p.in, p.out);
    const yMax = niceCeiling(max);
    const x = (t) => left + (t - start) / span * plotW;
    const y = (v) => top + plotH - v / yMax * plotH;

    ctx.font = "12px system-ui, sans-serif";
    ctx.lineWidth = 1;
    ctx.strokeStyle = color("--line");
    ctx.fillStyle = color("--muted");
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let i = 0; i <= 4; i++) {
      const v = yMax * i / 4;
      const py = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, py);
      ctx.lineTo(left + plotW, py);
      ctx.stroke();
      ctx.fillText(String(Math.round(v * 100) / 100), left - 6, py);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const step = seconds <= 60 ? 10 : seconds <= 180 ? 30 : 60;
    for (let ago = 0; ago <= seconds; ago += step) {
      const px = Math.round(x(end - ago * 1000)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, top + plotH);
      ctx.stroke();
      const label = ago === 0 ? "now" : ago % 60 === 0 ? "−" + ago / 60 + " min" : "−" + ago + " s";
      ctx.fillText(label, px, top + plotH + 6);
    }
    let drawn = 0;
    for (const [key, name] of [["in", "--in"], ["out", "--out"]]) {
      ctx.strokeStyle = color(name);
      ctx.lineWidth = 2;
      // Every stanza in is often one out: dashes let the line drawn first show through.
      ctx.setLineDash(key === "out" ? [6, 4] : []);
      ctx.lineJoin = "round";
      ctx.beginPath();
      let started = false;
      for (const p of points) {
        if (p.t < start) continue;
        if (started) ctx.lineTo(x(p.t), y(p[key]));
        else ctx.moveTo(x(p.t), y(p[key]));
        started = true;
        drawn++;
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    view.drawn = drawn;
  }

  async function poll() {
    try {
      const response = await fetch("status.json", { cache: "no-store", credentials: "same-origin" });
      if (!response.ok) throw new Error("the server answered " + response.status);
      show(await response.json());
    } catch (error) {
      view.error = String(error && error.message || error);
      const state = $("state");
      state.className = "error";
      state.textContent = "Not updating: " + view.error;
    } finally {
      setTimeout(poll, 1000);
    }
  }

  window.addEventListener("resize", draw);
  poll();
})();
`;
