import { strict as assert } from "node:assert";
import {
  connectReply,
  methodReply,
  parseConnect,
  type Parsed,
  parseGreeting,
  Reply,
} from "./socks5.ts";

const HASH = "98b8d688d0f5d895fd41c5e7309a2e9e33ba32ff";

function connectRequest(
  address = HASH,
  options: { cmd?: number; atyp?: number; port?: number } = {},
) {
  const bytes = [5, options.cmd ?? 1, 0, options.atyp ?? 3, address.length];
  for (const c of address) bytes.push(c.charCodeAt(0));
  const port = options.port ?? 0;
  bytes.push(port >> 8, port & 0xff);
  return new Uint8Array(bytes);
}

/** Every proper prefix asks for more; the whole message parses to `expected`. */
function assertAtEveryOffset<T>(
  parse: (b: Uint8Array) => Parsed<T>,
  bytes: Uint8Array,
  expected: Parsed<T>,
) {
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.deepEqual(parse(bytes.subarray(0, cut)), { kind: "more" }, `prefix of ${cut} bytes`);
  }
  assert.deepEqual(parse(bytes), expected);
}

Deno.test("parseGreeting() accepts a greeting offering no-authentication, at any split", () => {
  assertAtEveryOffset(parseGreeting, new Uint8Array([5, 1, 0]), {
    kind: "done",
    value: undefined,
    length: 3,
  });
  assertAtEveryOffset(parseGreeting, new Uint8Array([5, 3, 2, 1, 0]), {
    kind: "done",
    value: undefined,
    length: 5,
  });
});

Deno.test("parseGreeting() reports the length, so what follows is the request", () => {
  const both = new Uint8Array([5, 1, 0, ...connectRequest()]);
  const greeting = parseGreeting(both);
  assert.equal(greeting.kind, "done");
  if (greeting.kind !== "done") return;
  assert.deepEqual(parseConnect(both.subarray(greeting.length)), {
    kind: "done",
    value: HASH,
    length: 47,
  });
});

Deno.test("parseGreeting() refuses another version, no methods, and methods without 0x00", () => {
  assert.equal(parseGreeting(new Uint8Array([4, 1, 0])).kind, "error");
  assert.equal(parseGreeting(new Uint8Array([5, 0])).kind, "error");
  const gssapiOnly = parseGreeting(new Uint8Array([5, 2, 1, 2]));
  assert.equal(gssapiOnly.kind, "error");
  assert.equal(gssapiOnly.kind === "error" && gssapiOnly.reason, "no-authentication not offered");
});

Deno.test("parseConnect() takes CONNECT to a hex SHA-1 domain name and port 0, at any split", () => {
  assertAtEveryOffset(parseConnect, connectRequest(), { kind: "done", value: HASH, length: 47 });
});

Deno.test("parseConnect() refuses other commands, address types, addresses and ports", () => {
  const reply = (bytes: Uint8Array) => {
    const parsed = parseConnect(bytes);
    return parsed.kind === "error" ? parsed.reply : parsed.kind;
  };
  assert.equal(reply(connectRequest(HASH, { cmd: 2 })), Reply.COMMAND_NOT_SUPPORTED); // BIND
  assert.equal(reply(connectRequest(HASH, { cmd: 3 })), Reply.COMMAND_NOT_SUPPORTED); // UDP
  assert.equal(
    reply(new Uint8Array([5, 1, 0, 1, 127, 0, 0, 1, 0, 0])),
    Reply.ADDRESS_TYPE_NOT_SUPPORTED,
  );
  assert.equal(reply(connectRequest("example.org")), Reply.NOT_ALLOWED);
  assert.equal(reply(connectRequest(HASH.toUpperCase())), Reply.NOT_ALLOWED);
  assert.equal(reply(connectRequest(HASH.slice(1))), Reply.NOT_ALLOWED);
  assert.equal(reply(connectRequest(HASH, { port: 80 })), Reply.NOT_ALLOWED);
  assert.equal(reply(new Uint8Array([4, 1, 0, 3, 0])), Reply.GENERAL_FAILURE);
});

Deno.test("methodReply() and connectReply() are RFC 1928's, BND.ADDR repeating the hash", () => {
  assert.deepEqual([...methodReply(0)], [5, 0]);
  assert.deepEqual([...methodReply(0xff)], [5, 0xff]);
  const ok = connectReply(Reply.SUCCEEDED, HASH);
  assert.deepEqual([...ok.subarray(0, 5)], [5, 0, 0, 3, 40]);
  assert.equal(new TextDecoder().decode(ok.subarray(5, 45)), HASH);
  assert.deepEqual([...ok.subarray(45)], [0, 0]);
  assert.deepEqual([...connectReply(Reply.NOT_ALLOWED)], [5, 2, 0, 3, 0, 0, 0]);
});
