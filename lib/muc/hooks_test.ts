import { strict as assert } from "node:assert";
import { el } from "../xml/element.ts";
import { parseJid } from "../jid/jid.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { MemoryRoomStore } from "../storage/room_store.ts";
import { MucHooks, Priority } from "./hooks.ts";
import { Room } from "./room.ts";
import { DEFAULT_ROOM_CONFIG } from "./room_config.ts";

function testRoom(hooks: MucHooks): Room {
  return new Room("room@conference.localhost", {
    hooks,
    deliver: () => {},
    store: new MemoryRoomStore(),
    isServiceAdmin: () => false,
    removed: () => {},
    sessionChanged: () => {},
  }, { config: { ...DEFAULT_ROOM_CONFIG } });
}

function preJoin(hooks: MucHooks) {
  return {
    room: testRoom(hooks),
    stanza: el("presence"),
    origin: parseJid("juliet@capulet.lit/balcony"),
    nick: "Juliet",
    affiliation: "none" as const,
  };
}

Deno.test("MucHooks.fireVeto() runs highest priority first and stops at the first error", async () => {
  const hooks = new MucHooks();
  const ran: string[] = [];
  hooks.on("occupant-pre-join", () => {
    ran.push("late");
  }, Priority.LATE);
  hooks.on("occupant-pre-join", () => {
    ran.push("access");
    return new StanzaError("auth", "forbidden");
  }, Priority.ACCESS);
  hooks.on("occupant-pre-join", async () => {
    await Promise.resolve();
    ran.push("validate");
  }, Priority.VALIDATE);
  const result = await hooks.fireVeto("occupant-pre-join", preJoin(hooks));
  assert.equal(result?.condition, "forbidden");
  assert.deepEqual(ran, ["validate", "access"]);
});

Deno.test("MucHooks.fireVeto() takes a thrown StanzaError as a veto, and nothing as consent", async () => {
  const hooks = new MucHooks();
  assert.equal(await hooks.fireVeto("occupant-pre-join", preJoin(hooks)), undefined);
  hooks.on("occupant-pre-join", () => {
    throw new StanzaError("cancel", "conflict");
  });
  assert.equal((await hooks.fireVeto("occupant-pre-join", preJoin(hooks)))?.condition, "conflict");
});

Deno.test("a crashing veto handler is logged and becomes internal-server-error", async () => {
  const logs: string[] = [];
  const hooks = new MucHooks({ log: (line) => logs.push(line) });
  hooks.on("occupant-pre-join", () => {
    throw new TypeError("oops");
  });
  const result = await hooks.fireVeto("occupant-pre-join", preJoin(hooks));
  assert.equal(result?.condition, "internal-server-error");
  assert.match(logs[0], /^muc: hook "occupant-pre-join" failed: TypeError: oops/);
});

Deno.test("a crashing contribute handler is logged and the chain goes on", () => {
  const logs: string[] = [];
  const hooks = new MucHooks({ log: (line) => logs.push(line) });
  hooks.on("disco-info", () => {
    throw new Error("first");
  }, Priority.ACCESS);
  hooks.on("disco-info", ({ features }) => {
    features.add("muc_open");
  });
  const event = {
    room: testRoom(hooks),
    origin: parseJid("a@b/c"),
    features: new Set<string>(),
    fields: [],
  };
  hooks.fireContribute("disco-info", event);
  assert.deepEqual([...event.features], ["muc_open"]);
  assert.equal(logs.length, 1);
});

Deno.test("MucHooks.field() keeps registration order and refuses a var twice", () => {
  const hooks = new MucHooks();
  const field = (name: string) => ({
    var: name,
    type: "boolean" as const,
    label: name,
    get: () => true,
    set: () => {},
  });
  hooks.field(field("b"));
  hooks.field(field("a"));
  assert.deepEqual(hooks.fields.map((f) => f.var), ["b", "a"]);
  assert.throws(() => hooks.field(field("a")), /Cannot declare field "a": it is already declared/);
});

Deno.test("MucHooks.iq() finds handlers by type, namespace and name; refuses a second one", () => {
  const hooks = new MucHooks();
  const handler = () => {};
  hooks.iq("get", "urn:x", "query", handler);
  assert.equal(hooks.iqHandler("get", "urn:x", "query"), handler);
  assert.equal(hooks.iqHandler("set", "urn:x", "query"), undefined);
  assert.throws(() => hooks.iq("get", "urn:x", "query", handler), /already has a handler/);
});
