import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import { AdminAuth } from "../metrics/admin_auth.ts";
import { Metrics } from "../metrics/metrics.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from "./_assets.ts";
import { RateHistory } from "./history.ts";
import { type StatusJson, statusPageHandler } from "./status_page.ts";

async function setUp() {
  const db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db));
  await accounts.create("admin", "pw");
  const metrics = new Metrics();
  metrics.gauge({ name: "verona_sessions", help: "Sessions", read: () => 2 });
  const history = new RateHistory(metrics);
  const handler = statusPageHandler({
    domain: "localhost",
    metrics,
    history,
    windowSeconds: 300,
    auth: new AdminAuth({ accounts, domain: "localhost", admins: ["admin@localhost"] }),
  });
  const get = (path: string, authorized = true) => {
    const url = new URL(path, "https://localhost:5281");
    const headers: Record<string, string> = authorized
      ? { authorization: "Basic " + btoa("admin:pw") }
      : {};
    return handler(new Request(url, { headers }), {
      remoteAddress: "192.0.2.1",
      secure: true,
      url,
    });
  };
  return { db, get };
}

Deno.test("the status page's files and JSON carry the security headers, behind the login", async () => {
  const { db, get } = await setUp();
  for (
    const [path, type] of [
      ["/admin/", "text/html"],
      ["/admin/status.js", "text/javascript"],
      ["/admin/status.css", "text/css"],
      ["/admin/status.json", "application/json"],
    ]
  ) {
    const denied = await get(path, false);
    assert.equal(denied.status, 401, path);
    await denied.body?.cancel();
    const response = await get(path);
    assert.equal(response.status, 200, path);
    assert.ok(response.headers.get("content-type")!.startsWith(type), path);
    assert.match(response.headers.get("content-security-policy")!, /^default-src 'self'/);
    assert.equal(response.headers.get("x-frame-options"), "DENY");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("cache-control"), "no-store");
    await response.body?.cancel();
  }
  const status: StatusJson = await (await get("/admin/status.json")).json();
  assert.equal(status.admin, "admin@localhost");
  assert.equal(status.metrics.verona_sessions, 2);
  assert.deepEqual(status.rates, []);
  assert.equal((await get("/admin/other")).status, 404);
  const redirect = await get("/admin");
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get("location"), "/admin/");
  db.close();
});

Deno.test("the status page has no inline script or style (the CSP forbids them) and its script parses", () => {
  assert.doesNotMatch(STATUS_HTML, /<script>|<style|\sstyle=|\son[a-z]+=/i);
  assert.match(STATUS_HTML, /<script src="status\.js" defer><\/script>/);
  assert.match(STATUS_HTML, /<link rel="stylesheet" href="status\.css">/);
  assert.doesNotMatch(STATUS_JS + STATUS_CSS, /https?:\/\//, "no external resources");
  assert.doesNotMatch(STATUS_JS, /innerHTML|eval\(|new Function/);
  new Function(STATUS_JS); // a syntax error throws here
});
