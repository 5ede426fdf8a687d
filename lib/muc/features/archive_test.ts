import { strict as assert } from "node:assert";
import { DatabaseSync } from "node:sqlite";
import { SqliteArchiveStore } from "../../mam/mod.ts";
import { FEATURES_WITHOUT_OCCUPANT_ID, Harness } from "../_testing.ts";
import { MUC_MODULE } from "../mod.ts";
import { archiveFeature, stanzaIdFilter } from "./archive.ts";

const ROMEO = "romeo@localhost/orchard";
const JULIET = "juliet@localhost/balcony";
const NURSE = "nurse@localhost/kitchen";
const ROOM = "hall@conference.localhost";

async function openRoom(): Promise<{ h: Harness; store: SqliteArchiveStore }> {
  const db = new DatabaseSync(":memory:");
  for (const step of MUC_MODULE.migrations ?? []) db.exec(step);
  const store = new SqliteArchiveStore(db, {
    table: "muc_archive",
    prefsTable: null,
    realJids: true,
  });
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

/** The real JIDs each result of a query carries (undefined: none), in order. */
async function realJidsSeenBy(
  h: Harness,
  from: string,
  form = "",
): Promise<(string | undefined)[]> {
  const out = await h.send(
    `<iq from='${from}' to='${ROOM}' type='set' id='r'><query xmlns='urn:xmpp:mam:2'>${form}</query></iq>`,
  );
  assert.match(out.at(-1)!, /type='result'/);
  return out.slice(0, -1).map((line) => {
    const items = [
      ...line.matchAll(/<x xmlns='http:\/\/jabber.org\/protocol\/muc#user'>(.*?)<\/x>/g),
    ];
    assert.ok(items.length <= 1, line);
    return items[0] === undefined ? undefined : /<item jid='([^']*)'\/>/.exec(items[0][1])?.[1];
  });
}

function withForm(jid: string): string {
  return "<x xmlns='jabber:x:data' type='submit'>" +
    "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>" +
    `<field var='with'><value>${jid}</value></field></x>`;
}

Deno.test("real JIDs (§6.1.2): kept with each message, shown to those who may see them at query time", async () => {
  const { h, store } = await openRoom();
  // A client's own muc#user <x/> is not kept: the sender's real full JID is, beside the stanza.
  await h.send(
    `<message from='${JULIET}' to='${ROOM}' type='groupchat'><body>one</body>` +
      `<x xmlns='http://jabber.org/protocol/muc#user'><item jid='nurse@localhost'/></x></message>`,
  );
  await h.send(`<message from='${ROMEO}' to='${ROOM}' type='groupchat'><body>two</body></message>`);
  const kept = store.find(ROOM, { max: 10 }).items;
  assert.deepEqual(kept.map((item) => item.realJid), [JULIET, ROMEO]);
  assert.ok(!kept[0].stanza.includes("muc#user"), kept[0].stanza);

  // Semi-anonymous: the moderator sees them, a participant and a stranger do not; an owner or
  // admin who is not in the room does (entering makes them moderators).
  assert.deepEqual(await realJidsSeenBy(h, ROMEO), [JULIET, ROMEO]);
  assert.deepEqual(await realJidsSeenBy(h, JULIET), [undefined, undefined]);
  assert.deepEqual(await realJidsSeenBy(h, NURSE), [undefined, undefined]);
  assert.deepEqual(await realJidsSeenBy(h, "romeo@localhost/elsewhere"), [JULIET, ROMEO]);
  await h.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='set' id='admin'><query xmlns='http://jabber.org/protocol/muc#admin'>` +
      "<item jid='nurse@localhost' affiliation='admin'/></query></iq>",
  );
  assert.deepEqual(await realJidsSeenBy(h, NURSE), [JULIET, ROMEO]);
  // A moderator by role (not by affiliation) sees them while in the room.
  await h.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='set' id='mod'><query xmlns='http://jabber.org/protocol/muc#admin'>` +
      "<item nick='Juliet' role='moderator'/></query></iq>",
  );
  assert.deepEqual(await realJidsSeenBy(h, JULIET), [JULIET, ROMEO]);

  // Non-anonymous: everyone, strangers included.
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_whois": ["anyone"] }, "whois");
  assert.deepEqual(await realJidsSeenBy(h, "tybalt@localhost/street"), [JULIET, ROMEO]);
  // The <x/> follows the message's own children.
  const [first] = await h.send(query("tybalt@localhost/street", "q"));
  assert.match(
    first,
    /<body>one<\/body><x xmlns='http:\/\/jabber.org\/protocol\/muc#user'><item jid='juliet@localhost\/balcony'\/><\/x><\/message><\/forwarded>/,
  );
});

Deno.test("with (§4.1.1): an occupant JID selects that nickname's messages, the room all, others none", async () => {
  const { h } = await openRoom();
  await h.send(`<message from='${JULIET}' to='${ROOM}' type='groupchat'><body>a</body></message>`);
  await h.send(`<message from='${ROMEO}' to='${ROOM}' type='groupchat'><body>b</body></message>`);
  await h.send(`<message from='${JULIET}' to='${ROOM}' type='groupchat'><body>c</body></message>`);
  const bodies = async (jid: string) =>
    (await h.send(
      `<iq from='${JULIET}' to='${ROOM}' type='set' id='w'><query xmlns='urn:xmpp:mam:2'>${
        withForm(jid)
      }</query></iq>`,
    )).slice(0, -1).map((line) => /<body>([^<]*)<\/body>/.exec(line)?.[1]);
  assert.deepEqual(await bodies(`${ROOM}/Juliet`), ["a", "c"]);
  assert.deepEqual(await bodies(`${ROOM}/Romeo`), ["b"]);
  assert.deepEqual(await bodies(ROOM), ["a", "b", "c"]);
  // A real JID would tell a participant of a semi-anonymous room who spoke: it matches nothing.
  assert.deepEqual(await bodies("juliet@localhost"), []);
  assert.deepEqual(await bodies(JULIET), []);
});

Deno.test("subjects are not archived, as on Prosody; a message with a body and a subject is", async () => {
  const { h, store } = await openRoom();
  const changed = await h.send(
    `<message from='${ROMEO}' to='${ROOM}' type='groupchat'><subject>Verona</subject></message>`,
  );
  assert.ok(changed.every((line) => !line.includes("stanza-id")), changed[0]);
  await h.send(
    `<message from='${ROMEO}' to='${ROOM}' type='groupchat'><subject>t</subject><body>said</body></message>`,
  );
  assert.deepEqual(
    store.find(ROOM, { max: 10 }).items.map((item) => /<body>(.*)<\/body>/.exec(item.stanza)?.[1]),
    ["said"],
  );
});

Deno.test("stanzaIdFilter (archiving off service-wide): no option, no feature, a forged stanza-id removed", async () => {
  const h = new Harness({ features: [...FEATURES_WITHOUT_OCCUPANT_ID, stanzaIdFilter] });
  await h.join(ROMEO, `${ROOM}/Romeo`);
  const [form] = await h.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='get' id='c'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`,
  );
  assert.ok(!form.includes("muc#roomconfig_enablearchiving"), form);
  await h.configure(ROMEO, ROOM, {});
  const [info] = await h.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
  );
  assert.ok(!info.includes("urn:xmpp:mam:2"), info);
  const [said] = await h.send(
    `<message from='${ROMEO}' to='${ROOM}' type='groupchat'><body>x</body>` +
      `<stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='${ROOM}'/></message>`,
  );
  assert.ok(!said.includes("stanza-id"), said);
  const [refused] = await h.send(query(ROMEO, "q"));
  assert.match(refused, /type='error'.*<service-unavailable /);
});
