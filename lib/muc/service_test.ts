import { strict as assert } from "node:assert";
import { MemoryRoomStore } from "../storage/room_store.ts";
import { DOMAIN, Harness, stanza } from "./_testing.ts";

const ROMEO = "user@localhost/r1";
const JULIET = "user2@localhost/j1";
const NURSE = "nurse@localhost/n1";
const ROOM = "room@conference.localhost";
const MUC = "http://jabber.org/protocol/muc";
const MUC_USER = "http://jabber.org/protocol/muc#user";
const ERR = "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'";

/** The deliveries addressed to `jid`. */
function to(out: string[], jid: string): string[] {
  return out.filter((line) => line.includes(` to='${jid}'`));
}

function emptySubject(jid: string): string {
  return `<message from='${ROOM}' to='${jid}' type='groupchat'><subject/></message>`;
}

function status104(jid: string): string {
  return `<message from='${ROOM}' to='${jid}' type='groupchat'>` +
    `<x xmlns='${MUC_USER}'><status code='104'/></x></message>`;
}

function result(jid: string, id: string): string {
  return `<iq to='${jid}' from='${ROOM}' id='${id}' type='result'/>`;
}

/** A room created by Romeo and opened as an instant room. */
async function openRoom(options: ConstructorParameters<typeof Harness>[0] = {}): Promise<Harness> {
  const h = new Harness(options);
  await h.join(ROMEO, `${ROOM}/Romeo`);
  assert.deepEqual(await h.configure(ROMEO, ROOM, {}), [result(ROMEO, "config")]);
  return h;
}

Deno.test("entering a new room creates it: self-presence 201, item, 110, then an empty subject", async () => {
  const h = new Harness();
  assert.deepEqual(await h.join(ROMEO, `${ROOM}/Romeo`), [
    `<presence from='${ROOM}/Romeo' to='${ROMEO}'><x xmlns='${MUC_USER}'><status code='201'/>` +
    `<item jid='${ROMEO}' affiliation='owner' role='moderator'/><status code='110'/></x></presence>`,
    emptySubject(ROMEO),
  ]);
  assert.equal(h.service.roomCount(), 1);
  assert.equal(h.service.room(ROOM)?.locked, true);
});

Deno.test("a locked room does not exist for anyone but its owner", async () => {
  const h = new Harness();
  await h.join(ROMEO, `${ROOM}/Romeo`);
  assert.deepEqual(await h.join(JULIET, `${ROOM}/Juliet`), [
    `<presence to='${JULIET}' from='${ROOM}/Juliet' type='error'><x xmlns='${MUC}'/>` +
    `<error type='cancel' code='404' ` +
    `by='${ROOM}'><item-not-found ${ERR}/></error></presence>`,
  ]);
  const [info] = await h.send(
    `<iq from='${JULIET}' to='${ROOM}' type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
  );
  assert.match(info, /type='error'.*<item-not-found/);
  // The owner may come back with another resource.
  const back = await h.join("user@localhost/r2", `${ROOM}/Romeo`);
  assert.equal(to(back, "user@localhost/r2").length, 2); // self-presence and subject
});

Deno.test("a configuration submit answers the result first, then status 104 to every occupant", async () => {
  const h = await openRoom();
  await h.join(JULIET, `${ROOM}/Juliet`);
  assert.deepEqual(
    await h.configure(ROMEO, ROOM, { "muc#roomconfig_roomname": ["Balcony"] }, "c2"),
    [result(ROMEO, "c2"), status104(ROMEO), status104(JULIET)],
  );
  // The same values again change nothing: no 104.
  assert.deepEqual(
    await h.configure(ROMEO, ROOM, { "muc#roomconfig_roomname": ["Balcony"] }, "c3"),
    [result(ROMEO, "c3")],
  );
  assert.equal(h.service.room(ROOM)?.config.name, "Balcony");
});

Deno.test("an empty submit makes an instant room: unlocked, no 104", async () => {
  const h = new Harness();
  await h.join(ROMEO, `${ROOM}/Romeo`);
  assert.deepEqual(
    await h.send(
      `<iq from='${ROMEO}' to='${ROOM}' type='set' id='i'><query xmlns='http://jabber.org/protocol/muc#owner'>` +
        "<x xmlns='jabber:x:data' type='submit'/></query></iq>",
    ),
    [result(ROMEO, "i")],
  );
  assert.equal(h.service.room(ROOM)?.locked, false);
  assert.equal(to(await h.join(JULIET, `${ROOM}/Juliet`), JULIET).length, 3);
});

Deno.test("cancelling the first configuration destroys the new room", async () => {
  const h = new Harness();
  await h.join(ROMEO, `${ROOM}/Romeo`);
  const out = await h.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='set' id='x'><query xmlns='http://jabber.org/protocol/muc#owner'>` +
      "<x xmlns='jabber:x:data' type='cancel'/></query></iq>",
  );
  assert.equal(out[0], result(ROMEO, "x"));
  assert.match(
    out[1],
    /^<presence from='room@conference.localhost\/Romeo' to='user@localhost\/r1' type='unavailable'>.*<destroy\/>/,
  );
  assert.equal(h.service.roomCount(), 0);
});

Deno.test("the seed scenario: password set, 401 without or with a wrong one, entry with it, removal", async () => {
  const h = new Harness();
  await h.join(ROMEO, `${ROOM}/Romeo`);
  assert.deepEqual(
    await h.configure(ROMEO, ROOM, { "muc#roomconfig_roomsecret": ["cauldronburn"] }, "config1"),
    [result(ROMEO, "config1"), status104(ROMEO)],
  );
  const hash = h.service.room(ROOM)?.config.passwordHash;
  assert.ok(hash?.startsWith("pbkdf2-sha256$"));

  const refused =
    `<presence to='${JULIET}' from='${ROOM}/Juliet' type='error'><x xmlns='${MUC}'/>` +
    `<error type='auth' code='401' by='${ROOM}'><not-authorized ${ERR}/>` +
    `<text ${ERR}>A correct password is required to enter this room</text></error></presence>`;
  assert.deepEqual(await h.join(JULIET, `${ROOM}/Juliet`), [refused]);
  assert.deepEqual(await h.join(JULIET, `${ROOM}/Juliet`, "wrong"), [refused]);

  const entered = await h.join(JULIET, `${ROOM}/Juliet`, "cauldronburn");
  assert.deepEqual(to(entered, JULIET), [
    `<presence from='${ROOM}/Romeo' to='${JULIET}'><x xmlns='${MUC_USER}'>` +
    `<item affiliation='owner' role='moderator'/></x></presence>`,
    `<presence from='${ROOM}/Juliet' to='${JULIET}'><x xmlns='${MUC_USER}'>` +
    `<item jid='${JULIET}' affiliation='none' role='participant'/><status code='110'/></x></presence>`,
    emptySubject(JULIET),
  ]);
  assert.deepEqual(to(entered, ROMEO), [
    `<presence from='${ROOM}/Juliet' to='${ROMEO}'><x xmlns='${MUC_USER}'>` +
    `<item jid='${JULIET}' affiliation='none' role='participant'/></x></presence>`,
  ]);

  const left = await h.send(`<presence type='unavailable' from='${JULIET}' to='${ROOM}'/>`);
  assert.deepEqual(left, [
    `<presence from='${ROOM}/Juliet' to='${ROMEO}' type='unavailable'><x xmlns='${MUC_USER}'>` +
    `<item jid='${JULIET}' affiliation='none' role='none'/></x></presence>`,
    `<presence from='${ROOM}/Juliet' to='${JULIET}' type='unavailable'><x xmlns='${MUC_USER}'>` +
    `<item jid='${JULIET}' affiliation='none' role='none'/><status code='110'/></x></presence>`,
  ]);

  assert.deepEqual(
    await h.configure(ROMEO, ROOM, { "muc#roomconfig_roomsecret": [] }, "config2"),
    [result(ROMEO, "config2"), status104(ROMEO)],
  );
  assert.equal(h.service.room(ROOM)?.config.passwordHash, null);
  const again = await h.join(JULIET, `${ROOM}/Juliet`);
  assert.equal(to(again, JULIET).length, 3);
  assert.equal(to(again, ROMEO).length, 1);
});

Deno.test("password fields: protected=1 with an empty secret keeps it, protected=0 removes it", async () => {
  const h = await openRoom();
  const room = h.service.room(ROOM)!;
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_roomsecret": ["a"] });
  const first = room.config.passwordHash;
  assert.notEqual(first, null);
  await h.configure(ROMEO, ROOM, {
    "muc#roomconfig_passwordprotectedroom": ["1"],
    "muc#roomconfig_roomsecret": [""],
  });
  assert.equal(room.config.passwordHash, first);
  await h.configure(ROMEO, ROOM, {
    "muc#roomconfig_passwordprotectedroom": ["0"],
    "muc#roomconfig_roomsecret": ["ignored"],
  });
  assert.equal(room.config.passwordHash, null);
  const [refused] = await h.configure(ROMEO, ROOM, {
    "muc#roomconfig_passwordprotectedroom": ["1"],
  });
  assert.match(refused, /type='modify'.*<not-acceptable/);
});

Deno.test("bad configuration values are refused and change nothing", async () => {
  const h = await openRoom();
  const room = h.service.room(ROOM)!;
  const [refused] = await h.configure(ROMEO, ROOM, {
    "muc#roomconfig_roomname": ["Renamed"],
    "muc#roomconfig_maxusers": ["lots"],
  });
  assert.match(
    refused,
    /^<iq to='user@localhost\/r1' from='room@conference.localhost' id='config' type='error'><error type='modify' by='room@conference.localhost'><not-acceptable /,
  );
  assert.equal(room.config.name, "");
  const [bad] = await h.configure(ROMEO, ROOM, { "muc#roomconfig_whois": ["everyone"] });
  assert.match(bad, /<not-acceptable/);
  const [boolean] = await h.configure(ROMEO, ROOM, { "muc#roomconfig_moderatedroom": ["yes"] });
  assert.match(boolean, /<not-acceptable/);
  // Unknown fields are ignored.
  assert.deepEqual(await h.configure(ROMEO, ROOM, { "x-unknown": ["1"] }), [
    result(ROMEO, "config"),
  ]);
  const [wrongType] = await h.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='set' id='w'><query xmlns='http://jabber.org/protocol/muc#owner'>` +
      "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field>" +
      "</x></query></iq>",
  );
  assert.match(wrongType, /<bad-request/);
});

Deno.test("the configuration form shows current values and never the password", async () => {
  const h = await openRoom();
  await h.configure(ROMEO, ROOM, {
    "muc#roomconfig_roomname": ["Balcony"],
    "muc#roomconfig_roomsecret": ["secret"],
    "muc#roomconfig_maxusers": ["30"],
  });
  const [form] = await h.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='get' id='g'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`,
  );
  const x = stanza(form).getChild("query", "http://jabber.org/protocol/muc#owner")!
    .getChild("x", "jabber:x:data")!;
  assert.equal(x.attrs.type, "form");
  const values = new Map(
    x.getChildren("field").map((
      f,
    ) => [f.attrs.var, f.getChildren("value").map((v) => v.getText())]),
  );
  assert.deepEqual(values.get("FORM_TYPE"), ["http://jabber.org/protocol/muc#roomconfig"]);
  assert.deepEqual(values.get("muc#roomconfig_roomname"), ["Balcony"]);
  assert.deepEqual(values.get("muc#roomconfig_passwordprotectedroom"), ["1"]);
  assert.deepEqual(values.get("muc#roomconfig_roomsecret"), []);
  assert.deepEqual(values.get("muc#roomconfig_maxusers"), ["30"]);
  assert.deepEqual(values.get("muc#roomconfig_whois"), ["moderators"]);
  assert.deepEqual(values.get("muc#roomconfig_historylength"), ["20"]);
  for (
    const name of [
      "muc#roomconfig_roomdesc",
      "muc#roomconfig_persistentroom",
      "muc#roomconfig_publicroom",
      "muc#roomconfig_membersonly",
      "muc#roomconfig_moderatedroom",
      "muc#roomconfig_changesubject",
    ]
  ) assert.ok(values.has(name), name);
  assert.ok(!form.includes("secret<"));
});

Deno.test("only owners may get or set the configuration", async () => {
  const h = await openRoom();
  await h.join(JULIET, `${ROOM}/Juliet`);
  const [get] = await h.send(
    `<iq from='${JULIET}' to='${ROOM}' type='get' id='g'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`,
  );
  assert.match(
    get,
    /^<iq to='user2@localhost\/j1' from='room@conference.localhost' id='g' type='error'><error type='auth' by='room@conference.localhost'><forbidden /,
  );
  const [set] = await h.configure(JULIET, ROOM, { "muc#roomconfig_roomname": ["Mine"] });
  assert.match(set, /<error type='auth' by='room@conference.localhost'><forbidden /);
  assert.equal(h.service.room(ROOM)?.config.name, "");
  // A service admin may.
  const admin = await openRoom({ admins: ["boss@localhost"] });
  assert.deepEqual(await admin.configure("boss@localhost/b", ROOM, {}, "a"), [
    `<iq to='boss@localhost/b' from='${ROOM}' id='a' type='result'/>`,
  ]);
});

Deno.test("leaving: unavailable to all, 110 to the leaver; the empty temporary room goes", async () => {
  const h = await openRoom();
  await h.join(JULIET, `${ROOM}/Juliet`);
  // A session's end: the router sends unavailable presence from the full JID.
  const gone = await h.send(`<presence type='unavailable' from='${ROMEO}' to='${ROOM}/Romeo'/>`);
  assert.deepEqual(gone, [
    `<presence from='${ROOM}/Romeo' to='${JULIET}' type='unavailable'><x xmlns='${MUC_USER}'>` +
    `<item affiliation='owner' role='none'/></x></presence>`,
    `<presence from='${ROOM}/Romeo' to='${ROMEO}' type='unavailable'><x xmlns='${MUC_USER}'>` +
    `<item jid='${ROMEO}' affiliation='owner' role='none'/><status code='110'/></x></presence>`,
  ]);
  assert.equal(h.service.roomCount(), 1);
  await h.send(
    `<presence type='unavailable' from='${JULIET}' to='${ROOM}'><status>bye</status></presence>`,
  );
  assert.equal(h.service.roomCount(), 0);
  // Unavailable presence to a room that is gone is not answered.
  assert.deepEqual(
    await h.send(`<presence type='unavailable' from='${JULIET}' to='${ROOM}'/>`),
    [],
  );
});

Deno.test("unavailable presence to the service domain takes the session out of every room", async () => {
  const h = await openRoom();
  await h.join(ROMEO, `other@${DOMAIN}/Romeo`);
  await h.configure(ROMEO, `other@${DOMAIN}`, {});
  await h.join(JULIET, `${ROOM}/Juliet`);
  const out = await h.send(`<presence type='unavailable' from='${ROMEO}' to='${DOMAIN}'/>`);
  assert.equal(to(out, ROMEO).length, 2);
  assert.equal(to(out, JULIET).length, 1);
  assert.equal(h.service.roomCount(), 1);
});

Deno.test("a persistent room is saved without its password and restored by a new service", async () => {
  const h = await openRoom();
  await h.configure(ROMEO, ROOM, {
    "muc#roomconfig_persistentroom": ["1"],
    "muc#roomconfig_roomname": ["Vault"],
    "muc#roomconfig_roomsecret": ["s3cret"],
  });
  await h.send(
    `<message from='${ROMEO}' to='${ROOM}' type='groupchat'><subject>Plots</subject></message>`,
  );
  const stored = h.store.load(ROOM)!;
  assert.ok(stored.passwordHash?.startsWith("pbkdf2-sha256$"));
  assert.ok(!JSON.stringify(stored).includes("s3cret"));
  assert.ok(!("passwordHash" in stored.config));
  assert.equal(stored.config.persistent, true);
  assert.equal(stored.config.name, "Vault");
  assert.equal(stored.subject, "Plots");
  assert.equal(stored.subjectFrom, `${ROOM}/Romeo`);
  assert.deepEqual(stored.affiliations, [{ jid: "user@localhost", affiliation: "owner" }]);

  await h.send(`<presence type='unavailable' from='${ROMEO}' to='${ROOM}'/>`);
  assert.equal(h.service.roomCount(), 1); // persistent: kept when empty

  const restarted = new Harness({ store: h.store });
  assert.equal(restarted.service.roomCount(), 1);
  assert.equal(restarted.service.room(ROOM)?.locked, false);
  const [refused] = await restarted.join(JULIET, `${ROOM}/Juliet`);
  assert.match(refused, /<error type='auth' code='401'/);
  const entered = await restarted.join(JULIET, `${ROOM}/Juliet`, "s3cret");
  assert.equal(
    entered.at(-1),
    `<message from='${ROOM}/Romeo' to='${JULIET}' type='groupchat'><subject>Plots</subject></message>`,
  );
  const owner = await restarted.join(ROMEO, `${ROOM}/Romeo`, "s3cret");
  assert.ok(
    to(owner, ROMEO).includes(
      `<presence from='${ROOM}/Romeo' to='${ROMEO}'><x xmlns='${MUC_USER}'>` +
        `<item jid='${ROMEO}' affiliation='owner' role='moderator'/><status code='110'/></x></presence>`,
    ),
  );
  const [form] = await restarted.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='get' id='g'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`,
  );
  assert.match(form, /type='result'/);

  // Made temporary, it leaves the store.
  await restarted.configure(ROMEO, ROOM, { "muc#roomconfig_persistentroom": ["0"] });
  assert.equal(restarted.store.load(ROOM), null);
});

Deno.test("a new service restores only its own domain's rooms", () => {
  const store = new MemoryRoomStore();
  store.save({
    jid: "elsewhere@muc.example.org",
    config: { persistent: true },
    passwordHash: null,
    subject: null,
    subjectFrom: null,
    affiliations: [],
  });
  assert.equal(new Harness({ store }).service.roomCount(), 0);
});

Deno.test("room disco#info lists muc_* features matching the config and a roominfo form", async () => {
  const h = await openRoom();
  const info = async () => {
    const [out] = await h.send(
      `<iq from='${JULIET}' to='${ROOM}' type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
    );
    const query = stanza(out).getChild("query", "http://jabber.org/protocol/disco#info")!;
    const features = query.getChildren("feature").map((f) => f.attrs.var);
    const form = query.getChild("x", "jabber:x:data")!;
    const fields = new Map(
      form.getChildren("field").map((f) => [f.attrs.var, f.getChildText("value") ?? ""]),
    );
    return { identity: query.getChild("identity")!.attrs, features, fields };
  };
  const before = await info();
  assert.deepEqual(before.identity, { category: "conference", type: "text", name: "room" });
  assert.deepEqual(before.features, [
    "http://jabber.org/protocol/muc",
    "http://jabber.org/protocol/muc#stable_id",
    "http://jabber.org/protocol/muc#self-ping-optimization",
    "muc_temporary",
    "muc_public",
    "muc_unsecured",
    "muc_open",
    "muc_unmoderated",
    "muc_semianonymous",
    "jabber:iq:register",
    "http://jabber.org/protocol/muc#request",
  ]);
  assert.equal(before.fields.get("FORM_TYPE"), "http://jabber.org/protocol/muc#roominfo");
  assert.equal(before.fields.get("muc#roominfo_occupants"), "1");
  assert.equal(before.fields.get("muc#roominfo_description"), "");
  assert.equal(before.fields.get("muc#roominfo_subject"), "");

  await h.configure(ROMEO, ROOM, {
    "muc#roomconfig_roomname": ["Balcony"],
    "muc#roomconfig_roomdesc": ["Above the garden"],
    "muc#roomconfig_persistentroom": ["1"],
    "muc#roomconfig_publicroom": ["0"],
    "muc#roomconfig_roomsecret": ["pw"],
    "muc#roomconfig_membersonly": ["1"],
    "muc#roomconfig_moderatedroom": ["1"],
    "muc#roomconfig_whois": ["anyone"],
  });
  const after = await info();
  assert.equal(after.identity.name, "Balcony");
  assert.deepEqual(after.features, [
    "http://jabber.org/protocol/muc",
    "http://jabber.org/protocol/muc#stable_id",
    "http://jabber.org/protocol/muc#self-ping-optimization",
    "muc_persistent",
    "muc_hidden",
    "muc_passwordprotected",
    "muc_membersonly",
    "muc_moderated",
    "muc_nonanonymous",
    "jabber:iq:register",
    "http://jabber.org/protocol/muc#request",
  ]);
  assert.equal(after.fields.get("muc#roominfo_description"), "Above the garden");
});

Deno.test("service disco: identity, features, public unlocked rooms; ping", async () => {
  const h = await openRoom();
  await h.join(ROMEO, `hidden@${DOMAIN}/Romeo`);
  await h.configure(ROMEO, `hidden@${DOMAIN}`, { "muc#roomconfig_publicroom": ["0"] });
  await h.join(ROMEO, `locked@${DOMAIN}/Romeo`);
  assert.deepEqual(
    await h.send(
      `<iq from='${JULIET}' to='${DOMAIN}' type='get' id='i'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
    ),
    [
      `<iq to='${JULIET}' from='${DOMAIN}' id='i' type='result'><query xmlns='http://jabber.org/protocol/disco#info'>` +
      "<identity category='conference' type='text' name='Chatrooms'/>" +
      "<feature var='http://jabber.org/protocol/muc'/>" +
      "<feature var='http://jabber.org/protocol/disco#info'/>" +
      "<feature var='http://jabber.org/protocol/disco#items'/></query></iq>",
    ],
  );
  assert.deepEqual(
    await h.send(
      `<iq from='${JULIET}' to='${DOMAIN}' type='get' id='j'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
    ),
    [
      `<iq to='${JULIET}' from='${DOMAIN}' id='j' type='result'><query xmlns='http://jabber.org/protocol/disco#items'>` +
      `<item jid='${ROOM}' name='room'/></query></iq>`,
    ],
  );
  assert.deepEqual(
    await h.send(
      `<iq from='${JULIET}' to='${DOMAIN}' type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`,
    ),
    [`<iq to='${JULIET}' from='${DOMAIN}' id='p' type='result'/>`],
  );
  assert.deepEqual(
    await h.send(
      `<iq from='${JULIET}' to='${ROOM}' type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`,
    ),
    [`<iq to='${JULIET}' from='${ROOM}' id='p' type='result'/>`],
  );
  const [items] = await h.send(
    `<iq from='${JULIET}' to='${ROOM}' type='get' id='k'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
  );
  assert.equal(
    items,
    `<iq to='${JULIET}' from='${ROOM}' id='k' type='result'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
  );
});

Deno.test("unknown iq payloads are service-unavailable; malformed iqs bad-request", async () => {
  const h = await openRoom();
  for (const target of [DOMAIN, ROOM]) {
    const [out] = await h.send(
      `<iq from='${JULIET}' to='${target}' type='get' id='v'><query xmlns='jabber:iq:version'/></iq>`,
    );
    assert.match(out, /<error type='cancel' by='[^']+'><service-unavailable /, target);
  }
  // To an occupant, iqs are forwarded (§7.5), but only between occupants.
  const [out] = await h.send(
    `<iq from='${JULIET}' to='${ROOM}/Romeo' type='get' id='v'><query xmlns='jabber:iq:version'/></iq>`,
  );
  assert.match(out, /<error type='cancel' by='[^']+'><not-acceptable /);
  const [empty] = await h.send(`<iq from='${JULIET}' to='${ROOM}' type='get' id='e'/>`);
  assert.match(empty, /<bad-request /);
  const [missing] = await h.send(
    `<iq from='${JULIET}' to='nowhere@${DOMAIN}' type='get' id='n'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
  );
  assert.match(missing, /<error type='cancel' by='nowhere@conference.localhost'><item-not-found /);
});

Deno.test("self-ping (XEP-0410): result for one's own nickname, not-acceptable when out", async () => {
  const h = await openRoom();
  const ping = (from: string, target: string) =>
    h.send(
      `<iq from='${from}' to='${target}' type='get' id='sp'><ping xmlns='urn:xmpp:ping'/></iq>`,
    );
  assert.deepEqual(await ping(ROMEO, `${ROOM}/Romeo`), [
    `<iq to='${ROMEO}' from='${ROOM}/Romeo' id='sp' type='result'/>`,
  ]);
  assert.match((await ping(JULIET, `${ROOM}/Romeo`))[0], /<not-acceptable /);
});

Deno.test("groupchat messages go to every occupant from the sender's occupant JID, id kept", async () => {
  const h = await openRoom();
  await h.join(JULIET, `${ROOM}/Juliet`);
  assert.deepEqual(
    await h.send(
      `<message from='${JULIET}' to='${ROOM}' type='groupchat' id='m1'><body>Wherefore?</body></message>`,
    ),
    [ROMEO, JULIET].map((jid) =>
      `<message from='${ROOM}/Juliet' to='${jid}' type='groupchat' id='m1'><body>Wherefore?</body></message>`
    ),
  );
  const [refused] = await h.send(
    `<message from='${NURSE}' to='${ROOM}' type='groupchat' id='m2'><body>Juliet!</body></message>`,
  );
  assert.equal(
    refused,
    `<message to='${NURSE}' from='${ROOM}' id='m2' type='error'><body>Juliet!</body>` +
      `<error type='cancel' by='${ROOM}'><not-acceptable ${ERR}/>` +
      `<text ${ERR}>Only occupants may send messages to the room</text></error></message>`,
  );
  const [missing] = await h.send(
    `<message from='${NURSE}' to='nowhere@${DOMAIN}' type='groupchat'><body>?</body></message>`,
  );
  assert.match(missing, /<item-not-found /);
});

Deno.test("private messages go to the occupant's sessions from the sender's occupant JID", async () => {
  const h = await openRoom();
  await h.join(JULIET, `${ROOM}/Juliet`);
  assert.deepEqual(
    await h.send(
      `<message from='${JULIET}' to='${ROOM}/Romeo' type='chat' id='pm'><body>psst</body></message>`,
    ),
    [
      `<message from='${ROOM}/Juliet' to='${ROMEO}' type='chat' id='pm'><body>psst</body>` +
      `<x xmlns='${MUC_USER}'/></message>`,
    ],
  );
  const [unknown] = await h.send(
    `<message from='${JULIET}' to='${ROOM}/Tybalt' type='chat'><body>?</body></message>`,
  );
  assert.match(unknown, /<error type='cancel' by='room@conference.localhost'><item-not-found /);
  const [outsider] = await h.send(
    `<message from='${NURSE}' to='${ROOM}/Romeo' type='chat'><body>?</body></message>`,
  );
  assert.match(outsider, /<not-acceptable /);
  const [groupchat] = await h.send(
    `<message from='${JULIET}' to='${ROOM}/Romeo' type='groupchat'><body>?</body></message>`,
  );
  assert.match(groupchat, /<bad-request /);
});

Deno.test("the subject: moderators may change it; participants only if the room allows", async () => {
  const h = await openRoom();
  await h.join(JULIET, `${ROOM}/Juliet`);
  const [refused] = await h.send(
    `<message from='${JULIET}' to='${ROOM}' type='groupchat' id='s'><subject>Mine</subject></message>`,
  );
  assert.match(refused, /<error type='auth' by='room@conference.localhost'><forbidden /);
  assert.deepEqual(
    await h.send(
      `<message from='${ROMEO}' to='${ROOM}' type='groupchat' id='s'><subject>Ours</subject></message>`,
    ),
    [ROMEO, JULIET].map((jid) =>
      `<message from='${ROOM}/Romeo' to='${jid}' type='groupchat' id='s'><subject>Ours</subject></message>`
    ),
  );
  assert.equal(h.service.room(ROOM)?.subject, "Ours");
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_changesubject": ["1"] });
  const changed = await h.send(
    `<message from='${JULIET}' to='${ROOM}' type='groupchat'><subject>Mine</subject></message>`,
  );
  assert.equal(changed.length, 2);
  assert.equal(h.service.room(ROOM)?.subjectFrom, `${ROOM}/Juliet`);
  // A message with a body and a subject is an ordinary message.
  await h.send(
    `<message from='${ROMEO}' to='${ROOM}' type='groupchat'><subject>X</subject><body>b</body></message>`,
  );
  assert.equal(h.service.room(ROOM)?.subject, "Mine");
  // A newcomer gets it, stamped with when it was set (XEP-0045 §7.2.15).
  const entered = await h.join(NURSE, `${ROOM}/Nurse`);
  assert.match(
    entered.at(-1)!,
    new RegExp(
      `^<message from='${ROOM}/Juliet' to='${NURSE}' type='groupchat'><subject>Mine</subject>` +
        `<delay xmlns='urn:xmpp:delay' from='${ROOM}' stamp='\\d{4}-\\d\\d-\\d\\dT[^']+Z'/></message>$`,
    ),
  );
});

Deno.test("entering refused: nickname in use, malformed nickname, no nickname", async () => {
  const h = await openRoom();
  assert.deepEqual(await h.join(JULIET, `${ROOM}/Romeo`), [
    `<presence to='${JULIET}' from='${ROOM}/Romeo' type='error'><x xmlns='${MUC}'/>` +
    `<error type='cancel' code='409' ` +
    `by='${ROOM}'><conflict ${ERR}/><text ${ERR}>That nickname is already in use</text></error></presence>`,
  ]);
  const [malformed] = await h.join(JULIET, `${ROOM}/ `);
  assert.match(
    malformed,
    /^<presence to='user2@localhost\/j1' from='room@conference.localhost\/ ' type='error'><x xmlns='http:\/\/jabber.org\/protocol\/muc'\/><error type='modify' code='400' by='room@conference.localhost'><jid-malformed [^>]+\/><text [^>]+>Invalid nickname: /,
  );
  const [bare] = await h.send(
    `<presence from='${JULIET}' to='${ROOM}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
  );
  assert.match(bare, /<jid-malformed /);
  // The same bare JID may use its nickname from a second resource.
  const second = await h.join("user@localhost/r2", `${ROOM}/Romeo`);
  assert.equal(to(second, "user@localhost/r2").length, 2);
  assert.equal(h.service.room(ROOM)?.occupantCount, 1);
});

Deno.test("entering refused: members-only (407), banned (403), full (503)", async () => {
  const h = await openRoom();
  const room = h.service.room(ROOM)!;
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_membersonly": ["1"] });
  assert.match(
    (await h.join(JULIET, `${ROOM}/Juliet`))[0],
    /<error type='auth' code='407' by='room@conference.localhost'><registration-required /,
  );
  room.setAffiliation("user2@localhost", "member");
  assert.equal(to(await h.join(JULIET, `${ROOM}/Juliet`), JULIET).length, 3);

  room.setAffiliation("nurse@localhost", "outcast");
  assert.match(
    (await h.join(NURSE, `${ROOM}/Nurse`))[0],
    /<error type='auth' code='403' by='room@conference.localhost'><forbidden /,
  );

  await h.configure(ROMEO, ROOM, {
    "muc#roomconfig_membersonly": ["0"],
    "muc#roomconfig_maxusers": ["2"],
  });
  room.setAffiliation("nurse@localhost", "none");
  assert.match(
    (await h.join(NURSE, `${ROOM}/Nurse`))[0],
    /<error type='wait' code='503' by='room@conference.localhost'><service-unavailable /,
  );
  // Owners still get in.
  const admin = await h.join("user@localhost/r2", `${ROOM}/Romeo2`);
  assert.equal(to(admin, "user@localhost/r2").length, 4);
});

Deno.test("moderated rooms: unaffiliated users enter as visitors and may not speak", async () => {
  const h = await openRoom();
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_moderatedroom": ["1"] });
  const entered = await h.join(JULIET, `${ROOM}/Juliet`);
  assert.ok(
    entered.some((line) =>
      line.includes(`<item jid='${JULIET}' affiliation='none' role='visitor'/><status code='110'/>`)
    ),
  );
  const [refused] = await h.send(
    `<message from='${JULIET}' to='${ROOM}' type='groupchat'><body>hi</body></message>`,
  );
  assert.match(refused, /<error type='auth' by='room@conference.localhost'><forbidden /);
});

Deno.test("non-anonymous rooms: real JIDs for everyone and status 100 on entering", async () => {
  const h = await openRoom();
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_whois": ["anyone"] });
  const entered = await h.join(JULIET, `${ROOM}/Juliet`);
  assert.deepEqual(to(entered, JULIET).slice(0, 2), [
    `<presence from='${ROOM}/Romeo' to='${JULIET}'><x xmlns='${MUC_USER}'>` +
    `<item jid='${ROMEO}' affiliation='owner' role='moderator'/></x></presence>`,
    `<presence from='${ROOM}/Juliet' to='${JULIET}'><x xmlns='${MUC_USER}'>` +
    `<item jid='${JULIET}' affiliation='none' role='participant'/><status code='100'/>` +
    `<status code='110'/></x></presence>`,
  ]);
});

Deno.test("presence updates are broadcast with the occupant's payload, without its MUC x", async () => {
  const h = await openRoom();
  await h.join(JULIET, `${ROOM}/Juliet`);
  const out = await h.send(
    `<presence from='${JULIET}' to='${ROOM}/Juliet'><show>away</show><status>brb</status></presence>`,
  );
  assert.deepEqual(out, [
    `<presence from='${ROOM}/Juliet' to='${ROMEO}'><show>away</show><status>brb</status>` +
    `<x xmlns='${MUC_USER}'><item jid='${JULIET}' affiliation='none' role='participant'/></x></presence>`,
    `<presence from='${ROOM}/Juliet' to='${JULIET}'><show>away</show><status>brb</status>` +
    `<x xmlns='${MUC_USER}'><item jid='${JULIET}' affiliation='none' role='participant'/>` +
    `<status code='110'/></x></presence>`,
  ]);
  const renamed = await h.send(`<presence from='${JULIET}' to='${ROOM}/Jules'/>`);
  assert.deepEqual(to(renamed, JULIET), [
    `<presence from='${ROOM}/Juliet' to='${JULIET}' type='unavailable'><x xmlns='${MUC_USER}'>` +
    `<item jid='${JULIET}' affiliation='none' role='participant' nick='Jules'/>` +
    `<status code='110'/><status code='303'/></x></presence>`,
    `<presence from='${ROOM}/Jules' to='${JULIET}'><x xmlns='${MUC_USER}'>` +
    `<item jid='${JULIET}' affiliation='none' role='participant'/><status code='110'/></x></presence>`,
  ]);
  // Plain presence from a non-occupant does not enter (XEP-0045 §7.2.18): it is told it is not in
  // the room, with 110, 307 and 333.
  const plain = await h.send(
    `<presence from='${NURSE}' to='${ROOM}/Nurse'><show>chat</show></presence>`,
  );
  assert.deepEqual(plain, [
    `<presence from='${ROOM}/Nurse' to='${NURSE}' type='unavailable'><x xmlns='${MUC_USER}'>` +
    `<item affiliation='none' role='none'><reason>You are not in the room.</reason></item>` +
    `<status code='110'/><status code='307'/><status code='333'/></x></presence>`,
  ]);
});

Deno.test("error stanzas are never answered", async () => {
  const h = await openRoom();
  for (const target of [DOMAIN, ROOM, `${ROOM}/Nobody`, `nowhere@${DOMAIN}`, `bad@@${DOMAIN}/ `]) {
    assert.deepEqual(
      await h.send(
        `<message from='${JULIET}' to='${target}' type='error'><body>x</body></message>` +
          `<presence from='${JULIET}' to='${target}' type='error'/>` +
          `<iq from='${JULIET}' to='${target}' type='error' id='e'><query xmlns='urn:x'/></iq>` +
          `<iq from='${JULIET}' to='${target}' type='result' id='r'/>`,
      ),
      [],
      target,
    );
  }
});

Deno.test("a crashing hook is logged and answered with internal-server-error", async () => {
  const h = await openRoom();
  h.service.hooks.on("occupant-pre-join", () => {
    throw new Error("boom");
  });
  const [out] = await h.join(JULIET, `${ROOM}/Juliet`);
  assert.match(
    out,
    /<error type='cancel' code='500' by='room@conference.localhost'><internal-server-error /,
  );
  assert.match(h.logs[0], /hook "occupant-pre-join" failed: Error: boom/);
});

Deno.test("one nickname from two resources: both get self-presence; the last to leave ends it", async () => {
  const h = await openRoom();
  const ROMEO2 = "user@localhost/r2";
  await h.join(JULIET, `${ROOM}/Juliet`);
  const second = await h.join(ROMEO2, `${ROOM}/Romeo`);
  assert.equal(to(second, ROMEO2).length, 3); // Juliet, self, subject
  assert.match(
    to(second, ROMEO)[0],
    /<item jid='user@localhost\/r1' affiliation='owner' role='moderator'\/><status code='110'\/>/,
  );
  assert.equal(h.service.room(ROOM)?.occupantCount, 2);

  const first = await h.send(`<presence type='unavailable' from='${ROMEO}' to='${ROOM}/Romeo'/>`);
  assert.deepEqual(to(first, JULIET), [
    `<presence from='${ROOM}/Romeo' to='${JULIET}'><x xmlns='${MUC_USER}'>` +
    `<item affiliation='owner' role='moderator'/></x></presence>`,
  ]);
  assert.match(
    to(first, ROMEO)[0],
    /type='unavailable'>.*<item jid='user@localhost\/r1' affiliation='owner' role='none'\/><status code='110'\/>/,
  );
  const last = await h.send(`<presence type='unavailable' from='${ROMEO2}' to='${ROOM}/Romeo'/>`);
  assert.match(to(last, JULIET)[0], /type='unavailable'/);
  assert.equal(h.service.room(ROOM)?.occupantCount, 1);
});
