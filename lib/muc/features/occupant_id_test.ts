import { strict as assert } from "node:assert";
import { Harness } from "../_testing.ts";
import { MUC_FEATURES } from "./mod.ts";
import { occupantId } from "./occupant_id.ts";

const ROMEO = "romeo@localhost/orchard";
const ROMEO_PHONE = "romeo@localhost/phone";
const JULIET = "juliet@localhost/balcony";
const ROOM = "hall@conference.localhost";
const OID = "urn:xmpp:occupant-id:0";
const SECRET = new Uint8Array(32).fill(7);

function idOf(line: string): string[] {
  return [...line.matchAll(/<occupant-id xmlns='urn:xmpp:occupant-id:0' id='([^']*)'\/>/g)]
    .map((match) => match[1]);
}

async function openRoom(): Promise<Harness> {
  const h = new Harness({ features: MUC_FEATURES, secret: SECRET });
  await h.join(ROMEO, `${ROOM}/Romeo`);
  await h.configure(ROMEO, ROOM, {});
  return h;
}

Deno.test("occupantId() is stable per room and bare JID, and reveals neither", () => {
  const romeo = occupantId(SECRET, ROOM, "romeo@localhost");
  assert.equal(romeo, occupantId(SECRET, ROOM, "romeo@localhost"));
  assert.notEqual(romeo, occupantId(SECRET, ROOM, "juliet@localhost"));
  assert.notEqual(romeo, occupantId(SECRET, "other@conference.localhost", "romeo@localhost"));
  assert.notEqual(romeo, occupantId(new Uint8Array(32), ROOM, "romeo@localhost"));
  assert.match(romeo, /^[A-Za-z0-9+/]{43}=$/);
  assert.ok(!romeo.includes("romeo"));
});

Deno.test("the room advertises occupant-id (XEP-0421 §3)", async () => {
  const h = await openRoom();
  const [info] = await h.send(
    `<iq from='${JULIET}' to='${ROOM}' type='get' id='d'>` +
      "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
  );
  assert.ok(info.includes(`<feature var='${OID}'/>`), info);
});

Deno.test("presence and messages from an occupant carry its id, a forged one removed (§4)", async () => {
  const h = await openRoom();
  const romeo = occupantId(SECRET, ROOM, "romeo@localhost");
  const juliet = occupantId(SECRET, ROOM, "juliet@localhost");
  const joined = await h.send(
    `<presence from='${JULIET}' to='${ROOM}/Juliet'>` +
      `<x xmlns='http://jabber.org/protocol/muc'/><occupant-id xmlns='${OID}' id='${romeo}'/>` +
      "</presence>",
  );
  // Romeo's presence to Juliet, Juliet's to Romeo, Juliet's self-presence: each one id, the right one.
  const presences = joined.filter((line) => line.startsWith("<presence"));
  assert.equal(presences.length, 3);
  for (const line of presences) {
    assert.deepEqual(idOf(line), [line.includes(`from='${ROOM}/Romeo'`) ? romeo : juliet], line);
  }

  const said = await h.send(
    `<message from='${JULIET}' to='${ROOM}' type='groupchat' id='m1'><body>Hi</body>` +
      `<occupant-id xmlns='${OID}' id='forged'/></message>`,
  );
  assert.equal(said.length, 2);
  for (const line of said) assert.deepEqual(idOf(line), [juliet]);

  const [pm] = await h.send(
    `<message from='${JULIET}' to='${ROOM}/Romeo' type='chat' id='p1'><body>psst</body></message>`,
  );
  assert.deepEqual(idOf(pm), [juliet]);

  // Another session of the same bare JID, and a new nickname, keep the id.
  const again = await h.join(ROMEO_PHONE, `${ROOM}/Romeo`);
  for (const line of again.filter((l) => l.includes(`from='${ROOM}/Romeo'`))) {
    assert.deepEqual(idOf(line), [romeo]);
  }
  const renamed = await h.send(`<presence from='${JULIET}' to='${ROOM}/Jules'/>`);
  assert.ok(renamed.length > 0);
  for (const line of renamed) assert.deepEqual(idOf(line), [juliet], line);

  // History replays the message with its id.
  const history = await h.join("nurse@localhost/n1", `${ROOM}/Nurse`);
  const replayed = history.find((line) => line.includes("<body>Hi</body>"));
  assert.deepEqual(idOf(replayed ?? ""), [juliet]);
});
