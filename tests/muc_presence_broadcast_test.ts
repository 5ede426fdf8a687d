// muc#roomconfig_presencebroadcast (XEP-0045 §10.2): occupants of unlisted roles are not announced.
// A socket test, since a script cannot show that a stanza never arrives.
import { strict as assert } from "node:assert";
import { ask, login } from "./_clients.ts";
import { startTestServer } from "./_harness.ts";

const ROOM = "quiet@conference.localhost";
const BROADCAST = "moderator";

Deno.test("only moderators' presence is broadcast when presencebroadcast lists moderators", async () => {
  await using test = await startTestServer({ accounts: [["romeo", "pw1"], ["juliet", "pw2"]] });
  await using romeo = await login(test.port, "romeo@localhost/orchard", "pw1");
  await using juliet = await login(test.port, "juliet@localhost/balcony", "pw2");

  romeo.send(`<presence to='${ROOM}/Romeo'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
  await romeo.sync();
  romeo.drop(romeo.queue.length);
  const configured = await ask(
    romeo,
    `<iq type='set' id='cfg' to='${ROOM}'><query xmlns='http://jabber.org/protocol/muc#owner'>` +
      `<x xmlns='jabber:x:data' type='submit'>` +
      `<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>` +
      `<field var='muc#roomconfig_presencebroadcast'><value>${BROADCAST}</value></field>` +
      `</x></query></iq>`,
  );
  assert.equal(configured.attrs.type, "result", configured.toString());
  romeo.drop(romeo.queue.length);

  juliet.send(
    `<presence to='${ROOM}/Juliet'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
  );
  await juliet.sync();
  const fromRoom = juliet.queue.map((r) => r.stanza).filter((s) => s.name === "presence");
  // Juliet sees the moderator and herself (self-presence always goes out).
  assert.deepEqual(fromRoom.map((s) => s.attrs.from), [`${ROOM}/Romeo`, `${ROOM}/Juliet`]);

  await romeo.sync();
  const announced = romeo.queue.filter((r) => r.stanza.attrs.from === `${ROOM}/Juliet`);
  assert.deepEqual(announced.map((r) => r.stanza.toString()), []);

  // Her messages still reach everyone.
  juliet.send(`<message to='${ROOM}' type='groupchat' id='m1'><body>Hush</body></message>`);
  const heard = await romeo.waitForStanza({ match: (s) => s.name === "message" });
  assert.equal(heard.stanza.attrs.from, `${ROOM}/Juliet`);
});
