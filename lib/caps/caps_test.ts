import { strict as assert } from "node:assert";
import { parseJid } from "../jid/jid.ts";
import { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { discoModule } from "../disco/disco.ts";
import { NS } from "../stanza/ns.ts";
import { el, type Element } from "../xml/element.ts";
import { CAPS_QUERY_ID, capsModule, SERVER_CAPS_NODE } from "./caps.ts";
import { capsVer } from "./ver.ts";

function setup(maxCachedHashes = 2) {
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  discoModule(router);
  router.serverFeatures.add(NS.CAPS);
  const caps = capsModule(router, { maxCachedHashes, log: (line) => assert.fail(line) });
  const bind = (full: string) => {
    const session: BoundSession & { received: Element[] } = {
      id: full,
      jid: parseJid(full),
      presence: null,
      priority: 0,
      directedPresence: new Set(),
      received: [],
      send(stanza) {
        this.received.push(stanza);
      },
      sendXml: () => {},
      closeWithError: () => {},
    };
    router.bind(session);
    return session;
  };
  return { router, caps, bind };
}

function info(...features: string[]): Element {
  return el(
    "query",
    { xmlns: NS.DISCO_INFO },
    el("identity", { category: "client", type: "pc" }),
    ...features.map((v) => el("feature", { var: v })),
  );
}

function presence(ver: string): Element {
  return el("presence", {}, el("c", { xmlns: NS.CAPS, hash: "sha-1", node: "urn:t", ver }));
}

Deno.test("the server's <c/> stream feature carries the hash of its own disco#info, answered at node#ver", async () => {
  const { router, caps } = setup();
  const feature = router.streamFeatures.find((f) => f.name === "c")!;
  const iq = (node?: string) =>
    el(
      "iq",
      { type: "get", id: "1", from: "juliet@localhost/x", to: "localhost" },
      el("query", {
        xmlns: NS.DISCO_INFO,
        node,
      }),
    );
  const plain = await router.iq.find("server", iq())(iq(), {});
  const ver = capsVer(plain.getChild("query", NS.DISCO_INFO)!, "sha-1");
  assert.equal(feature.toString().includes(`ver='${ver}'`), true, feature.toString());
  assert.equal(caps.serverVer(), ver);
  const atNode = await router.iq.find("server", iq())(iq(`${SERVER_CAPS_NODE}#${ver}`), {});
  assert.equal(atNode.getChild("query", NS.DISCO_INFO)!.attrs.node, `${SERVER_CAPS_NODE}#${ver}`);
  // A module adding a feature later changes the ver (computed when serialized).
  router.serverFeatures.add("urn:example:late");
  assert.notEqual(caps.serverVer(), ver);
});

Deno.test("clients' caps: one query per unknown hash, verified, cached (bounded), shared by resources", async () => {
  const { router, caps, bind } = setup(1);
  const notified: string[] = [];
  caps.onNotifyAdded((session, nodes) => notified.push(`${session.jid.full} ${[...nodes]}`));
  const query = info("urn:tune+notify", NS.DISCO_INFO);
  const ver = capsVer(query, "sha-1")!;
  const a = bind("romeo@localhost/a");
  const b = bind("romeo@localhost/b");
  await router.fromClient(presence(ver).clone({ from: a.jid.full }), a);
  await router.fromClient(presence(ver).clone({ from: b.jid.full }), b);
  const asked = [...a.received, ...b.received].filter((s) => s.name === "iq");
  assert.equal(asked.length, 1, "one query per hash");
  assert.equal(asked[0].attrs.id, CAPS_QUERY_ID);
  assert.equal(asked[0].getChild("query", NS.DISCO_INFO)!.attrs.node, `urn:t#${ver}`);
  assert.equal(caps.wantsNotify(a.jid.full, "urn:tune"), false);
  await router.fromClient(
    el("iq", { type: "result", id: CAPS_QUERY_ID, from: a.jid.full, to: "romeo@localhost" }, query),
    a,
  );
  assert.equal(caps.wantsNotify(a.jid.full, "urn:tune"), true);
  assert.equal(caps.wantsNotify(b.jid.full, "urn:tune"), true);
  assert.deepEqual(notified.sort(), ["romeo@localhost/a urn:tune", "romeo@localhost/b urn:tune"]);

  // A wrong answer (the hash does not match) describes that resource only (§5.4 3.9).
  const liar = bind("mallory@localhost/x");
  const victim = bind("juliet@localhost/y");
  await router.fromClient(presence("bogus=").clone({ from: liar.jid.full }), liar);
  await router.fromClient(presence("bogus=").clone({ from: victim.jid.full }), victim);
  await router.fromClient(
    el(
      "iq",
      { type: "result", id: CAPS_QUERY_ID, from: liar.jid.full, to: "mallory@localhost" },
      info("urn:spy+notify"),
    ),
    liar,
  );
  assert.equal(caps.wantsNotify(liar.jid.full, "urn:spy"), true);
  assert.equal(caps.wantsNotify(victim.jid.full, "urn:spy"), false);
  assert.equal(caps.cachedHashes, 1);
  // ... and the other resource that sent the same string is asked itself.
  const reasked = victim.received.filter((s) => s.name === "iq" && s.attrs.type === "get");
  assert.equal(reasked.length, 1);
  assert.equal(reasked[0].attrs.from, "juliet@localhost");

  // Unavailable forgets the resource.
  await router.fromClient(el("presence", { type: "unavailable", from: a.jid.full }), a);
  assert.equal(caps.features(a.jid.full), undefined);
});

Deno.test("a resource that ends before answering: another with the same caps is asked", async () => {
  const { router, caps, bind } = setup();
  const query = info("urn:geo+notify");
  const ver = capsVer(query, "sha-1")!;
  const a = bind("romeo@localhost/a");
  const b = bind("juliet@localhost/b");
  await router.fromClient(presence(ver).clone({ from: a.jid.full }), a);
  await router.fromClient(presence(ver).clone({ from: b.jid.full }), b);
  assert.equal(b.received.filter((s) => s.name === "iq").length, 0);
  await router.unbind(a);
  const [ask] = b.received.filter((s) => s.name === "iq");
  assert.equal(ask.attrs.to, b.jid.full);
  await router.fromClient(
    el(
      "iq",
      { type: "result", id: CAPS_QUERY_ID, from: b.jid.full, to: "juliet@localhost" },
      query,
    ),
    b,
  );
  assert.equal(caps.wantsNotify(b.jid.full, "urn:geo"), true);
});

Deno.test("without disco, caps offers no stream feature but still tracks clients", () => {
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  const caps = capsModule(router, { maxCachedHashes: 10, log: (line) => assert.fail(line) });
  assert.equal(router.streamFeatures.some((f) => f.name === "c"), false);
  assert.equal(caps.serverVer(), "");
});

Deno.test("a remote entity's caps: asked from the account it told, answered to that account, forgotten on unavailable", async () => {
  const { router, caps } = setup();
  const sent: Element[] = [];
  router.setRemote({ send: (stanza) => void sent.push(stanza) });
  const notified: [string, string[], string[]][] = [];
  caps.onRemoteNotifyAdded((jid, accounts, nodes) =>
    notified.push([jid, [...accounts], [...nodes]])
  );
  const query = info("urn:tune", "urn:tune+notify");
  const ver = capsVer(query, "sha-1")!;
  const remote = "bob@remote.example/desk";
  await router.route(presence(ver).clone({ from: remote, to: "alice@localhost" }));
  // Asked from alice's bare JID (the account it told), at node#ver.
  const asked = sent.find((stanza) => stanza.name === "iq")!;
  assert.equal(asked.attrs.from, "alice@localhost");
  assert.equal(asked.attrs.to, remote);
  assert.equal(asked.getChild("query", NS.DISCO_INFO)!.attrs.node, `urn:t#${ver}`);
  assert.equal(caps.wantsNotify(remote, "urn:tune"), false);
  // An answer to another account is not the answer.
  const answer = (to: string) =>
    el("iq", { type: "result", id: CAPS_QUERY_ID, from: remote, to }, query.clone());
  await router.route(answer("carol@localhost"));
  assert.equal(caps.wantsNotify(remote, "urn:tune"), false);
  await router.route(answer("alice@localhost"));
  assert.equal(caps.wantsNotify(remote, "urn:tune"), true);
  assert.deepEqual([...caps.remotesAvailableTo("alice@localhost")], [remote]);
  assert.deepEqual(notified, [[remote, ["alice@localhost"], ["urn:tune"]]]);
  // The same caps to another account: known already, and new to that account only.
  await router.route(presence(ver).clone({ from: remote, to: "carol@localhost" }));
  assert.deepEqual(notified[1], [remote, ["carol@localhost"], ["urn:tune"]]);
  // A repeated presence triggers nothing.
  await router.route(presence(ver).clone({ from: remote, to: "alice@localhost" }));
  assert.equal(notified.length, 2);
  await router.route(
    el("presence", { from: remote, to: "alice@localhost", type: "unavailable" }),
  );
  assert.deepEqual([...caps.remotesAvailableTo("alice@localhost")], []);
  assert.equal(caps.wantsNotify(remote, "urn:tune"), true); // carol still has it
  await router.route(
    el("presence", { from: remote, to: "carol@localhost", type: "unavailable" }),
  );
  assert.equal(caps.wantsNotify(remote, "urn:tune"), false);
});

Deno.test("remote entities tracked are bounded: the oldest is forgotten first", async () => {
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  const caps = capsModule(router, {
    maxCachedHashes: 10,
    maxRemoteEntities: 2,
    log: (line) => assert.fail(line),
  });
  router.setRemote({ send: () => {} });
  for (const resource of ["1", "2", "3"]) {
    await router.route(
      el("presence", { from: `bob@remote.example/${resource}`, to: "alice@localhost" }),
    );
  }
  assert.deepEqual([...caps.remotesAvailableTo("alice@localhost")], [
    "bob@remote.example/2",
    "bob@remote.example/3",
  ]);
});
