// HTTP File Upload (lib/http_upload) over real sockets: an XMPP client over TCP+TLS discovers the
// service and asks for a slot (XEP-0363 §3, §4), `fetch` PUTs the file over HTTPS and GETs it
// back byte for byte (§7); the CORS preflight exactly as the Conversations compliance tester
// sends it; the errors of §6 and §7; expiry, removal with the account, an interrupted upload,
// and a 100 MB upload streamed to disk without the server's memory growing by anything like it.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ReplayClient } from "../lib/replay/client.ts";
import { NS } from "../lib/stanza/ns.ts";
import { el, type Element } from "../lib/xml/element.ts";
import type { Config } from "../lib/config/mod.ts";
import { startTestServer, type TestServer } from "./_harness.ts";

const UPLOAD = "urn:xmpp:http:upload:0";
const SERVICE = "upload.localhost";
const ACCOUNTS: [string, string][] = [["romeo", "romeo-pass"], ["juliet", "juliet-pass"]];

function configure(more: Partial<Config["http_upload"]> = {}) {
  return (config: Config) => Object.assign(config.http_upload, more);
}

async function login(test: TestServer, user: string): Promise<ReplayClient> {
  const client = new ReplayClient();
  await client.connect({
    host: "127.0.0.1",
    port: test.port,
    jid: `${user}@localhost`,
    password: `${user}-pass`,
  });
  return client;
}

let counter = 0;
async function iq(client: ReplayClient, to: string, payload: Element, type = "get") {
  const id = `up-${++counter}`;
  client.send(el("iq", { type, id, to }, payload));
  const { stanza } = await client.waitForStanza({ match: (s) => s.attrs.id === id });
  return stanza;
}

const condition = (stanza: Element) =>
  stanza.getChild("error")?.children.find((c) => typeof c !== "string")?.name;

function request(filename: string, size: number, contentType?: string): Element {
  return el("request", {
    xmlns: UPLOAD,
    filename,
    size: String(size),
    "content-type": contentType,
  });
}

/** A slot's URLs and its PUT headers. */
async function slot(client: ReplayClient, filename: string, size: number, contentType?: string) {
  const answer = await iq(client, SERVICE, request(filename, size, contentType));
  assert.equal(answer.attrs.type, "result", answer.toString());
  const slot = answer.getChild("slot", UPLOAD)!;
  const put = slot.getChild("put")!;
  return {
    put: put.attrs.url!,
    get: slot.getChild("get")!.attrs.url!,
    headers: Object.fromEntries(
      put.getChildren("header").map((h) => [h.attrs.name!, h.getText()]),
    ) as Record<string, string>,
  };
}

/** A fetch client that trusts the test server's self-signed certificate. */
async function httpClient(test: TestServer): Promise<Deno.HttpClient> {
  const certPem = await Deno.readTextFile(join(test.dataDir, "localhost.crt"));
  return Deno.createHttpClient({ caCerts: [certPem] });
}

function random(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

/** The upload directory's file names. */
async function filesOn(test: TestServer): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(join(test.dataDir, "uploads"))) names.push(entry.name);
  return names.sort();
}

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!await done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A raw HTTP/1.1 request on the plain port: head, then the body in pieces; the status line. */
async function rawPut(
  test: TestServer,
  url: string,
  headers: Record<string, string>,
  send: (conn: Deno.Conn) => Promise<void>,
): Promise<string> {
  const { pathname } = new URL(url);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: test.server.http!.port! });
  const head = Object.entries({ host: "localhost", connection: "close", ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`).join("");
  await writeAll(conn, new TextEncoder().encode(`PUT ${pathname} HTTP/1.1\r\n${head}\r\n`));
  try {
    await send(conn);
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    return n === null ? "" : new TextDecoder().decode(buffer.subarray(0, n)).split("\r\n")[0];
  } finally {
    try {
      conn.close();
    } catch {
      // closed by `send`
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

Deno.test("http_upload: discovery, a slot, PUT over HTTPS, GET and HEAD byte for byte, CORS", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS });
  await using romeo = await login(test, "romeo");
  using http = await httpClient(test);

  // §3: the service among the server's items, with identity, feature and max-file-size.
  const items = await iq(romeo, "localhost", el("query", { xmlns: NS.DISCO_ITEMS }));
  assert.ok(
    items.getChild("query", NS.DISCO_ITEMS)!.getChildren("item").some((i) =>
      i.attrs.jid === SERVICE
    ),
  );
  const info = (await iq(romeo, SERVICE, el("query", { xmlns: NS.DISCO_INFO })))
    .getChild("query", NS.DISCO_INFO)!;
  assert.deepEqual(info.getChildren("identity").map((i) => [i.attrs.category, i.attrs.type]), [[
    "store",
    "file",
  ]]);
  assert.ok(info.getChildren("feature").some((f) => f.attrs.var === UPLOAD));
  const form = info.getChild("x", NS.DATA_FORMS)!;
  const field = form.getChildren("field").find((f) => f.attrs.var === "max-file-size")!;
  assert.equal(field.getChildText("value"), String(100 * 1024 * 1024));

  // §4: the slot; the name is kept (percent-encoded), the PUT needs the Authorization header.
  const body = random(300_000);
  const s = await slot(romeo, "très cool.jpg", body.length, "image/jpeg");
  assert.match(
    s.put,
    /^https:\/\/localhost:\d+\/upload\/[A-Za-z0-9_-]{22}\/tr%C3%A8s%20cool\.jpg$/,
  );
  assert.equal(s.get, s.put);
  assert.deepEqual(Object.keys(s.headers), ["Authorization"]);

  // The preflight, exactly as the compliance tester sends it.
  const pre = await fetch(s.put, {
    method: "OPTIONS",
    client: http,
    headers: {
      origin: "https://compliance.example",
      "access-control-request-method": "PUT",
      "access-control-request-headers": "content-type",
    },
  });
  await pre.body?.cancel();
  assert.ok(pre.status >= 200 && pre.status < 300, `preflight status ${pre.status}`);
  assert.equal(pre.headers.get("access-control-allow-origin"), "*");
  assert.ok(pre.headers.get("access-control-allow-methods")!.split(/, */).includes("PUT"));
  const allowed = pre.headers.get("access-control-allow-headers")!.toLowerCase().split(/, */);
  assert.ok(allowed.includes("content-type") && allowed.includes("authorization"));

  // Not yet uploaded: nothing to GET.
  let response = await fetch(s.get, { client: http });
  await response.body?.cancel();
  assert.equal(response.status, 404);

  response = await fetch(s.put, {
    method: "PUT",
    client: http,
    headers: { ...s.headers, "content-type": "image/jpeg" },
    body,
  });
  assert.equal(response.status, 201, await response.text());
  assert.equal(response.headers.get("access-control-allow-origin"), "*");

  // §7: a used slot takes no second PUT.
  response = await fetch(s.put, { method: "PUT", client: http, headers: s.headers, body });
  await response.body?.cancel();
  assert.equal(response.status, 409);

  response = await fetch(s.get, { client: http });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "image/jpeg");
  assert.equal(response.headers.get("content-length"), String(body.length));
  assert.equal(
    response.headers.get("content-disposition"),
    "inline; filename*=UTF-8''tr%C3%A8s%20cool.jpg",
  );
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  assert.match(response.headers.get("content-security-policy")!, /default-src 'none'/);
  assert.match(response.headers.get("cache-control")!, /max-age=\d+/);
  assert.equal(response.headers.get("access-control-allow-origin"), "*");
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), body);

  response = await fetch(s.get, { method: "HEAD", client: http });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), String(body.length));
  assert.equal(await response.text(), "");

  // A resumed download: the rest from an offset.
  response = await fetch(s.get, { client: http, headers: { range: "bytes=100000-" } });
  assert.equal(response.status, 206);
  assert.equal(
    response.headers.get("content-range"),
    `bytes 100000-${body.length - 1}/${body.length}`,
  );
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), body.subarray(100000));

  // A type a browser could run is an attachment; the plain port serves the same files.
  const html = new TextEncoder().encode("<script>alert(1)</script>");
  const h = await slot(romeo, "page.html", html.length, "text/html");
  response = await fetch(h.put, { method: "PUT", client: http, headers: h.headers, body: html });
  await response.body?.cancel();
  assert.equal(response.status, 201);
  const plain = `http://127.0.0.1:${test.server.http!.port}${new URL(h.get).pathname}`;
  response = await fetch(plain);
  assert.equal(response.headers.get("content-type"), "text/html");
  assert.match(response.headers.get("content-disposition")!, /^attachment; /);
  assert.match(response.headers.get("content-security-policy")!, /sandbox/);
  assert.equal(await response.text(), "<script>alert(1)</script>");

  const metrics = test.server.metrics.snapshot();
  assert.equal(metrics.verona_upload_files_total, 2);
  assert.equal(metrics.verona_upload_stored_bytes, body.length + html.length);
});

Deno.test("http_upload: slot errors: too large, quota, file names, types, strangers", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: configure({ maxFileSize: 1000, quotaBytes: 2500, allowedTypes: ["image/*"] }),
  });
  await using romeo = await login(test, "romeo");

  // §6: file-too-large with the maximum.
  let answer = await iq(romeo, SERVICE, request("big.png", 1001, "image/png"));
  assert.equal(condition(answer), "not-acceptable");
  assert.equal(
    answer.getChild("error")!.getChild("file-too-large", UPLOAD)!.getChildText("max-file-size"),
    "1000",
  );
  // Slots reserve their size: the third passes the quota.
  await slot(romeo, "a.png", 1000, "image/png");
  await slot(romeo, "b.png", 1000, "image/png");
  answer = await iq(romeo, SERVICE, request("c.png", 1000, "image/png"));
  assert.equal(condition(answer), "resource-constraint");
  assert.equal(answer.getChild("error")!.attrs.type, "wait");
  assert.match(answer.getChild("error")!.getChildText("text", NS.STANZA_ERRORS)!, /Quota/);
  // Juliet's quota is her own.
  await using juliet = await login(test, "juliet");
  await slot(juliet, "j.png", 1000, "image/png");

  for (const name of ["a/b.png", "..", "", "x".repeat(256)]) {
    answer = await iq(romeo, SERVICE, request(name, 10, "image/png"));
    assert.equal(condition(answer), "bad-request", name);
  }
  for (const size of ["-1", "1.5", "ten"]) {
    answer = await iq(
      romeo,
      SERVICE,
      el("request", { xmlns: UPLOAD, filename: "a.png", size }),
    );
    assert.equal(condition(answer), "bad-request", size);
  }
  answer = await iq(romeo, SERVICE, el("request", { xmlns: UPLOAD, filename: "a.png" }));
  assert.equal(condition(answer), "bad-request");
  // allowed_types: images only (no type is application/octet-stream).
  answer = await iq(romeo, SERVICE, request("a.pdf", 10, "application/pdf"));
  assert.equal(condition(answer), "not-acceptable");
  answer = await iq(romeo, SERVICE, request("a.bin", 10));
  assert.equal(condition(answer), "not-acceptable");
  // §4: an IQ-get; something else is not understood.
  answer = await iq(romeo, SERVICE, request("a.png", 10, "image/png"), "set");
  assert.equal(condition(answer), "bad-request");
  answer = await iq(romeo, SERVICE, el("query", { xmlns: "jabber:iq:version" }));
  assert.equal(condition(answer), "service-unavailable");
});

Deno.test("http_upload: the PUT must carry the slot's token, length and type, within the slot's time", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: configure({ slotTimeout: 10 }),
  });
  await using romeo = await login(test, "romeo");
  using http = await httpClient(test);
  const body = random(1000);
  const s = await slot(romeo, "notes.txt", body.length, "text/plain");
  const put = async (headers: Record<string, string>, data: Uint8Array<ArrayBuffer> = body) => {
    const response = await fetch(s.put, { method: "PUT", client: http, headers, body: data });
    await response.body?.cancel();
    return response.status;
  };
  assert.equal(await put({}), 401);
  assert.equal(await put({ authorization: "Bearer not-the-token" }), 401);
  assert.equal(await put({ ...s.headers, "content-type": "image/png" }), 415);
  assert.equal(await put(s.headers, random(1001)), 413);
  assert.equal(await put(s.headers, random(999)), 400);
  // Content-Length that lies: fewer bytes than announced, then the connection ends.
  const status = await rawPut(
    test,
    s.put,
    { ...s.headers, "content-length": "1000" },
    async (conn) => {
      await writeAll(conn, body.subarray(0, 400));
      (conn as Deno.TcpConn).closeWrite();
    },
  );
  assert.ok(status === "" || /^HTTP\/1\.1 4\d\d/.test(status), status);
  await until("the partial file is removed", async () => (await filesOn(test)).length === 0);
  // The slot can still be used after a failed attempt.
  assert.equal(await put({ ...s.headers, "content-type": "text/plain; charset=utf-8" }), 201);
  assert.deepEqual(await filesOn(test), [new URL(s.put).pathname.split("/")[2]]);

  // A slot not used in time is gone (§8): its deadline moved into the past, in the database.
  const late = await slot(romeo, "late.txt", 10, "text/plain");
  const id = new URL(late.put).pathname.split("/")[2];
  {
    using db = new DatabaseSync(join(test.dataDir, "verona.sqlite"));
    const changed = db.prepare("UPDATE http_uploads SET slot_expires_at = ? WHERE id = ?")
      .run(Date.now() - 1, id);
    assert.equal(changed.changes, 1);
  }
  const response = await fetch(late.put, {
    method: "PUT",
    client: http,
    headers: late.headers,
    body: random(10),
  });
  await response.body?.cancel();
  assert.equal(response.status, 410);
});

Deno.test("http_upload: files expire after expires_after, and go with their account", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: configure({ expiresAfter: 1500 }),
  });
  await using romeo = await login(test, "romeo");
  await using juliet = await login(test, "juliet");
  using http = await httpClient(test);
  const upload = async (client: ReplayClient, name: string) => {
    const s = await slot(client, name, 100, "text/plain");
    const response = await fetch(s.put, {
      method: "PUT",
      client: http,
      headers: s.headers,
      body: random(100),
    });
    await response.body?.cancel();
    assert.equal(response.status, 201);
    return s.get;
  };
  const status = async (url: string) => {
    const response = await fetch(url, { client: http });
    await response.body?.cancel();
    return response.status;
  };
  const first = await upload(romeo, "first.txt");
  const hers = await upload(juliet, "hers.txt");
  assert.equal((await filesOn(test)).length, 2);
  assert.equal(await status(first), 200);
  await until("both files expire and are swept", async () => (await filesOn(test)).length === 0);
  assert.equal(await status(first), 404);
  assert.equal(await status(hers), 404);

  // The ephemeral purpose: not served after expire-before, though expires_after is later.
  const ask = el(
    "request",
    { xmlns: UPLOAD, filename: "story.txt", size: "100", "content-type": "text/plain" },
    el("ephemeral", {
      xmlns: "urn:xmpp:http:upload:purpose:0",
      "expire-before": new Date(Date.now() + 700).toISOString(),
    }),
  );
  const answer = await iq(romeo, SERVICE, ask);
  const put = answer.getChild("slot", UPLOAD)!.getChild("put")!;
  let response = await fetch(put.attrs.url!, {
    method: "PUT",
    client: http,
    headers: { authorization: put.getChildText("header")! },
    body: random(100),
  });
  await response.body?.cancel();
  assert.equal(response.status, 201);
  assert.equal(await status(put.attrs.url!), 200);
  await new Promise((resolve) => setTimeout(resolve, 800));
  response = await fetch(put.attrs.url!, { client: http });
  await response.body?.cancel();
  assert.ok([404, 410].includes(response.status), `status ${response.status}`);

  // Removal with the account: Juliet's file goes, Romeo's stays.
  const keep = await upload(romeo, "keep.txt");
  const gone = await upload(juliet, "gone.txt");
  assert.equal(test.server.accounts.remove("juliet"), true);
  await until("juliet's file is removed", async () => (await filesOn(test)).length === 1);
  assert.equal(await status(gone), 404);
  assert.equal(await status(keep), 200);
});

Deno.test("http_upload: a 100 MB upload is streamed to disk, not held in memory", async () => {
  const size = 100 * 1024 * 1024;
  await using test = await startTestServer({ accounts: ACCOUNTS });
  await using romeo = await login(test, "romeo");
  const s = await slot(romeo, "video.mp4", size, "video/mp4");
  const chunk = random(1024 * 1024);
  // The server runs in this process: its resident set, sampled while the body streams in.
  const before = Deno.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 20);
  const started = performance.now();
  let status;
  try {
    status = await rawPut(
      test,
      s.put,
      { ...s.headers, "content-type": "video/mp4", "content-length": String(size) },
      async (conn) => {
        for (let sent = 0; sent < size; sent += chunk.length) await writeAll(conn, chunk);
      },
    );
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  peak = Math.max(peak, Deno.memoryUsage().rss);
  const growth = peak - before;
  console.log(
    `100 MB upload: ${seconds.toFixed(2)} s, RSS ${(before / 2 ** 20).toFixed(0)} MiB -> peak ` +
      `${(peak / 2 ** 20).toFixed(0)} MiB (+${(growth / 2 ** 20).toFixed(1)} MiB)`,
  );
  assert.equal(status, "HTTP/1.1 201 Created");
  assert.ok(growth < 30 * 1024 * 1024, `RSS grew by ${growth} bytes`);
  const id = new URL(s.put).pathname.split("/")[2];
  assert.equal((await Deno.stat(join(test.dataDir, "uploads", id))).size, size);
});

Deno.test("http_upload: without an HTTP listener the service is not offered", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => Object.assign(config.http, { port: null, httpsPort: null }),
  });
  await using romeo = await login(test, "romeo");
  const items = await iq(romeo, "localhost", el("query", { xmlns: NS.DISCO_ITEMS }));
  assert.ok(
    !items.getChild("query", NS.DISCO_ITEMS)!.getChildren("item").some((i) =>
      i.attrs.jid === SERVICE
    ),
  );
  assert.ok(test.log.some((line) => /http_upload: not offered/.test(line)));
});
