// Push Notifications (XEP-0357) over real sockets. There is no federation yet, so the app server
// is a stand-in: a second local account's session, pushserver@localhost/app, which receives the
// publish iq and answers it with a result or an error, as an XMPP Push Service would.
// Juliet enables push for it; (a) offline, a message from Romeo is pushed with the summary
// (no body unless include_body); (b) her Stream Management session waits to be resumed after
// its connection dropped, and a message is pushed; (c) an error answer disables the
// registration; (d) disable stops the pushes; (e) a chat state alone pushes nothing.
import { strict as assert } from "node:assert";
import type { Config } from "../lib/config/mod.ts";
import type { ReplayClient } from "../lib/replay/client.ts";
import type { Element } from "../lib/xml/element.ts";
import { login } from "./_clients.ts";
import { startTestServer, type TestServer } from "./_harness.ts";
import { RawClient } from "./_raw_client.ts";

const ACCOUNTS: [string, string][] = [
  ["juliet", "juliet-pass"],
  ["romeo", "romeo-pass"],
  ["pushserver", "push-pass"],
];
const APP = "pushserver@localhost/app";
const PUSH = "urn:xmpp:push:0";
const SM = "urn:xmpp:sm:3";
const ENABLE = `<iq type='set' id='en1'><enable xmlns='${PUSH}' jid='${APP}' node='n1'>` +
  `<x xmlns='jabber:x:data' type='submit'>` +
  `<field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>` +
  `<field var='secret'><value>eruio234vzxc2kla-91</value></field></x></enable></iq>`;

/** A server whose pushes are not throttled (each test sends several). */
function server(configure?: (config: Config) => void): Promise<TestServer> {
  return startTestServer({
    accounts: ACCOUNTS,
    configure: (config) => {
      config.push.throttleSeconds = 0;
      configure?.(config);
    },
  });
}

async function juliet(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  await client.startTls();
  await client.login("juliet", "juliet-pass", "phone");
  return client;
}

async function enablePush(client: RawClient): Promise<void> {
  client.send(ENABLE);
  await client.waitFor(/<iq [^>]*id='en1'[^>]*type='result'|<iq [^>]*type='result'[^>]*id='en1'/);
  assert.doesNotMatch(client.text, /type='error'/);
  client.discard();
}

async function appServer(port: number): Promise<ReplayClient> {
  return await login(port, APP, "push-pass");
}

const isPublish = (stanza: Element) =>
  stanza.name === "iq" && stanza.attrs.type === "set" &&
  stanza.getChild("pubsub", "http://jabber.org/protocol/pubsub") !== undefined;

/** The next publish the stand-in receives. */
async function nextPublish(app: ReplayClient): Promise<Element> {
  return (await app.waitForStanza({ match: isPublish, timeoutMs: 5000 })).stanza;
}

/** No publish arrives within `ms`. */
async function noPublish(app: ReplayClient, ms = 400): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  const got = app.queue.find(({ stanza }) => isPublish(stanza));
  assert.equal(got, undefined, got?.stanza.toString());
}

function summary(publish: Element): Map<string, string> {
  const x = publish.getChild("pubsub", "http://jabber.org/protocol/pubsub")!.getChild("publish")!
    .getChild("item")!.getChild("notification", PUSH)!.getChild("x", "jabber:x:data")!;
  return new Map(x.getChildren("field").map((f) => [f.attrs.var!, f.getChildText("value") ?? ""]));
}

function answer(app: ReplayClient, publish: Element, error?: string): void {
  const id = publish.attrs.id!;
  app.send(
    error === undefined
      ? `<iq type='result' id='${id}' to='${publish.attrs.from}'/>`
      : `<iq type='error' id='${id}' to='${publish.attrs.from}'><error type='cancel'>` +
        `<${error} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
  );
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const chat = (body: string) =>
  `<message to='juliet@localhost' type='chat' id='${body}'><body>${body}</body></message>`;

Deno.test("push: the feature on the account, and an offline message pushed with the summary, no body", async () => {
  await using test = await server();
  const app = await appServer(test.port);
  const romeo = await login(test.port, "romeo@localhost", "romeo-pass");
  const j = await juliet(test.port);
  try {
    j.send(
      `<iq type='get' id='d1' to='juliet@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
    );
    await j.waitFor(`<feature var='${PUSH}'/>`);
    await enablePush(j);
    j.send("</stream:stream>");
    await j.waitClosed();
    await until(
      "juliet offline",
      () => test.server.router.sessionsOf("juliet@localhost").length === 0,
    );
    romeo.send(chat("Wherefore art thou"));
    const publish = await nextPublish(app);
    assert.equal(publish.attrs.from, "juliet@localhost");
    assert.equal(
      publish.getChild("pubsub", "http://jabber.org/protocol/pubsub")!.getChild("publish")!.attrs
        .node,
      "n1",
    );
    assert.deepEqual([...summary(publish)], [
      ["FORM_TYPE", "urn:xmpp:push:summary"],
      ["message-count", "1"],
      ["last-message-sender", romeo.fullJid],
    ]);
    assert.match(publish.toString(), /<publish-options>.*eruio234vzxc2kla-91/);
    answer(app, publish);
    await until(
      "the answer counted",
      () => {
        const outcomes = test.server.metrics.snapshot()["verona_push_notifications_total"];
        return typeof outcomes === "object" && outcomes.delivered === 1;
      },
    );
    // (e) a chat state alone pushes nothing.
    romeo.send(
      `<message to='juliet@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
    );
    await romeo.sync();
    await noPublish(app);
  } finally {
    j.close();
    app.close();
    romeo.close();
  }
});

Deno.test("push: include_body = true sends the message's text", async () => {
  await using test = await server((config) => config.push.includeBody = true);
  const app = await appServer(test.port);
  const romeo = await login(test.port, "romeo@localhost", "romeo-pass");
  const j = await juliet(test.port);
  try {
    await enablePush(j);
    j.close(); // no SM: the session ends
    await until(
      "juliet offline",
      () => test.server.router.sessionsOf("juliet@localhost").length === 0,
    );
    romeo.send(chat("Wherefore"));
    assert.equal(summary(await nextPublish(app)).get("last-message-body"), "Wherefore");
  } finally {
    app.close();
    romeo.close();
  }
});

Deno.test("push: a session waiting to be resumed (XEP-0198) gets its messages pushed", async () => {
  await using test = await server();
  const app = await appServer(test.port);
  const romeo = await login(test.port, "romeo@localhost", "romeo-pass");
  const j = await juliet(test.port);
  try {
    j.send("<presence/>");
    await enablePush(j);
    j.send(`<enable xmlns='${SM}' resume='true'/>`);
    await j.waitFor(/<enabled [^>]*\/>/);
    j.close(); // no </stream:stream>: the session hibernates
    await until("juliet hibernates", () => test.log.some((line) => line.includes("hibernating")));
    assert.equal(test.server.router.sessionsOf("juliet@localhost").length, 1);
    romeo.send(chat("are you there"));
    const publish = await nextPublish(app);
    assert.equal(summary(publish).get("message-count"), "1");
    answer(app, publish);
  } finally {
    app.close();
    romeo.close();
  }
});

Deno.test("push: an error from the app server disables the registration; disable stops pushes", async () => {
  await using test = await server();
  const app = await appServer(test.port);
  const romeo = await login(test.port, "romeo@localhost", "romeo-pass");
  let j = await juliet(test.port);
  try {
    await enablePush(j);
    j.close();
    await until(
      "juliet offline",
      () => test.server.router.sessionsOf("juliet@localhost").length === 0,
    );
    romeo.send(chat("one"));
    answer(app, await nextPublish(app), "item-not-found");
    await until(
      "the registration disabled",
      () => test.log.some((line) => line.includes("item-not-found; registration disabled")),
    );
    romeo.send(chat("two"));
    await romeo.sync();
    await noPublish(app);

    // (d) enable again, disable, and nothing more is pushed.
    j = await juliet(test.port);
    await enablePush(j);
    j.send(`<iq type='set' id='dis1'><disable xmlns='${PUSH}' jid='${APP}'/></iq>`);
    await j.waitFor("id='dis1'");
    assert.doesNotMatch(j.text, /type='error'/);
    j.close();
    await until(
      "juliet offline",
      () => test.server.router.sessionsOf("juliet@localhost").length === 0,
    );
    romeo.send(chat("three"));
    await romeo.sync();
    await noPublish(app);
  } finally {
    j.close();
    app.close();
    romeo.close();
  }
});
