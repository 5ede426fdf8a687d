// Message Archive Management over real client connections: history on a second device, paging
// with after-id through a larger archive, archives that survive a restart and go with the account.
import { strict as assert } from "node:assert";
import type { ReplayClient } from "../lib/replay/client.ts";
import { NS } from "../lib/stanza/ns.ts";
import type { Element } from "../lib/xml/element.ts";
import { ask, login } from "./_clients.ts";
import { startTestServer } from "./_harness.ts";

const ACCOUNTS: [string, string][] = [["romeo", "romeo-pw"], ["juliet", "juliet-pw"]];

/** Sends a MAM query and collects the result messages up to the iq answer. */
async function mamQuery(
  client: ReplayClient,
  inner: string,
  id = crypto.randomUUID(),
): Promise<{ results: Element[]; answer: Element }> {
  client.send(
    `<iq type='set' id='${id}'><query xmlns='urn:xmpp:mam:2' queryid='${id}'>${inner}</query></iq>`,
  );
  const results: Element[] = [];
  for (;;) {
    const { stanza } = await client.waitForStanza({ timeoutMs: 5000 });
    if (stanza.name === "iq" && stanza.attrs.id === id) return { results, answer: stanza };
    const result = stanza.getChild("result", NS.MAM);
    if (result?.attrs.queryid === id) results.push(stanza);
  }
}

const resultId = (message: Element) => message.getChild("result", NS.MAM)!.attrs.id;
const body = (message: Element) =>
  message.getChild("result", NS.MAM)!.getChild("forwarded", NS.FORWARD)!
    .getChild("message", NS.CLIENT)!.getChildText("body");

Deno.test("a second device gets the conversation from the archive, in order, with the stanza-ids seen on delivery", async () => {
  await using server = await startTestServer({ accounts: ACCOUNTS });
  const romeo = await login(server.port, "romeo@localhost/orchard", "romeo-pw");
  const juliet = await login(server.port, "juliet@localhost/balcony", "juliet-pw");
  juliet.send("<presence/>");
  await juliet.waitForStanza({ timeoutMs: 5000 }); // her own presence
  const delivered: string[] = [];
  for (let i = 0; i < 6; i++) {
    const [sender, receiver, to] = i % 2 === 0
      ? [romeo, juliet, "juliet@localhost"]
      : [juliet, romeo, "romeo@localhost/orchard"];
    sender.send(`<message to='${to}' type='chat' id='c${i}'><body>line ${i}</body></message>`);
    const { stanza } = await receiver.waitForStanza({ timeoutMs: 5000 });
    assert.equal(stanza.getChildText("body"), `line ${i}`);
    const sid = stanza.getChild("stanza-id", NS.STANZA_ID)!;
    assert.equal(sid.attrs.by, receiver === juliet ? "juliet@localhost" : "romeo@localhost");
    if (receiver === juliet) delivered.push(sid.attrs.id);
  }
  await juliet.disconnect();

  // Juliet's phone reconnects as another resource and asks for the history.
  await using phone = await login(server.port, "juliet@localhost/phone", "juliet-pw");
  const { results, answer } = await mamQuery(phone, "");
  assert.equal(answer.attrs.type, "result");
  assert.equal(answer.getChild("fin", NS.MAM)?.attrs.complete, "true");
  assert.deepEqual(results.map(body), [0, 1, 2, 3, 4, 5].map((i) => `line ${i}`));
  for (const message of results) assert.equal(message.attrs.to, "juliet@localhost/phone");
  // Received messages carry the ids her first device saw; sent ones have ids of their own.
  assert.deepEqual([0, 2, 4].map((i) => resultId(results[i])), delivered);
  assert.equal(new Set(results.map(resultId)).size, 6);
  await romeo.disconnect();
});

Deno.test("paging with RSM after and the #extended after-id/before-id through 120 messages", async () => {
  await using server = await startTestServer({ accounts: ACCOUNTS });
  await using romeo = await login(server.port, "romeo@localhost/orchard", "romeo-pw");
  for (let i = 0; i < 120; i++) {
    romeo.send(`<message to='juliet@localhost' type='chat'><body>${i}</body></message>`);
  }
  await romeo.sync(10_000);
  await using juliet = await login(server.port, "juliet@localhost/balcony", "juliet-pw");
  const seen: string[] = [];
  let after = "";
  let pages = 0;
  for (;;) {
    const set = `<set xmlns='http://jabber.org/protocol/rsm'><max>50</max>${
      after ? `<after>${after}</after>` : ""
    }</set>`;
    const { results, answer } = await mamQuery(juliet, set);
    pages++;
    const fin = answer.getChild("fin", NS.MAM)!;
    const rsm = fin.getChild("set", NS.RSM)!;
    assert.equal(rsm.getChildText("count"), "120");
    assert.equal(rsm.getChild("first")?.attrs.index, String(seen.length));
    seen.push(...results.map(body).map(String));
    after = rsm.getChildText("last")!;
    if (fin.attrs.complete === "true") break;
    assert.equal(results.length, 50);
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen, [...Array(120).keys()].map(String));

  // The ids of messages 10 and 15 bound a range, in a form (#extended).
  const { results: all } = await mamQuery(
    juliet,
    "<set xmlns='http://jabber.org/protocol/rsm'><max>20</max></set>",
  );
  const form = (fields: string) =>
    `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>${fields}</x>`;
  const { results: between } = await mamQuery(
    juliet,
    form(
      `<field var='after-id'><value>${resultId(all[10])}</value></field>` +
        `<field var='before-id'><value>${resultId(all[15])}</value></field>`,
    ),
  );
  assert.deepEqual(between.map(body), ["11", "12", "13", "14"]);
  const { results: picked } = await mamQuery(
    juliet,
    form(
      `<field var='ids'><value>${resultId(all[3])}</value><value>${
        resultId(all[7])
      }</value></field>`,
    ),
  );
  assert.deepEqual(picked.map(body), ["3", "7"]);
  // A flipped last page: newest first.
  const { results: flipped } = await mamQuery(
    juliet,
    "<set xmlns='http://jabber.org/protocol/rsm'><max>3</max><before/></set><flip-page/>",
  );
  assert.deepEqual(flipped.map(body), ["119", "118", "117"]);
});

Deno.test("archives survive a restart and are removed with the account", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-mam-" });
  try {
    {
      await using server = await startTestServer({ accounts: ACCOUNTS, dataDir });
      await using romeo = await login(server.port, "romeo@localhost/orchard", "romeo-pw");
      romeo.send(`<message to='juliet@localhost' type='chat'><body>remember me</body></message>`);
      await romeo.sync(5000);
    }
    {
      await using server = await startTestServer({ dataDir });
      await using juliet = await login(server.port, "juliet@localhost/balcony", "juliet-pw");
      const { results } = await mamQuery(juliet, "");
      assert.deepEqual(results.map(body), ["remember me"]);
      const removed = await ask(
        juliet,
        `<iq type='set' id='r'><query xmlns='jabber:iq:register'><remove/></query></iq>`,
      );
      assert.equal(removed.attrs.type, "result");
    }
    {
      await using server = await startTestServer({ dataDir });
      await server.server.accounts.create("juliet", "new-pw");
      await using juliet = await login(server.port, "juliet@localhost/balcony", "new-pw");
      const { results, answer } = await mamQuery(juliet, "");
      assert.equal(results.length, 0);
      assert.equal(
        answer.getChild("fin", NS.MAM)!.getChild("set", NS.RSM)!.getChildText("count"),
        "0",
      );
      // Romeo's own copy stays in his archive.
      await using romeo = await login(server.port, "romeo@localhost/orchard", "romeo-pw");
      assert.deepEqual((await mamQuery(romeo, "")).results.map(body), ["remember me"]);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
