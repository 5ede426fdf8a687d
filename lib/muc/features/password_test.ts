import { strict as assert } from "node:assert";
import { el } from "../../xml/element.ts";
import { parseJid } from "../../jid/jid.ts";
import { NS } from "../../stanza/ns.ts";
import { MemoryRoomStore } from "../../storage/room_store.ts";
import { MucHooks } from "../hooks.ts";
import { Room } from "../room.ts";
import { DEFAULT_ROOM_CONFIG, type RoomConfig } from "../room_config.ts";
import { readConfigSubmission } from "../config_form.ts";
import { passwordFeature } from "./password.ts";

function setup(): { hooks: MucHooks; room: Room } {
  const hooks = new MucHooks();
  passwordFeature(hooks);
  const room = new Room("coven@chat.shakespeare.lit", {
    hooks,
    deliver: () => {},
    store: new MemoryRoomStore(),
    isServiceAdmin: () => false,
    removed: () => {},
    sessionChanged: () => {},
  }, { config: { ...DEFAULT_ROOM_CONFIG } });
  return { hooks, room };
}

function join(password?: string) {
  return el(
    "presence",
    {},
    el("x", { xmlns: NS.MUC }, password !== undefined && el("password", {}, password)),
  );
}

async function configure(room: Room, hooks: MucHooks, fields: Record<string, string[]>) {
  const patch: Partial<RoomConfig> = await readConfigSubmission(
    room,
    hooks.fields,
    new Map(Object.entries(fields)),
  );
  room.updateConfig(patch);
}

Deno.test("passwordFeature: entering needs the password once one is set", async () => {
  const { hooks, room } = setup();
  const event = (stanza: ReturnType<typeof join>) => ({
    room,
    stanza,
    origin: parseJid("thirdwitch@shakespeare.lit/pda"),
    nick: "thirdwitch",
    affiliation: "none" as const,
  });
  assert.equal(await hooks.fireVeto("occupant-pre-join", event(join())), undefined);

  await configure(room, hooks, { "muc#roomconfig_roomsecret": ["cauldronburn"] });
  assert.ok(room.config.passwordHash?.startsWith("pbkdf2-sha256$"));
  assert.ok(!room.config.passwordHash?.includes("cauldronburn"));

  for (const wrong of [undefined, "", "Cauldronburn"]) {
    const refused = await hooks.fireVeto("occupant-pre-join", event(join(wrong)));
    assert.equal(refused?.type, "auth");
    assert.equal(refused?.condition, "not-authorized");
  }
  assert.equal(
    await hooks.fireVeto("occupant-pre-join", event(join("cauldronburn"))),
    undefined,
  );
});

Deno.test("passwordFeature: the form never shows the secret; disco shows protection", async () => {
  const { hooks, room } = setup();
  const secret = hooks.fields.find((f) => f.var === "muc#roomconfig_roomsecret")!;
  const features = () => {
    const event = { room, origin: parseJid("a@b/c"), features: new Set<string>(), fields: [] };
    hooks.fireContribute("disco-info", event);
    return [...event.features];
  };
  assert.deepEqual(features(), ["muc_unsecured"]);
  await configure(room, hooks, { "muc#roomconfig_roomsecret": ["pw"] });
  assert.equal(secret.get(room.config), null);
  assert.deepEqual(features(), ["muc_passwordprotected"]);
  await configure(room, hooks, { "muc#roomconfig_roomsecret": [""] });
  assert.deepEqual(features(), ["muc_unsecured"]);
});

Deno.test("passwordFeature: wrong-password floods are bounded per user and per room; the learnt secret needs no PBKDF2", async () => {
  const { hooks, room } = setup();
  await configure(room, hooks, { "muc#roomconfig_roomsecret": ["cauldronburn"] });
  const attempt = (who: string, password: string) =>
    hooks.fireVeto("occupant-pre-join", {
      room,
      stanza: join(password),
      origin: parseJid(`${who}@shakespeare.lit/pda`),
      nick: who,
      affiliation: "none" as const,
    });
  // Someone enters with the password: the room learns it.
  assert.equal(await attempt("owner", "cauldronburn"), undefined);
  // One user: a few tries, then resource-constraint without a PBKDF2 run.
  const answers = [];
  for (let i = 0; i < 8; i++) answers.push((await attempt("guesser", `guess${i}`))?.condition);
  assert.deepEqual(answers.slice(0, 5), Array(5).fill("not-authorized"));
  assert.deepEqual(answers.slice(5), Array(3).fill("resource-constraint"));
  // Many users against one room: the room's bound holds too.
  const many = [];
  for (let i = 0; i < 30; i++) many.push((await attempt(`user${i}`, "wrong"))?.condition);
  assert.ok(many.includes("resource-constraint"), "the room's bound applies across users");
  // The secret the room learnt lets members in without PBKDF2, even now.
  assert.equal(await attempt("member", "cauldronburn"), undefined);
});
