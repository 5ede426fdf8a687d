// XMPP over WebSocket (RFC 7395) and host-meta (XEP-0156) against a real server: Deno's own
// WebSocket client speaking the framing by hand, then a real web client library (Strophe.js) in
// headless Chromium that logs in over wss://, found through host-meta, and chats in a MUC room
// with a TCP client.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { login } from "./_clients.ts";
import { startTestServer, type TestServer } from "./_harness.ts";
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
