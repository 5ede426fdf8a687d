import { strict as assert } from "node:assert";
import { DatabaseSync } from "node:sqlite";
import { StanzaError } from "../../stanza/stanza_error.ts";
import { FEATURES_WITHOUT_OCCUPANT_ID, Harness, stanza } from "../_testing.ts";
import { MUC_MODULE } from "../mod.ts";
import {
  MemoryRoomVcardStore,
  photoHash,
  type RoomVcardStore,
  SqliteRoomVcardStore,
  vcardFeature,
} from "./vcard.ts";

const ROMEO = "romeo@localhost/orchard";
const JULIET = "juliet@localhost/balcony";
const NURSE = "nurse@localhost/kitchen";
const ADMIN = "admin@localhost/desk";
const ROOM = "hall@conference.localhost";
// "hello" in base64, and the SHA-1 of those five bytes.
const PHOTO = "aGVs\n bG8=";
const HASH = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";

function vcardWith(photo: string | undefined, fn = "The Hall"): string {
  const image = photo === undefined
    ? ""
    : `<PHOTO><TYPE>image/png</TYPE><BINVAL>${photo}</BINVAL></PHOTO>`;
  return `<vCard xmlns='vcard-temp'><FN>${fn}</FN>${image}</vCard>`;
}

function setVcard(from: string, vcard: string, id = "set"): string {
  return `<iq from='${from}' to='${ROOM}' type='set' id='${id}'>${vcard}</iq>`;
}

function getVcard(from: string, id = "get"): string {
  return `<iq from='${from}' to='${ROOM}' type='get' id='${id}'><vCard xmlns='vcard-temp'/></iq>`;
}

function discoInfo(from: string): string {
  return `<iq from='${from}' to='${ROOM}' type='get' id='d'>` +
    "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>";
}

async function openRoom(
  store: RoomVcardStore = new MemoryRoomVcardStore(),
  maxBytes?: number,
): Promise<Harness> {
  const h = new Harness({
    features: [...FEATURES_WITHOUT_OCCUPANT_ID, vcardFeature({ store, maxBytes })],
    admins: ["admin@localhost"],
  });
  await h.join(ROMEO, `${ROOM}/Romeo`);
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_persistentroom": ["1"] });
  await h.join(JULIET, `${ROOM}/Juliet`);
  return h;
}

Deno.test("photoHash() is the SHA-1 of the image bytes; no BINVAL, no hash; bad base64 refused", () => {
  assert.equal(photoHash(stanza(vcardWith(PHOTO))), HASH);
  assert.equal(photoHash(stanza(vcardWith(undefined))), undefined);
  assert.equal(
    photoHash(
      stanza("<vCard xmlns='vcard-temp'><PHOTO><EXTVAL>https://x/y</EXTVAL></PHOTO></vCard>"),
    ),
    undefined,
  );
  assert.throws(
    () => photoHash(stanza(vcardWith("not base64!"))),
    (error) => error instanceof StanzaError && error.condition === "bad-request",
  );
});

Deno.test("a room without a vCard answers an empty one; disco#info lists vcard-temp, no hash", async () => {
  const h = await openRoom();
  assert.deepEqual(await h.send(getVcard(NURSE)), [
    `<iq to='${NURSE}' from='${ROOM}' id='get' type='result'><vCard xmlns='vcard-temp'/></iq>`,
  ]);
  const [info] = await h.send(discoInfo(NURSE));
  assert.ok(info.includes("<feature var='vcard-temp'/>"), info);
  assert.ok(!info.includes("muc#roominfo_avatarhash"), info);
});

Deno.test("an owner sets the vCard: occupants get the new photo's hash and 104; anyone reads it", async () => {
  const h = await openRoom();
  const out = await h.send(setVcard(ROMEO, vcardWith(PHOTO)));
  assert.deepEqual(out, [
    `<iq to='${ROMEO}' from='${ROOM}' id='set' type='result'/>`,
    `<presence from='${ROOM}' to='${ROMEO}'><x xmlns='vcard-temp:x:update'><photo>${HASH}</photo></x></presence>`,
    `<presence from='${ROOM}' to='${JULIET}'><x xmlns='vcard-temp:x:update'><photo>${HASH}</photo></x></presence>`,
    `<message from='${ROOM}' to='${ROMEO}' type='groupchat'><x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x></message>`,
    `<message from='${ROOM}' to='${JULIET}' type='groupchat'><x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x></message>`,
  ]);
  const [read] = await h.send(getVcard(NURSE));
  assert.equal(
    read,
    `<iq to='${NURSE}' from='${ROOM}' id='get' type='result'>${vcardWith(PHOTO)}</iq>`,
  );
  const [info] = await h.send(discoInfo(NURSE));
  assert.ok(info.includes("<feature var='vcard-temp'/>"), info);
  assert.ok(
    info.includes(
      `<field var='muc#roominfo_avatarhash' type='text-multi' label='Avatar hash'><value>${HASH}</value></field>`,
    ),
    info,
  );
});

Deno.test("changes: another field only 104, the same vCard nothing, no photo an empty <photo/>", async () => {
  const h = await openRoom();
  await h.send(setVcard(ROMEO, vcardWith(PHOTO)));
  const renamed = await h.send(setVcard(ROMEO, vcardWith(PHOTO, "The Great Hall")));
  assert.equal(renamed.length, 3);
  assert.ok(renamed.slice(1).every((line) => line.includes("<status code='104'/>")), renamed[1]);
  assert.equal((await h.send(setVcard(ROMEO, vcardWith(PHOTO, "The Great Hall")))).length, 1);
  const removed = await h.send(setVcard(ROMEO, vcardWith(undefined)));
  assert.equal(
    removed[1],
    `<presence from='${ROOM}' to='${ROMEO}'><x xmlns='vcard-temp:x:update'><photo/></x></presence>`,
  );
  assert.equal(removed.length, 5);
  const [info] = await h.send(discoInfo(JULIET));
  assert.ok(!info.includes("avatarhash"), info);
  // An empty vCard removes it.
  await h.send(setVcard(ROMEO, "<vCard xmlns='vcard-temp'/>"));
  assert.match((await h.send(getVcard(JULIET)))[0], /<vCard xmlns='vcard-temp'\/><\/iq>$/);
});

Deno.test("only owners set it (service admins count); a vCard over the limit or a bad photo is refused", async () => {
  const h = await openRoom(new MemoryRoomVcardStore(), 200);
  const [forbidden] = await h.send(setVcard(JULIET, vcardWith(PHOTO)));
  assert.match(forbidden, /type='error'.*<error type='auth'[^>]*><forbidden /);
  const [large] = await h.send(setVcard(ROMEO, vcardWith(PHOTO, "x".repeat(200))));
  assert.match(large, /type='error'.*<error type='modify'[^>]*><policy-violation /);
  const [bad] = await h.send(setVcard(ROMEO, vcardWith("@@@@")));
  assert.match(bad, /type='error'.*<bad-request /);
  assert.match((await h.send(getVcard(JULIET)))[0], /<vCard xmlns='vcard-temp'\/><\/iq>$/);
  const [byAdmin] = await h.send(setVcard(ADMIN, vcardWith(PHOTO)));
  assert.match(byAdmin, /type='result'/);
});

Deno.test("an entering occupant gets the room's photo hash after its self-presence", async () => {
  const h = await openRoom();
  assert.ok(!(await h.join(NURSE, `${ROOM}/Nurse`)).some((line) => line.includes("x:update")));
  await h.send(`<presence from='${NURSE}' to='${ROOM}/Nurse' type='unavailable'/>`);
  await h.send(setVcard(ROMEO, vcardWith(PHOTO)));
  const joined = (await h.join(NURSE, `${ROOM}/Nurse`)).filter((line) =>
    line.includes(`to='${NURSE}'`)
  );
  const self = joined.findIndex((line) => line.includes("<status code='110'/>"));
  const update = joined.findIndex((line) =>
    line === `<presence from='${ROOM}' to='${NURSE}'><x xmlns='vcard-temp:x:update'>` +
        `<photo>${HASH}</photo></x></presence>`
  );
  const subject = joined.findIndex((line) => line.includes("<subject"));
  assert.ok(self >= 0 && update > self && subject > update, joined.join("\n"));
});

Deno.test("members-only rooms: non-members read the vCard too (as for disco#info)", async () => {
  const h = await openRoom();
  await h.send(setVcard(ROMEO, vcardWith(PHOTO)));
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_membersonly": ["1"] }, "mo");
  const [read] = await h.send(getVcard(NURSE));
  assert.ok(read.includes(`<BINVAL>${PHOTO}</BINVAL>`), read);
});

Deno.test("the vCard is kept in muc_vcards, goes with the room, and a new room starts without", async () => {
  const db = new DatabaseSync(":memory:");
  for (const step of MUC_MODULE.migrations ?? []) db.exec(step);
  const store = new SqliteRoomVcardStore(db);
  const h = await openRoom(store);
  await h.send(setVcard(ROMEO, vcardWith(PHOTO)));
  assert.deepEqual(store.get(ROOM), { xml: vcardWith(PHOTO), photoHash: HASH });
  await h.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='set' id='destroy'>` +
      "<query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query></iq>",
  );
  assert.equal(store.get(ROOM), null);

  // Left behind (a temporary room's across a restart): a room created under that name ignores it.
  store.set(ROOM, { xml: vcardWith(PHOTO), photoHash: HASH });
  const other = new Harness({ features: [vcardFeature({ store })] });
  await other.join(NURSE, `${ROOM}/Nurse`);
  assert.equal(store.get(ROOM), null);
  await other.configure(NURSE, ROOM, {});
  const [info] = await other.send(discoInfo(NURSE));
  assert.ok(!info.includes("avatarhash"), info);
});
