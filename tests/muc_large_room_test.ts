// A room of 500 occupants over real STARTTLS connections: everyone enters, a message reaches
// everyone, and everyone leaves, with the room gone at the end (it is temporary).
import { strict as assert } from "node:assert";
import { BenchClient } from "./bench/_bench_client.ts";
import { startTestServer } from "./_harness.ts";

const OCCUPANTS = 500;
const ROOM = "big@conference.localhost";
const TIMEOUT_MS = 20_000;
const PASSWORD = "large-room-secret";

/** Runs `fn` over `items`, at most `limit` at once. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

Deno.test("a room with 500 occupants: joins, one broadcast to all, leaves", async () => {
  const names = Array.from({ length: OCCUPANTS }, (_, i) => `big${i + 1}`);
  await using test = await startTestServer({
    configure: (config) => {
      config.limits.maxConnectionsPerIp = OCCUPANTS + 10;
    },
  });
  await Promise.all(names.map((name) => test.server.accounts.create(name, PASSWORD)));
  const clients = names.map(() => new BenchClient());
  try {
    await pool(names.map((name, i) => [name, clients[i]] as const), 16, async ([name, client]) => {
      await client.login({
        host: "127.0.0.1",
        port: test.port,
        domain: "localhost",
        username: name,
        password: PASSWORD,
        mechanism: "PLAIN",
        resource: "r",
        timeoutMs: TIMEOUT_MS,
      });
    });

    // The first creates the room and makes it an instant room; the others enter one at a time
    // in small batches, each waiting for its own self-presence (status 110).
    const [owner] = clients;
    const selfPresence = (nick: string) => (raw: string) =>
      raw.startsWith("<presence") && raw.includes(`from='${ROOM}/${nick}'`) &&
      raw.includes("code='110'");
    owner.send(
      `<presence to='${ROOM}/${names[0]}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
    );
    await owner.waitFor(selfPresence(names[0]), TIMEOUT_MS, "owner self-presence");
    owner.send(
      `<iq type='set' id='instant' to='${ROOM}'><query xmlns='http://jabber.org/protocol/muc#owner'>` +
        "<x xmlns='jabber:x:data' type='submit'/></query></iq>",
    );
    await owner.waitFor((raw) => raw.includes("id='instant'"), TIMEOUT_MS, "instant room");
    const started = performance.now();
    await pool(
      clients.slice(1).map((client, i) => [names[i + 1], client] as const),
      8,
      async ([nick, client]) => {
        client.send(
          `<presence to='${ROOM}/${nick}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
        );
        await client.waitFor(selfPresence(nick), TIMEOUT_MS, `${nick} self-presence`);
      },
    );
    const joinMs = performance.now() - started;

    // One message from the owner reaches all 500, the owner included.
    let received = 0;
    const got = Promise.all(clients.map((client) =>
      client.waitFor(
        (raw) => {
          if (!raw.includes("id='hello'")) return false;
          received++;
          return true;
        },
        TIMEOUT_MS,
        "the broadcast",
      )
    ));
    owner.send(
      `<message type='groupchat' id='hello' to='${ROOM}'><body>Hello, all</body></message>`,
    );
    await got;
    assert.equal(received, OCCUPANTS);

    // Everyone leaves; the last one out sees the temporary room go.
    await pool(
      clients.map((client, i) => [names[i], client] as const),
      16,
      async ([nick, client]) => {
        client.send(`<presence type='unavailable' to='${ROOM}/${nick}'/>`);
        await client.waitFor(
          (raw) => raw.includes(`from='${ROOM}/${nick}'`) && raw.includes("type='unavailable'"),
          TIMEOUT_MS,
          `${nick} leaving`,
        );
      },
    );
    const disco = clients[0];
    disco.send(
      `<iq type='get' id='gone' to='${ROOM}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
    );
    await disco.waitFor(
      (raw) => raw.includes("id='gone'") && raw.includes("item-not-found"),
      TIMEOUT_MS,
      "the room to be gone",
    );
    console.log(`500 joins in ${joinMs.toFixed(0)} ms`);
  } finally {
    for (const client of clients) client.close();
  }
});
