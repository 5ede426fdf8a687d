// /metrics and the admin status page on a real server: counters move by what clients did, the
// text is strict OpenMetrics, the login rules hold (loopback, 401, 403, admins over HTTPS), and
// the status page in headless Chromium shows the sessions and plots the stanza rates.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { ReplayClient } from "../lib/replay/client.ts";
import { Chromium } from "./_chromium.ts";
import { login } from "./_clients.ts";
import { startTestServer, type TestServer } from "./_harness.ts";
import { type ParsedFamily, parseOpenMetrics, sampleValue } from "./_openmetrics.ts";

const ACCOUNTS: [string, string][] = [
  ["admin", "admin-pass"],
  ["romeo", "romeo-pass"],
  ["juliet", "juliet-pass"],
];
const OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8";

function basic(user: string, password: string): string {
  return "Basic " + btoa(`${user}:${password}`);
}

function plainUrl(test: TestServer, path: string): string {
  return `http://127.0.0.1:${test.server.http!.port}${path}`;
}

function secureUrl(test: TestServer, path: string): string {
  return `https://localhost:${test.server.http!.securePort}${path}`;
}

/** Scrapes /metrics over plain HTTP from loopback and parses it strictly. */
async function scrape(test: TestServer): Promise<Map<string, ParsedFamily>> {
  const response = await fetch(plainUrl(test, "/metrics"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), OPENMETRICS);
  return parseOpenMetrics(await response.text());
}

function sum(families: Map<string, ParsedFamily>, name: string): number {
  let total = 0;
  for (const family of families.values()) {
    for (const sample of family.samples) if (sample.name === name) total += sample.value;
  }
  return total;
}

/** Joins (or creates, as an instant room: XEP-0045 §10.1.2) a room; throws on an error. */
async function joinRoom(client: ReplayClient, room: string, nick: string): Promise<void> {
  client.send(
    `<presence to='${room}/${nick}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
  );
  const { stanza } = await client.waitForStanza({
    match: (s) => s.name === "presence" && s.attrs.from === `${room}/${nick}`,
    timeoutMs: 5000,
  });
  assert.notEqual(stanza.attrs.type, "error", stanza.toString());
  if (stanza.toString().includes("code='201'") || stanza.toString().includes('code="201"')) {
    client.send(
      `<iq type='set' id='instant' to='${room}'><query xmlns='http://jabber.org/protocol/muc#owner'>` +
        `<x xmlns='jabber:x:data' type='submit'/></query></iq>`,
    );
    const { stanza: answer } = await client.waitForStanza({
      match: (s) => s.name === "iq" && s.attrs.id === "instant",
      timeoutMs: 5000,
    });
    assert.equal(answer.attrs.type, "result", answer.toString());
  }
}

Deno.test("metrics: counters move by what clients did, in strict OpenMetrics from loopback", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => config.admins = ["admin@localhost"],
  });
  await using romeo = await login(test.port, "romeo@localhost", "romeo-pass");
  await using juliet = await login(test.port, "juliet@localhost", "juliet-pass");

  const before = await scrape(test);
  assert.equal(sampleValue(before, "verona_sessions"), 2);
  assert.equal(sampleValue(before, "verona_c2s_connections"), 2);
  for (const family of ["verona_c2s_stanzas_in", "verona_c2s_stanzas_out"]) {
    assert.equal(before.get(family)?.type, "counter", family);
  }
  assert.equal(before.get("verona_process_resident_memory_bytes")?.unit, "bytes");
  assert.equal(before.get("verona_sqlite_commit_seconds")?.type, "summary");

  for (let i = 0; i < 5; i++) {
    romeo.send(
      `<message to='${juliet.fullJid}' type='chat' id='m${i}'><body>${i}</body></message>`,
    );
  }
  for (let i = 0; i < 5; i++) {
    await juliet.waitForStanza({ match: (s) => s.name === "message", timeoutMs: 5000 });
  }
  await romeo.sync(); // one iq in, one out
  await romeo.sync();
  await juliet.sync();

  const after = await scrape(test);
  const delta = (name: string, labels: Record<string, string>) =>
    (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
  assert.equal(delta("verona_c2s_stanzas_in_total", { kind: "message" }), 5);
  assert.equal(delta("verona_c2s_stanzas_out_total", { kind: "message" }), 5);
  assert.equal(delta("verona_c2s_stanzas_in_total", { kind: "iq" }), 3);
  assert.equal(delta("verona_c2s_stanzas_out_total", { kind: "iq" }), 3);
  assert.equal(delta("verona_c2s_stanzas_in_total", { kind: "presence" }), 0);
  // The first scrape itself was answered 200.
  assert.ok((sampleValue(after, "verona_http_requests_total", { status: "200" }) ?? 0) >= 1);

  // A failed login counts once.
  const failures = sum(after, "verona_c2s_auth_failures_total");
  await assert.rejects(() => login(test.port, "romeo@localhost", "wrong"));
  const afterFailure = await scrape(test);
  assert.equal(sum(afterFailure, "verona_c2s_auth_failures_total"), failures + 1);

  // Rooms and occupants; a room's creation is written to SQLite, and each COMMIT is timed.
  const commits = sampleValue(afterFailure, "verona_sqlite_commit_seconds_count") ?? 0;
  await joinRoom(romeo, "lobby@conference.localhost", "romeo");
  await joinRoom(juliet, "lobby@conference.localhost", "juliet");
  await joinRoom(juliet, "garden@conference.localhost", "juliet");
  const rooms = await scrape(test);
  assert.equal(sampleValue(rooms, "verona_muc_rooms"), 2);
  assert.equal(sampleValue(rooms, "verona_muc_occupants"), 3);
  assert.ok((sampleValue(rooms, "verona_sqlite_commit_seconds_count") ?? 0) >= commits);
  assert.ok(sampleValue(rooms, "verona_sqlite_commit_seconds_sum")! >= 0);
  assert.ok(sampleValue(rooms, "verona_uptime_seconds")! >= 0);

  // Prometheus's older text format when a scraper asks only for it.
  const old = await fetch(plainUrl(test, "/metrics"), { headers: { accept: "text/plain" } });
  assert.equal(old.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await old.text();
  assert.match(text, /^# TYPE verona_c2s_stanzas_in_total counter$/m);
  assert.doesNotMatch(text, /# EOF|# UNIT/);
});

Deno.test("metrics: without allow_ips, 401 without a login, 403 for a non-admin, 200 for an admin over HTTPS", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => {
      config.admins = ["admin@localhost"];
      config.metrics.allowIps = [];
    },
  });
  const cert = await Deno.readTextFile(join(test.dataDir, "localhost.crt"));
  using client = Deno.createHttpClient({ caCerts: [cert] });
  const get = (url: string, authorization?: string) =>
    fetch(url, { client, headers: authorization ? { authorization } : {} });

  const anonymous = await get(plainUrl(test, "/metrics"));
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get("www-authenticate")!, /^Basic realm="Verona admin"/);
  await anonymous.body?.cancel();

  const secureAnonymous = await get(secureUrl(test, "/metrics"));
  assert.equal(secureAnonymous.status, 401);
  await secureAnonymous.body?.cancel();

  const wrong = await get(secureUrl(test, "/metrics"), basic("admin", "nope"));
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();

  const romeo = await get(secureUrl(test, "/metrics"), basic("romeo", "romeo-pass"));
  assert.equal(romeo.status, 403);
  assert.match(await romeo.text(), /romeo@localhost is not an admin/);

  const admin = await get(secureUrl(test, "/metrics"), basic("admin@localhost", "admin-pass"));
  assert.equal(admin.status, 200);
  assert.equal(admin.headers.get("content-type"), OPENMETRICS);
  assert.equal(admin.headers.get("cache-control"), "no-store");
  const families = parseOpenMetrics(await admin.text());
  assert.equal(sampleValue(families, "verona_sessions"), 0);

  // From loopback over plain HTTP too (a local scraper, a proxy that terminated TLS) ...
  const local = await get(plainUrl(test, "/metrics"), basic("admin", "admin-pass"));
  assert.equal(local.status, 200);
  await local.body?.cancel();
  // ... but not for a client the proxy says came over plain HTTP: no password prompt then.
  const proxied = await fetch(plainUrl(test, "/metrics"), {
    headers: {
      authorization: basic("admin", "admin-pass"),
      "x-forwarded-for": "203.0.113.9",
      "x-forwarded-proto": "http",
    },
  });
  assert.equal(proxied.status, 403);
  assert.equal(proxied.headers.get("www-authenticate"), null);
  assert.match(await proxied.text(), /Log in over HTTPS at https:/);

  // The status page's JSON follows the same rules.
  const page = await get(secureUrl(test, "/admin/status.json"), basic("romeo", "romeo-pass"));
  assert.equal(page.status, 403);
  await page.body?.cancel();
  const status = await get(secureUrl(test, "/admin/status.json"), basic("admin", "admin-pass"));
  assert.equal(status.status, 200);
  assert.equal((await status.json()).admin, "admin@localhost");
});

Deno.test("metrics: the status page in Chromium shows the sessions and plots stanza rates", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => config.admins = ["admin@localhost"],
  });
  await using romeo = await login(test.port, "romeo@localhost", "romeo-pass");
  await using juliet = await login(test.port, "juliet@localhost", "juliet-pass");
  await joinRoom(romeo, "lobby@conference.localhost", "romeo");
  await joinRoom(juliet, "lobby@conference.localhost", "juliet");

  // Traffic to plot: a message every 50 ms from romeo to juliet.
  let sent = 0;
  const traffic = setInterval(() => {
    romeo.send(`<message to='${juliet.fullJid}' type='chat'><body>${sent++}</body></message>`);
  }, 50);
  try {
    await using browser = await Chromium.launch({ width: 1280, height: 900 });
    const page = await browser.page();
    await page.send("Network.enable");
    await page.send("Network.setExtraHTTPHeaders", {
      headers: { authorization: basic("admin", "admin-pass") },
    });
    await page.navigate(secureUrl(test, "/admin/"));
    await page.waitFor(
      "window.veronaStatus && veronaStatus.updates >= 3 && veronaStatus.drawn >= 10 && " +
        "veronaStatus.points.filter((p) => p.in > 0).length >= 3",
      20_000,
    );
    const text = (id: string) =>
      page.evaluate<string>(`document.getElementById("${id}").textContent`);
    assert.equal(await text("sessions"), "2");
    assert.equal(await text("connections"), "2");
    assert.equal(await text("rooms"), "1");
    assert.equal(await text("occupants"), "2");
    assert.equal(await text("domain"), "localhost");
    assert.match(await text("memory"), /^\d+(\.\d)? MiB$/);
    assert.match(await text("state"), /^Updated .* logged in as admin@localhost$/);
    assert.match(await text("rate-in"), /^\d+(\.\d)?$/);
    const rows = await page.evaluate<string>(`document.getElementById("metrics").textContent`);
    assert.match(rows, /verona_c2s_stanzas_in_total\{message\}/);
    // The "in" line is on the canvas: pixels of its colour.
    const inPixels = await page.evaluate<number>(`(() => {
      const canvas = document.getElementById("plot");
      const ctx = canvas.getContext("2d");
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      const want = getComputedStyle(document.documentElement).getPropertyValue("--in").trim();
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(want.slice(i, i + 2), 16));
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (Math.abs(data[i] - r) < 24 && Math.abs(data[i + 1] - g) < 24 &&
          Math.abs(data[i + 2] - b) < 24 && data[i + 3] > 200) n++;
      }
      return n;
    })()`);
    assert.ok(inPixels > 50, `the plot has ${inPixels} pixels of the "in" colour`);
    assert.deepEqual(page.console.filter((line) => line.startsWith("exception")), []);
    // VERONA_SCREENSHOT=path keeps the screenshot, to look at it.
    const keep = Deno.env.get("VERONA_SCREENSHOT");
    const dir = keep ? null : await Deno.makeTempDir({ prefix: "verona-status-" });
    const shot = keep ?? join(dir!, "status.png");
    await page.screenshot(shot);
    assert.ok((await Deno.stat(shot)).size > 10_000);
    if (dir) await Deno.remove(dir, { recursive: true });
    page.close();
  } finally {
    clearInterval(traffic);
  }
});
