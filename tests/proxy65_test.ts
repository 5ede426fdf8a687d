// The SOCKS5 Bytestreams proxy (lib/proxy65) over real sockets: two raw SOCKS5 clients name the
// same hash (XEP-0065 §6.3.2, §6.3.3), the requester activates the stream with an iq (§6.3.4)
// and 1 MiB goes each way intact; refusals (a third connection, activation by someone else or
// too early, an unknown stream), the pending timeout and the per-address and rate bounds.
import { strict as assert } from "node:assert";
import { ReplayClient } from "../lib/replay/client.ts";
import { streamHash } from "../lib/proxy65/hash.ts";
import { NS } from "../lib/stanza/ns.ts";
import { el, type Element } from "../lib/xml/element.ts";
import type { Config } from "../lib/config/mod.ts";
import { startTestServer } from "./_harness.ts";

const BYTESTREAMS = "http://jabber.org/protocol/bytestreams";
const PROXY = "proxy.localhost";
const ACCOUNTS: [string, string][] = [["romeo", "romeo-pass"], ["juliet", "juliet-pass"], [
  "tybalt",
  "tybalt-pass",
]];

function enable(more: Partial<Config["proxy65"]> = {}) {
  return (config: Config) => {
    Object.assign(config.proxy65, { enabled: true, port: 0, bind: "127.0.0.1", ...more });
  };
}

async function login(port: number, user: string): Promise<ReplayClient> {
  const client = new ReplayClient();
  await client.connect({
    host: "127.0.0.1",
    port,
    jid: `${user}@localhost`,
    password: `${user}-pass`,
  });
  return client;
}

let counter = 0;
async function iq(client: ReplayClient, type: string, to: string, payload: Element) {
  const id = `p65-${++counter}`;
  client.send(el("iq", { type, id, to }, payload));
  const { stanza } = await client.waitForStanza({ match: (s) => s.attrs.id === id });
  return stanza;
}

const condition = (stanza: Element) =>
  stanza.getChild("error")?.children.find((c) => typeof c !== "string")?.name;

/** The proxy's <streamhost/>, as a client discovers it. */
async function streamhost(client: ReplayClient) {
  const answer = await iq(client, "get", PROXY, el("query", { xmlns: BYTESTREAMS }));
  const host = answer.getChild("query", BYTESTREAMS)!.getChild("streamhost")!;
  return { host: host.attrs.host!, port: Number(host.attrs.port), jid: host.attrs.jid };
}

/** A raw SOCKS5 client through the handshake; returns the connection and the CONNECT reply. */
async function socks(port: number, hash: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new Uint8Array([5, 1, 0]));
  const method = await readExactly(conn, 2);
  assert.deepEqual([...method], [5, 0]);
  const request = new Uint8Array([
    5,
    1,
    0,
    3,
    hash.length,
    ...new TextEncoder().encode(hash),
    0,
    0,
  ]);
  // Split the request to check the proxy reassembles it.
  await conn.write(request.subarray(0, 9));
  await conn.write(request.subarray(9));
  const head = await readExactly(conn, 5);
  const rest = await readExactly(conn, head[4] + 2);
  return { conn, reply: head[1], bound: new TextDecoder().decode(rest.subarray(0, head[4])) };
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(out.subarray(got));
    if (read === null) throw new Error(`EOF after ${got} of ${n} bytes`);
    got += read;
  }
  return out;
}

async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

function random(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

/** Sends `data` then half-closes, while reading what the other side sends until it does too. */
async function exchange(conn: Deno.TcpConn, data: Uint8Array): Promise<Uint8Array> {
  const [, received] = await Promise.all([
    writeAll(conn, data).then(() => conn.closeWrite()),
    readToEnd(conn),
  ]);
  return received;
}

const activateQuery = (sid: string, target: string) =>
  el("query", { xmlns: BYTESTREAMS, sid }, el("activate", {}, target));

Deno.test("proxy65: discovery, activation by the requester, and 1 MiB relayed each way", async () => {
  await using test = await startTestServer({ accounts: ACCOUNTS, configure: enable() });
  await using romeo = await login(test.port, "romeo");
  await using juliet = await login(test.port, "juliet");
  await using tybalt = await login(test.port, "tybalt");

  const items = await iq(romeo, "get", "localhost", el("query", { xmlns: NS.DISCO_ITEMS }));
  assert.ok(
    items.getChild("query", NS.DISCO_ITEMS)!.getChildren("item").some((i) => i.attrs.jid === PROXY),
  );
  const info = await iq(romeo, "get", PROXY, el("query", { xmlns: NS.DISCO_INFO }));
  const query = info.getChild("query", NS.DISCO_INFO)!;
  assert.deepEqual(query.getChildren("identity").map((i) => [i.attrs.category, i.attrs.type]), [[
    "proxy",
    "bytestreams",
  ]]);
  assert.ok(query.getChildren("feature").some((f) => f.attrs.var === BYTESTREAMS));
  const host = await streamhost(romeo);
  assert.deepEqual({ jid: host.jid, host: host.host }, { jid: PROXY, host: "127.0.0.1" });

  const sid = "s5b-" + crypto.randomUUID();
  const hash = streamHash(sid, romeo.fullJid, juliet.fullJid);
  // Unknown stream: nobody connected with this hash yet.
  let answer = await iq(romeo, "set", PROXY, activateQuery(sid, juliet.fullJid));
  assert.equal(condition(answer), "item-not-found");

  const target = await socks(host.port, hash);
  assert.deepEqual([target.reply, target.bound], [0, hash]);
  // Only the target is there: §6.3.4 not-allowed.
  answer = await iq(romeo, "set", PROXY, activateQuery(sid, juliet.fullJid));
  assert.equal(condition(answer), "not-allowed");

  const requester = await socks(host.port, hash);
  assert.equal(requester.reply, 0);
  // A third connection for the same hash is refused (RFC 1928 reply 0x02).
  const third = await socks(host.port, hash);
  assert.equal(third.reply, 2);
  assert.equal(await third.conn.read(new Uint8Array(1)), null);
  third.conn.close();

  // Anyone else asking to activate hashes another JID: item-not-found; so does the target.
  answer = await iq(tybalt, "set", PROXY, activateQuery(sid, juliet.fullJid));
  assert.equal(condition(answer), "item-not-found");
  answer = await iq(juliet, "set", PROXY, activateQuery(sid, romeo.fullJid));
  assert.equal(condition(answer), "item-not-found");
  // Malformed requests.
  answer = await iq(romeo, "set", PROXY, el("query", { xmlns: BYTESTREAMS, sid }));
  assert.equal(condition(answer), "bad-request");

  answer = await iq(romeo, "set", PROXY, activateQuery(sid, juliet.fullJid));
  assert.equal(answer.attrs.type, "result");
  answer = await iq(romeo, "set", PROXY, activateQuery(sid, juliet.fullJid));
  assert.equal(condition(answer), "not-allowed"); // already active

  const toTarget = random(1 << 20);
  const toRequester = random(1 << 20);
  const [atRequester, atTarget] = await Promise.all([
    exchange(requester.conn, toTarget),
    exchange(target.conn, toRequester),
  ]);
  assert.equal(atTarget.length, toTarget.length);
  assert.equal(atRequester.length, toRequester.length);
  assert.ok(atTarget.every((b, i) => b === toTarget[i]), "target got the requester's bytes");
  assert.ok(atRequester.every((b, i) => b === toRequester[i]), "requester got the target's bytes");
  requester.conn.close();
  target.conn.close();
});

Deno.test("proxy65: unactivated connections time out, and waiting connections per address are bounded", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: enable({ pendingTimeoutMs: 300, maxPendingPerAddress: 2 }),
  });
  await using romeo = await login(test.port, "romeo");
  const { port } = await streamhost(romeo);
  const a = await socks(port, streamHash("a", "x", "y"));
  const b = await socks(port, streamHash("b", "x", "y"));
  // A third waiting connection from 127.0.0.1 is closed at once.
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  assert.equal(await c.read(new Uint8Array(1)), null);
  c.close();
  const started = performance.now();
  assert.equal(await a.conn.read(new Uint8Array(1)), null);
  assert.equal(await b.conn.read(new Uint8Array(1)), null);
  const waited = performance.now() - started;
  assert.ok(waited < 3000, `closed after ${waited} ms`);
  a.conn.close();
  b.conn.close();
  // Slots are free again.
  const d = await socks(port, streamHash("d", "x", "y"));
  assert.equal(d.reply, 0);
  d.conn.close();
});

Deno.test("proxy65: bytes per second per pair, and the per-transfer limit", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: enable({ rateBytes: 262144, burstBytes: 65536, maxTransferBytes: 600_000 }),
  });
  await using romeo = await login(test.port, "romeo");
  await using juliet = await login(test.port, "juliet");
  const { port } = await streamhost(romeo);
  const activated = async (sid: string) => {
    const hash = streamHash(sid, romeo.fullJid, juliet.fullJid);
    const target = await socks(port, hash);
    const requester = await socks(port, hash);
    const answer = await iq(romeo, "set", PROXY, activateQuery(sid, juliet.fullJid));
    assert.equal(answer.attrs.type, "result");
    return { target, requester };
  };
  // 512 KiB at 256 KiB/s after a 64 KiB burst: at least 1.7 s.
  let { target, requester } = await activated("rate");
  const started = performance.now();
  const sent = random(512 * 1024);
  const [received] = await Promise.all([
    readToEnd(target.conn),
    writeAll(requester.conn, sent).then(() => requester.conn.closeWrite()),
  ]);
  const elapsed = performance.now() - started;
  assert.equal(received.length, sent.length);
  assert.ok(elapsed >= 1500, `512 KiB in ${elapsed} ms`);
  target.conn.close();
  requester.conn.close();

  // Past max_transfer_bytes the pair is closed: the target gets less than was sent.
  ({ target, requester } = await activated("limit"));
  const big = random(1 << 20);
  const [cut] = await Promise.all([
    readToEnd(target.conn),
    writeAll(requester.conn, big).catch(() => {}),
  ]);
  assert.ok(cut.length <= 600_000, `${cut.length} bytes passed`);
  target.conn.close();
  requester.conn.close();
});

Deno.test("proxy65: active pairs per user, the idle timeout, and a reader that does not read", async () => {
  await using test = await startTestServer({
    accounts: ACCOUNTS,
    configure: enable({
      maxActivePerUser: 1,
      idleTimeoutMs: 600,
      rateBytes: 1 << 30,
      burstBytes: 1 << 30,
    }),
  });
  await using romeo = await login(test.port, "romeo");
  await using juliet = await login(test.port, "juliet");
  const { port } = await streamhost(romeo);
  const pair = async (sid: string) => {
    const hash = streamHash(sid, romeo.fullJid, juliet.fullJid);
    return { target: await socks(port, hash), requester: await socks(port, hash) };
  };
  const first = await pair("first");
  assert.equal(
    (await iq(romeo, "set", PROXY, activateQuery("first", juliet.fullJid))).attrs.type,
    "result",
  );
  // Romeo already relays one stream: the second waits (resource-constraint).
  const second = await pair("second");
  const refused = await iq(romeo, "set", PROXY, activateQuery("second", juliet.fullJid));
  assert.equal(condition(refused), "resource-constraint");
  assert.equal(refused.getChild("error")!.attrs.type, "wait");

  // The target reads nothing: the requester's writes stall once the buffers on the way are full,
  // instead of the proxy queueing what it cannot pass on (every write awaits the previous one).
  const chunk = new Uint8Array(65536);
  let written = 0;
  const stalled = (async () => {
    try {
      for (;;) {
        written += await first.requester.conn.write(chunk);
      }
    } catch {
      // closed below
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 400));
  const afterStall = written;
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(afterStall < 64 * 1024 * 1024, `${afterStall} bytes accepted`);
  assert.equal(written, afterStall, "the writer is paused");
  first.requester.conn.close();
  first.target.conn.close();
  await stalled;

  // The first pair is gone: the second may be activated, then times out once idle.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(
    (await iq(romeo, "set", PROXY, activateQuery("second", juliet.fullJid))).attrs.type,
    "result",
  );
  const started = performance.now();
  assert.equal(await second.target.conn.read(new Uint8Array(1)), null);
  assert.equal(await second.requester.conn.read(new Uint8Array(1)), null);
  const idle = performance.now() - started;
  assert.ok(idle >= 400 && idle < 3000, `closed after ${idle} ms idle`);
  second.target.conn.close();
  second.requester.conn.close();
});
