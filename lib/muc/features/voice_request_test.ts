import { strict as assert } from "node:assert";
import { MucHooks } from "../hooks.ts";
import { Harness } from "../_testing.ts";
import { voiceRequestFeature } from "./voice_request.ts";

const ROMEO = "romeo@localhost/orchard";
const ROMEO2 = "romeo@localhost/garden";
const JULIET = "juliet@localhost/balcony";
const NURSE = "nurse@localhost/chamber";
const ROOM = "court@conference.localhost";
const REQUEST = "http://jabber.org/protocol/muc#request";

function request(from: string, role = "participant", type = "submit"): string {
  return `<message from='${from}' to='${ROOM}' id='ask'><x xmlns='jabber:x:data' type='${type}'>` +
    `<field var='FORM_TYPE'><value>${REQUEST}</value></field>` +
    `<field var='muc#role'><value>${role}</value></field></x></message>`;
}

function answer(from: string, fields: Record<string, string>, type = "submit"): string {
  const body = Object.entries(fields).map(([name, value]) =>
    `<field var='${name}'><value>${value}</value></field>`
  ).join("");
  return `<message from='${from}' to='${ROOM}' id='grant'><x xmlns='jabber:x:data' type='${type}'>` +
    `<field var='FORM_TYPE'><value>${REQUEST}</value></field>${body}</x></message>`;
}

/** Romeo owns a room (moderated unless said otherwise); Juliet is in it. */
async function court(moderated = true): Promise<Harness> {
  const h = new Harness();
  await h.join(ROMEO, `${ROOM}/Romeo`);
  await h.configure(ROMEO, ROOM, { "muc#roomconfig_moderatedroom": [moderated ? "1" : "0"] });
  await h.join(JULIET, `${ROOM}/Juliet`);
  return h;
}

function role(h: Harness, nick: string): string | undefined {
  return h.service.room(ROOM)?.occupant(nick)?.role;
}

Deno.test("voiceRequestFeature: a visitor's request reaches every moderator session, with its JID", async () => {
  const h = await court();
  await h.join(ROMEO2, `${ROOM}/Romeo`);
  await h.join(NURSE, `${ROOM}/Nurse`);
  const out = await h.send(request(JULIET));
  assert.deepEqual(out.map((line) => line.match(/ to='([^']*)'/)?.[1]), [ROMEO, ROMEO2]);
  for (const line of out) {
    assert.match(line, /^<message from='court@conference\.localhost' to='[^']+'>/);
    assert.match(line, /<x xmlns='jabber:x:data' type='form'><title>Voice request<\/title>/);
    assert.match(
      line,
      new RegExp(
        `<value>${REQUEST}</value></field>` +
          "<field var='muc#role' type='list-single' label='Requested role'><value>participant</value></field>" +
          `<field var='muc#jid' type='jid-single' label='User ID'><value>${JULIET}</value></field>` +
          "<field var='muc#roomnick' type='text-single' label='Room Nickname'><value>Juliet</value></field>" +
          "<field var='muc#request_allow' type='boolean' label='Grant voice to this person\\?'>" +
          "<value>false</value></field></x></message>$",
      ),
    );
  }
});

Deno.test("voiceRequestFeature: a moderator's approval gives voice, by muc#jid or by muc#roomnick", async () => {
  const h = await court();
  await h.join(NURSE, `${ROOM}/Nurse`);
  const out = await h.send(answer(ROMEO, { "muc#jid": JULIET, "muc#request_allow": "true" }));
  assert.equal(role(h, "Juliet"), "participant");
  assert.equal(out.length, 3); // to Romeo and the Nurse, then Juliet's self-presence
  assert.ok(out.every((line) => line.includes("role='participant'")));
  // Romeo, a moderator, sees who he is; the Nurse and Juliet get the nickname only.
  const actor = (to: string) => out.find((line) => line.includes(`to='${to}'`)) ?? "";
  assert.ok(actor(ROMEO).includes(`<actor jid='${ROMEO}' nick='Romeo'/><reason>Voice granted`));
  for (const to of [NURSE, JULIET]) {
    assert.ok(actor(to).includes("<actor nick='Romeo'/><reason>Voice granted</reason>"));
  }

  await h.send(answer(ROMEO, { "muc#roomnick": "Nurse", "muc#request_allow": "1" }));
  assert.equal(role(h, "Nurse"), "participant");
});

Deno.test("voiceRequestFeature: declines, cancels and stale answers change nothing and answer nothing", async () => {
  const h = await court();
  const quiet = async (text: string) => {
    assert.deepEqual(await h.send(text), []);
    assert.equal(role(h, "Juliet"), "visitor");
  };
  await quiet(answer(ROMEO, { "muc#jid": JULIET, "muc#request_allow": "false" }));
  await quiet(answer(ROMEO, { "muc#jid": JULIET }));
  await quiet(answer(ROMEO, { "muc#jid": JULIET, "muc#request_allow": "true" }, "cancel"));
  await quiet(answer(ROMEO, { "muc#jid": "nobody@localhost/x", "muc#request_allow": "true" }));
  await quiet(answer(ROMEO, { "muc#roomnick": "Nobody", "muc#request_allow": "true" }));
  // A visitor cannot approve her own request: hers is a request, which goes to the moderators.
  const out = await h.send(answer(JULIET, { "muc#jid": JULIET, "muc#request_allow": "true" }));
  assert.equal(role(h, "Juliet"), "visitor");
  assert.equal(out.length, 1);
  assert.match(out[0], new RegExp(`to='${ROMEO}'.*type='form'`));
});

Deno.test("voiceRequestFeature: a request from someone with voice is ignored", async () => {
  const h = await court(false);
  assert.equal(role(h, "Juliet"), "participant");
  assert.deepEqual(await h.send(request(JULIET)), []);
});

Deno.test("voiceRequestFeature: the role counts, not the option: a silenced visitor of an unmoderated room may ask", async () => {
  const h = await court(false);
  await h.send(
    `<iq from='${ROMEO}' to='${ROOM}' type='set' id='mute'>` +
      "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Juliet' role='visitor'/></query></iq>",
  );
  assert.equal(role(h, "Juliet"), "visitor");
  const out = await h.send(request(JULIET));
  assert.equal(out.length, 1);
  assert.match(out[0], /<field var='muc#roomnick'[^>]*><value>Juliet<\/value>/);
});

Deno.test("voiceRequestFeature: non-occupants and requests for other roles are refused", async () => {
  const h = await court();
  const [outsider] = await h.send(request(NURSE));
  assert.match(outsider, /^<message [^>]*type='error'.*<not-acceptable /);
  assert.match(outsider, new RegExp(`to='${NURSE}'`));
  const [moderator] = await h.send(request(JULIET, "moderator"));
  assert.match(moderator, /^<message [^>]*type='error'.*<bad-request /);
  const [notSubmit] = await h.send(request(JULIET, "participant", "result"));
  assert.match(notSubmit, /^<message [^>]*type='error'.*<bad-request /);
});

Deno.test("voiceRequestFeature: a malformed form is a bad request; other forms are not taken", async () => {
  const h = await court();
  const [bad] = await h.send(
    `<message from='${JULIET}' to='${ROOM}'><x xmlns='jabber:x:data' type='nonsense'/></message>`,
  );
  assert.match(bad, /type='error'.*<bad-request /);
  const [other] = await h.send(
    `<message from='${JULIET}' to='${ROOM}'><x xmlns='jabber:x:data' type='submit'>` +
      "<field var='FORM_TYPE'><value>urn:example:other</value></field></x></message>",
  );
  // Not taken: to the room it is just a message it offers nothing for.
  assert.match(other, /type='error'.*<service-unavailable /);
});

Deno.test("MucHooks.formMessage: one handler per form type", () => {
  const hooks = new MucHooks();
  voiceRequestFeature(hooks);
  assert.ok(hooks.formMessageHandler(REQUEST) !== undefined);
  assert.equal(hooks.formMessageHandler("urn:example:other"), undefined);
  assert.throws(() => voiceRequestFeature(hooks), /already have a handler/);
});
