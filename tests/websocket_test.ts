// XMPP over WebSocket (RFC 7395) and host-meta (XEP-0156) against a real server: Deno's own
// WebSocket client speaking the framing by hand, then a real web client library (Strophe.js) in
// headless Chromium that logs in over wss://, found through host-meta, and chats in a MUC room
// with a TCP client, and Converse.js doing the same. Both libraries come from the npm registry
// through Deno's cache (fetched on the first run). The browser tests take a screenshot into the
// server's temporary data dir; VERONA_KEEP_SCREENSHOT=FILE copies it there to look at.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { login } from "./_clients.ts";
import { startTestServer, type TestServer } from "./_harness.ts";
import { Chromium } from "./_chromium.ts";
import { loadXml } from "../lib/xml/stored.ts";
import type { Element } from "../lib/xml/element.ts";

const FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";
const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const OPEN = `<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`;

/** A WebSocket XMPP client that checks that every message is one standalone element. */
class WsClient {
  socket: WebSocket;
  messages: string[] = [];
  closed: Promise<CloseEvent>;
  #waiters: (() => void)[] = [];

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.onmessage = (event) => {
      this.messages.push(String(event.data));
      for (const wake of this.#waiters.splice(0)) wake();
    };
    this.closed = new Promise((resolve) => {
      socket.onclose = (event) => {
        resolve(event);
        for (const wake of this.#waiters.splice(0)) wake();
      };
    });
  }

  /** Connects as if through a TLS-terminating proxy on loopback (X-Forwarded-Proto: https). */
  static async open(url: string): Promise<WsClient> {
    const socket = new WebSocket(url, {
      protocols: ["xmpp"],
      headers: { "x-forwarded-proto": "https" },
    } as unknown as string[]);
    const client = new WsClient(socket);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`cannot open ${url}`));
    });
    assert.equal(socket.protocol, "xmpp");
    return client;
  }

  send(text: string): void {
    this.socket.send(text);
  }

  /** The next message (parsed on its own, which must work) that `match`es; earlier ones go. */
  async next(match: (element: Element) => boolean, ms = 5000): Promise<Element> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.messages.length > 0) {
        const element = loadXml(this.messages.shift()!);
        if (match(element)) return element;
      }
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error("closed while waiting");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a message");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Opens the stream, logs in with PLAIN, restarts, binds; returns the full JID. */
  async login(user: string, password: string, resource = "ws"): Promise<string> {
    this.send(OPEN);
    const open = await this.next((e) => e.name === "open");
    assert.equal(open.attrs.xmlns, FRAMING);
    assert.equal(open.attrs.from, "localhost");
    assert.equal(open.attrs.version, "1.0");
    assert.ok(open.attrs.id);
    const features = await this.next((e) => e.name === "features");
    const mechanisms = features.getChild("mechanisms", SASL)!.getChildren("mechanism")
      .map((m) => m.getText());
    assert.ok(mechanisms.includes("PLAIN"), `PLAIN offered: ${mechanisms}`);
    assert.equal(features.getChild("starttls", "urn:ietf:params:xml:ns:xmpp-tls"), undefined);
    const credentials = btoa(`\0${user}\0${password}`);
    this.send(`<auth xmlns='${SASL}' mechanism='PLAIN'>${credentials}</auth>`);
    await this.next((e) => e.name === "success");
    this.send(OPEN); // RFC 7395 §3.4: the restart is a new <open/>
    await this.next((e) => e.name === "open");
    const bound = await this.next((e) => e.name === "features");
    assert.ok(bound.getChild("bind", "urn:ietf:params:xml:ns:xmpp-bind"));
    this.send(
      `<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>` +
        `<resource>${resource}</resource></bind></iq>`,
    );
    const result = await this.next((e) => e.name === "iq" && e.attrs.id === "b1");
    assert.equal(result.attrs.type, "result");
    return result.getChild("bind", "urn:ietf:params:xml:ns:xmpp-bind")!.getChildText("jid")!;
  }
}

function wsUrl(test: TestServer): string {
  return `ws://127.0.0.1:${test.server.http!.port}/xmpp-websocket`;
}

Deno.test("a WebSocket client logs in, chats with a TCP client and closes the stream", async () => {
  await using test = await startTestServer({
    accounts: [["juliet", "pw-j"], ["romeo", "pw-r"]],
  });
  const ws = await WsClient.open(wsUrl(test));
  const jid = await ws.login("juliet", "pw-j");
  assert.equal(jid, "juliet@localhost/ws");
  await using romeo = await login(test.port, "romeo@localhost", "pw-r");

  ws.send(
    `<message xmlns='jabber:client' to='${romeo.fullJid}' type='chat'><body>from the web` +
      "</body></message>",
  );
  const got = await romeo.waitForStanza({ match: (s) => s.name === "message" });
  assert.equal(got.stanza.getChildText("body"), "from the web");
  assert.equal(got.stanza.attrs.from, jid);

  romeo.send(`<message to='${jid}' type='chat'><body>from TCP &amp; back</body></message>`);
  const back = await ws.next((e) => e.name === "message");
  assert.equal(back.attrs.xmlns, "jabber:client");
  assert.equal(back.getChildText("body"), "from TCP & back");
  assert.equal(back.attrs.from, romeo.fullJid);

  ws.send(`<close xmlns='${FRAMING}'/>`);
  const close = await ws.next((e) => e.name === "close");
  assert.equal(close.attrs.xmlns, FRAMING);
  const event = await ws.closed;
  assert.equal(event.code, 1000);
  await romeo.disconnect();
});

Deno.test("a plain ws:// connection from an untrusted address is not encrypted", async () => {
  await using test = await startTestServer({
    configure: (config) => config.websocket.trustedProxies = [],
  });
  const ws = await WsClient.open(wsUrl(test)); // its X-Forwarded-Proto is not believed
  ws.send(OPEN);
  const features = await ws.next((e) => e.name === "features");
  // [tls] required: no login at all without encryption, and no STARTTLS to get it.
  assert.equal(features.getChild("mechanisms", SASL), undefined, features.toString());
  assert.equal(features.getChild("starttls", "urn:ietf:params:xml:ns:xmpp-tls"), undefined);
  ws.socket.close();
  await ws.closed;
});

Deno.test("an upgrade without the xmpp subprotocol is refused with 400", async () => {
  await using test = await startTestServer();
  const url = `http://127.0.0.1:${test.server.http!.port}/xmpp-websocket`;
  const headers = {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
  };
  const refused = await fetch(url, { headers });
  assert.equal(refused.status, 400);
  assert.match(await refused.text(), /subprotocol "xmpp"/);
  const other = await fetch(url, { headers: { ...headers, "sec-websocket-protocol": "chat" } });
  assert.equal(other.status, 400);
  await other.body?.cancel();
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /RFC 7395/);
  // Deno's client gives up on a handshake that fails.
  const socket = new WebSocket(url.replace("http", "ws"));
  const failed = await new Promise<boolean>((resolve) => {
    socket.onopen = () => resolve(false);
    socket.onerror = () => resolve(true);
  });
  assert.ok(failed);
});

Deno.test("an oversize message ends the stream with policy-violation, then <close/>", async () => {
  await using test = await startTestServer({ accounts: [["juliet", "pw-j"]] });
  const ws = await WsClient.open(wsUrl(test));
  await ws.login("juliet", "pw-j");
  ws.send(
    `<message xmlns='jabber:client' to='juliet@localhost'><body>${"x".repeat(300_000)}</body>` +
      "</message>",
  );
  const error = await ws.next((e) => e.name === "error");
  assert.equal(error.attrs.xmlns, "http://etherx.jabber.org/streams");
  assert.ok(error.getChild("policy-violation", "urn:ietf:params:xml:ns:xmpp-streams"));
  await ws.next((e) => e.name === "close");
  const event = await ws.closed;
  assert.equal(event.code, 1009);
  const deadline = Date.now() + 4000;
  while (test.server.streamCount > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(test.server.streamCount, 0);
});

Deno.test("a client flooding past its input rate is cut off with policy-violation", async () => {
  await using test = await startTestServer();
  const ws = await WsClient.open(wsUrl(test));
  ws.send(OPEN);
  await ws.next((e) => e.name === "features");
  // Whitespace between stanzas costs the input rate like anything else (10 KiB/s before
  // login); the messages past it wait, and past 1 MiB of them the stream ends.
  const blank = " ".repeat(200_000);
  for (let i = 0; i < 8; i++) ws.send(blank);
  const error = await ws.next((e) => e.name === "error");
  assert.ok(error.getChild("policy-violation", "urn:ietf:params:xml:ns:xmpp-streams"));
  assert.match(error.getChildText("text", "urn:ietf:params:xml:ns:xmpp-streams") ?? "", /fast/);
  await ws.next((e) => e.name === "close");
  // (The close code, 1008, may not reach a client still busy sending.)
  await ws.closed;
});

Deno.test("the per-address connection limit refuses with 429", async () => {
  await using test = await startTestServer({
    configure: (config) => config.websocket.maxConnectionsPerIp = 1,
  });
  const first = await WsClient.open(wsUrl(test));
  const refused = await fetch(`http://127.0.0.1:${test.server.http!.port}/xmpp-websocket`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "xmpp",
    },
  });
  assert.equal(refused.status, 429);
  await refused.body?.cancel();
  first.socket.close();
  await first.closed;
  // The place is given back once the socket has gone.
  const deadline = Date.now() + 3000;
  for (;;) {
    try {
      const again = await WsClient.open(wsUrl(test));
      again.socket.close();
      await again.closed;
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
});

Deno.test("host-meta and host-meta.json list the wss:// endpoint, readable from any origin", async () => {
  await using test = await startTestServer();
  const http = test.server.http!;
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(join(test.dataDir, "localhost.crt"))],
  });
  try {
    const base = `https://localhost:${http.securePort}`;
    const expected = `wss://localhost:${http.securePort}/xmpp-websocket`;
    const xrd = await fetch(`${base}/.well-known/host-meta`, { client });
    assert.equal(xrd.status, 200);
    assert.match(xrd.headers.get("content-type")!, /^application\/xrd\+xml/);
    assert.equal(xrd.headers.get("access-control-allow-origin"), "*");
    const doc = loadXml((await xrd.text()).replace(/^<\?xml[^>]*\?>\s*/, ""));
    assert.equal(doc.name, "XRD");
    assert.equal(doc.attrs.xmlns, "http://docs.oasis-open.org/ns/xri/xrd-1.0");
    const link = doc.getChildren("Link").find((l) =>
      l.attrs.rel === "urn:xmpp:alt-connections:websocket"
    );
    assert.equal(link?.attrs.href, expected);

    const jrd = await fetch(`${base}/.well-known/host-meta.json`, { client });
    assert.equal(jrd.headers.get("content-type"), "application/json");
    assert.equal(jrd.headers.get("access-control-allow-origin"), "*");
    assert.deepEqual(await jrd.json(), {
      links: [{ rel: "urn:xmpp:alt-connections:websocket", href: expected }],
    });

    const preflight = await fetch(`${base}/.well-known/host-meta.json`, {
      client,
      method: "OPTIONS",
      headers: { origin: "https://web.example", "access-control-request-method": "GET" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    assert.match(preflight.headers.get("access-control-allow-methods")!, /GET/);
    await preflight.body?.cancel();
  } finally {
    client.close();
  }
});

Deno.test("the server stops promptly with WebSocket clients connected", async () => {
  const test = await startTestServer({ accounts: [["juliet", "pw-j"]] });
  const bound = await WsClient.open(wsUrl(test));
  await bound.login("juliet", "pw-j");
  const idle = await WsClient.open(wsUrl(test)); // never opens a stream
  const started = performance.now();
  await test[Symbol.asyncDispose]();
  const took = performance.now() - started;
  assert.ok(took < 4000, `stop took ${Math.round(took)} ms`);
  const error = await bound.next((e) => e.name === "error");
  assert.ok(error.getChild("system-shutdown", "urn:ietf:params:xml:ns:xmpp-streams"));
  await bound.closed;
  await idle.closed;
});

/** Romeo, over TCP, makes room@conference.localhost, an instant room (XEP-0045 §10.1.2). */
async function makeRoom(romeo: Awaited<ReturnType<typeof login>>): Promise<void> {
  romeo.send(
    "<presence to='room@conference.localhost/Romeo'>" +
      "<x xmlns='http://jabber.org/protocol/muc'/></presence>",
  );
  await romeo.waitForStanza({
    match: (s) => s.name === "presence" && s.attrs.from === "room@conference.localhost/Romeo",
  });
  romeo.send(
    "<iq to='room@conference.localhost' type='set' id='create'>" +
      "<query xmlns='http://jabber.org/protocol/muc#owner'>" +
      "<x xmlns='jabber:x:data' type='submit'/></query></iq>",
  );
  const created = await romeo.waitForStanza({ match: (s) => s.attrs.id === "create" });
  assert.equal(created.stanza.attrs.type, "result");
}

/** The Strophe.js release the browser test loads, from the npm registry through Deno's cache. */
const STROPHE = "strophe.js@3.0.1";

/**
 * The folder of an npm package in Deno's cache: `deno cache` fetches it from the npm registry
 * (once; offline afterwards) without touching the project's lock file or configuration, and
 * `deno info` says where the cache is.
 */
async function npmPackageDir(spec: string): Promise<string> {
  const deno = Deno.execPath();
  const cwd = await Deno.makeTempDir({ prefix: "verona-npm-" });
  try {
    const cached = await new Deno.Command(deno, {
      args: ["cache", "--no-config", "--no-lock", `npm:${spec}`],
      cwd,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!cached.success) {
      throw new Error(`cannot fetch npm:${spec}: ${new TextDecoder().decode(cached.stderr)}`);
    }
    const info = await new Deno.Command(deno, { args: ["info", "--json"], cwd, stdout: "piped" })
      .output();
    const { npmCache } = JSON.parse(new TextDecoder().decode(info.stdout)) as { npmCache: string };
    const at = spec.lastIndexOf("@");
    return join(npmCache, "registry.npmjs.org", spec.slice(0, at), spec.slice(at + 1));
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
}

/** The browser build of Strophe.js. */
async function stropheScript(): Promise<string> {
  return await Deno.readTextFile(
    join(await npmPackageDir(STROPHE), "dist", "strophe.umd.min.js"),
  );
}

/**
 * A small web chat on Strophe.js: it finds the WebSocket endpoint in host-meta (XEP-0156),
 * logs in, joins the room and shows what is said there; `window.chat` is what the test reads.
 */
const CHAT_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Verona web chat</title>
<style>
  body { font: 16px sans-serif; margin: 2em; }
  #status { color: #555; } #log { border: 1px solid #ccc; padding: 1em; min-height: 10em; }
  .nick { font-weight: bold; margin-right: .5em; }
</style>
<script src="/strophe.js"></script></head>
<body><h1>room@conference.localhost</h1><p id="status">starting</p><div id="log"></div>
<script>
const { Strophe, $pres, $msg } = window.strophe;
const params = new URLSearchParams(location.search);
const room = "room@conference.localhost";
window.chat = { status: "starting", joined: false, messages: [], url: "" };
function status(text) {
  window.chat.status = text;
  document.getElementById("status").textContent = text;
}
async function discover(origin) {
  const response = await fetch(origin + "/.well-known/host-meta");
  const xrd = new DOMParser().parseFromString(await response.text(), "application/xml");
  for (const link of xrd.getElementsByTagName("Link")) {
    if (link.getAttribute("rel") === "urn:xmpp:alt-connections:websocket") {
      return link.getAttribute("href");
    }
  }
  throw new Error("no WebSocket link in host-meta");
}
(async () => {
  const url = await discover(params.get("origin"));
  window.chat.url = url;
  status("connecting to " + url);
  const connection = new Strophe.Connection(url);
  connection.addHandler((message) => {
    const body = message.getElementsByTagName("body")[0];
    if (body) {
      const nick = Strophe.getResourceFromJid(message.getAttribute("from"));
      window.chat.messages.push({ nick, body: body.textContent });
      const line = document.createElement("div");
      const who = document.createElement("span");
      who.className = "nick";
      who.textContent = nick;
      line.append(who, body.textContent);
      document.getElementById("log").append(line);
    }
    return true;
  }, null, "message", "groupchat");
  connection.addHandler((presence) => {
    const self = [...presence.getElementsByTagName("status")]
      .some((s) => s.getAttribute("code") === "110");
    if (self && !window.chat.joined) {
      window.chat.joined = true;
      status("joined " + room + " as Juliet");
      connection.send($msg({ to: room, type: "groupchat" }).c("body").t("Hello from the browser"));
    }
    return true;
  }, null, "presence");
  connection.connect("juliet@localhost", params.get("password"), (state, condition) => {
    window.chat.mechanism = connection._sasl_mechanism?.mechname;
    if (state === Strophe.Status.CONNECTED) {
      status("logged in as " + connection.jid);
      connection.send($pres());
      connection.send($pres({ to: room + "/Juliet" }).c("x", { xmlns: Strophe.NS.MUC }));
    } else if (state === Strophe.Status.CONNFAIL || state === Strophe.Status.AUTHFAIL) {
      status("failed: " + condition);
    }
  });
})().catch((error) => status("failed: " + error));
</script></body></html>`;

Deno.test("Strophe.js in Chromium finds the endpoint in host-meta and chats in a room", async () => {
  await using browser = await Chromium.launch({ width: 900, height: 600 });
  const script = await stropheScript();
  await using test = await startTestServer({
    accounts: [["juliet", "pw-j"], ["romeo", "pw-r"]],
  });
  await using romeo = await login(test.port, "romeo@localhost", "pw-r");
  await makeRoom(romeo);

  // The page comes from elsewhere (its own origin), as a web client hosted apart would.
  await using site = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) =>
      new URL(req.url).pathname === "/strophe.js"
        ? new Response(script, { headers: { "content-type": "text/javascript" } })
        : new Response(CHAT_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }),
  );
  const page = await browser.page();
  const origin = `https://localhost:${test.server.http!.securePort}`;
  await page.navigate(
    `http://127.0.0.1:${site.addr.port}/?origin=${encodeURIComponent(origin)}&password=pw-j`,
  );
  await page.waitFor("window.chat?.joined || window.chat?.status.startsWith('failed')");
  assert.equal(
    await page.evaluate("window.chat.status"),
    "joined room@conference.localhost as Juliet",
    page.console.join("\n"),
  );
  assert.equal(
    await page.evaluate("window.chat.url"),
    `wss://localhost:${test.server.http!.securePort}/xmpp-websocket`,
  );
  assert.equal(await page.evaluate("window.chat.mechanism"), "SCRAM-SHA-256");

  const fromBrowser = await romeo.waitForStanza({
    match: (s) => s.name === "message" && s.attrs.from === "room@conference.localhost/Juliet",
  });
  assert.equal(fromBrowser.stanza.getChildText("body"), "Hello from the browser");

  romeo.send(
    "<message to='room@conference.localhost' type='groupchat'><body>Hello from TCP</body></message>",
  );
  await page.waitFor(
    "window.chat.messages.some((m) => m.nick === 'Romeo' && m.body === 'Hello from TCP')",
  );
  const shown = await page.evaluate<string>("document.getElementById('log').innerText");
  assert.match(shown, /Juliet\s*Hello from the browser/);
  assert.match(shown, /Romeo\s*Hello from TCP/);
  const screenshot = join(test.dataDir, "websocket-chat.png");
  await page.screenshot(screenshot);
  assert.ok((await Deno.stat(screenshot)).size > 1000);
  if (Deno.env.get("VERONA_KEEP_SCREENSHOT")) {
    await Deno.copyFile(screenshot, Deno.env.get("VERONA_KEEP_SCREENSHOT")!);
  }
  page.close();
});

/** The Converse.js release of the second browser test. */
const CONVERSE = "converse.js@14.0.0";

const CONVERSE_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Converse.js on Verona</title>
<link rel="stylesheet" href="/dist/converse.min.css">
<script type="module" src="/dist/converse.min.js"></script></head>
<body class="converse-fullscreen">
<script type="module">
const params = new URLSearchParams(location.search);
converse.initialize({
  assets_path: "/dist/",
  view_mode: "fullscreen",
  i18n: "en",
  websocket_url: params.get("ws"),
  discover_connection_methods: false,
  auto_login: true,
  jid: "juliet@localhost",
  password: params.get("password"),
  auto_join_rooms: [{ jid: "room@conference.localhost", nick: "Juliet" }],
  play_sounds: false,
  show_desktop_notifications: false,
  persistent_store: "sessionStorage",
});
</script></body></html>`;

const CONTENT_TYPES: Record<string, string> = {
  js: "text/javascript",
  css: "text/css",
  json: "application/json",
  wasm: "application/wasm",
  svg: "image/svg+xml",
  woff2: "font/woff2",
  woff: "font/woff",
  ttf: "font/ttf",
  png: "image/png",
};

Deno.test("Converse.js in Chromium logs in over wss:// and chats in a room", async () => {
  await using browser = await Chromium.launch({ width: 1200, height: 800 });
  const dist = join(await npmPackageDir(CONVERSE), "dist");
  await using test = await startTestServer({
    accounts: [["juliet", "pw-j"], ["romeo", "pw-r"]],
  });
  await using romeo = await login(test.port, "romeo@localhost", "pw-r");
  await makeRoom(romeo);
  await using site = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      if (!path.startsWith("/dist/")) {
        return new Response(CONVERSE_PAGE, { headers: { "content-type": "text/html" } });
      }
      const file = join(dist, ...path.slice("/dist/".length).split("/").filter((p) => p !== ".."));
      try {
        const type = CONTENT_TYPES[path.split(".").pop()!] ?? "application/octet-stream";
        return new Response(await Deno.readFile(file), { headers: { "content-type": type } });
      } catch {
        return new Response("Not Found", { status: 404 });
      }
    },
  );
  const page = await browser.page();
  const ws = `wss://localhost:${test.server.http!.securePort}/xmpp-websocket`;
  await page.navigate(
    `http://127.0.0.1:${site.addr.port}/?ws=${encodeURIComponent(ws)}&password=pw-j`,
  );
  // Joined: the room's message box is there.
  await page.waitFor("document.querySelector('converse-muc textarea.chat-textarea')", 30_000);
  const joined = await romeo.waitForStanza({
    match: (s) => s.name === "presence" && s.attrs.from === "room@conference.localhost/Juliet",
    timeoutMs: 10_000,
  });
  assert.equal(joined.stanza.attrs.type, undefined);

  // Juliet types a message and presses Enter, as a person would.
  await page.evaluate(`(() => {
    const box = document.querySelector('converse-muc textarea.chat-textarea');
    box.value = 'Hello from Converse';
    box.dispatchEvent(new Event('input', { bubbles: true }));
    box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', keyCode: 13, bubbles: true }));
  })()`);
  const said = await romeo.waitForStanza({
    match: (s) =>
      s.name === "message" && s.attrs.from === "room@conference.localhost/Juliet" &&
      s.getChildText("body") !== undefined,
    timeoutMs: 10_000,
  });
  assert.equal(said.stanza.getChildText("body"), "Hello from Converse");

  romeo.send(
    "<message to='room@conference.localhost' type='groupchat'><body>Hello from TCP</body></message>",
  );
  await page.waitFor(
    "[...document.querySelectorAll('converse-muc .chat-msg__text')]" +
      ".some((e) => e.textContent.includes('Hello from TCP'))",
  );
  const shown = await page.evaluate<string>(
    "[...document.querySelectorAll('converse-muc .chat-msg')].map((e) => e.innerText).join('\\n')",
  );
  assert.match(shown, /Juliet[\s\S]*Hello from Converse/);
  assert.match(shown, /Romeo[\s\S]*Hello from TCP/);
  const screenshot = join(test.dataDir, "converse.png");
  await page.screenshot(screenshot);
  if (Deno.env.get("VERONA_KEEP_SCREENSHOT")) {
    await Deno.copyFile(screenshot, Deno.env.get("VERONA_KEEP_SCREENSHOT")!);
  }
  page.close();
});
