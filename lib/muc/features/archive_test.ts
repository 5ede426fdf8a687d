import { strict as assert } from "node:assert";
import { DatabaseSync } from "node:sqlite";
import { SqliteArchiveStore } from "../../mam/mod.ts";
import { FEATURES_WITHOUT_OCCUPANT_ID, Harness } from "../_testing.ts";
import { MUC_MODULE } from "../mod.ts";
import { archiveFeature } from "./archive.ts";

const ROMEO = "romeo@localhost/orchard";
const JULIET = "juliet@localhost/balcony";
const NURSE = "nurse@localhost/kitchen";
const ROOM = "hall@conference.localhost";

async function openRoom(): Promise<{ h: Harness; store: SqliteArchiveStore }> {
  const db = new DatabaseSync(":memory:");
  for (const step of MUC_MODULE.migrations ?? []) db.exec(step);
  const store = new SqliteArchiveStore(db, { table: "muc_archive", prefsTable: null });
  const h = new Harness({
    features: [
      ...FEATURES_WITHOUT_OCCUPANT_ID,
      archiveFeature({ store, defaultPageSize: 20, maxPageSize: 50 }),
    ],
  });
  await h.join(ROMEO, `${ROOM}/Romeo`);
  await h.configure(ROMEO, ROOM, {});
  await h.join(JULIET, `${ROOM}/Juliet`);
  return { h, store };
}

function query(from: string, id: string, rsm = ""): string {
  return `<iq from='${from}' to='${ROOM}' type='set' id='${id}'>` +
    `<query xmlns='urn:xmpp:mam:2' queryid='${id}'>${rsm}</query></iq>`;
}

Deno.test("groupchat messages with a body get a stanza-id by the room and are archived once", async () => {
  const { h, store } = await openRoom();
  const out = await h.send(
    `<message from='${JULIET}' to='${ROOM}' type='groupchat' id='m1'><body>Hi</body>` +
      `<stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='${ROOM}'/>` +
      `<x xmlns='http://jabber.org/protocol/muc#user'><item jid='romeo@localhost'/></x></message>`,
  );
  assert.equal(out.length, 2);
  const id = /<stanza-id xmlns='urn:xmpp:sid:0' id='([^']+)' by='hall@conference.localhost'\/>/
    .exec(out[0])?.[1];
  assert.ok(id !== undefined && id !== "forged", out[0]);
  assert.ok(!out[0].includes("forged"));
  assert.ok(out[1].includes(id));
  // No body (a chat state), a subject change, a private message: not archived.
  await h.send(
    `<message from='${JULIET}' to='${ROOM}' type='groupchat'>` +
      "<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
  );
  await h.send(
    `<message from='${ROMEO}' to='${ROOM}' type='groupchat'><subject>S</subject></message>`,
  );
  await h.send(
    `<message from='${ROMEO}' to='${ROOM}/Juliet' type='chat'><body>pm</body></message>`,
  );
  const page = store.find(ROOM, { max: 10 });
  assert.equal(page.items.length, 1);
  assert.equal(page.items[0].id, id);
  assert.equal(
    page.items[0].stanza,
    `<message from='${ROOM}/Juliet' type='groupchat' id='m1'><body>Hi</body></message>`,
  );
});

Deno.test("occupants query the room's archive: results from the occupant JID, then fin with RSM", async () => {
  const { h } = await openRoom();
  await h.send(
    `<message from='${JULIET}' to='${ROOM}' type='groupchat'><body>one</body></message>`,
  );
  await h.send(`<message from='${ROMEO}' to='${ROOM}' type='groupchat'><body>two</body></message>`);
  const out = await h.send(
    query(JULIET, "q1", "<set xmlns='http://jabber.org/protocol/rsm'><max>1</max></set>"),
  );
  assert.equal(out.length, 2);
  assert.match(
    out[0],
    /^<message to='juliet@localhost\/balcony' from='hall@conference.localhost' /,
  );
  assert.match(out[0], /<result xmlns='urn:xmpp:mam:2' queryid='q1' id='[^']+'>/);
  assert.match(
    out[0],
    /<message from='hall@conference.localhost\/Juliet' type='groupchat' xmlns='jabber:client'><body>one<\/body><\/message>/,
  );
  assert.match(out[1], /type='result'/);
  assert.match(
    out[1],
    /<fin xmlns='urn:xmpp:mam:2'><set xmlns='http:\/\/jabber.org\/protocol\/rsm'><first index='0'>/,
  );
  assert.match(out[1], /<count>2<\/count>/);
  // Anyone who may enter may read (§6.1.2); the form is there too.
  const [form] = await h.send(
    `<iq from='${NURSE}' to='${ROOM}' type='get' id='f'><query xmlns='urn:xmpp:mam:2'/></iq>`,
  );
  assert.match(form, /type='result'/);
  assert.match(form, /<field var='with' type='jid-single'\/>/);
  const [info] = await h.send(
    `<iq from='${NURSE}' to='${ROOM}' type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
  );
  assert.ok(info.includes("<feature var='urn:xmpp:mam:2'/>"));
});

Deno.test("members-only rooms: only members read; outcasts never; archiving off: nothing kept", async () => {
  const { h, store } = await openRoom();
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_membersonly": ["1"] }, "mo");
  const [refused] = await h.send(query(NURSE, "q"));
  assert.match(refused, /type='error'.*<registration-required /);
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_membersonly": ["0"] }, "open");
  await h.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='set' id='ban'><query xmlns='http://jabber.org/protocol/muc#admin'>` +
      "<item jid='nurse@localhost' affiliation='outcast'/></query></iq>",
  );
  const [banned] = await h.send(query(NURSE, "q"));
  assert.match(banned, /type='error'.*<forbidden /);
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_enablearchiving": ["0"] }, "off");
  const said = await h.send(
    `<message from='${JULIET}' to='${ROOM}' type='groupchat'><body>unlogged</body></message>`,
  );
  assert.ok(!said[0].includes("stanza-id"));
  assert.equal(store.find(ROOM, { max: 10 }).items.length, 0);
  const [off] = await h.send(query(JULIET, "q"));
  assert.match(off, /type='error'/);
});

Deno.test("a room's archive goes with the room", async () => {
  const { h, store } = await openRoom();
  await h.send(
    `<message from='${JULIET}' to='${ROOM}' type='groupchat'><body>bye</body></message>`,
  );
  assert.equal(store.find(ROOM, { max: 10 }).items.length, 1);
  await h.send(`<presence from='${JULIET}' to='${ROOM}/Juliet' type='unavailable'/>`);
  await h.send(`<presence from='${ROMEO}' to='${ROOM}/Romeo' type='unavailable'/>`);
  assert.equal(h.service.roomCount(), 0);
  assert.equal(store.find(ROOM, { max: 10 }).items.length, 0);
});
