import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { Accounts } from "../accounts/accounts.ts";
import { CAPS_MODULE } from "../caps/mod.ts";
import { DISCO_MODULE } from "../disco/mod.ts";
import { ROSTER_MODULE } from "../im/mod.ts";
import { startModules } from "../modules/loader.ts";
import { PEP_MODULE } from "../pep/mod.ts";
import { Router } from "../router/router.ts";
import { recordingSession } from "../router/testing.ts";
import { NS } from "../stanza/ns.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { VCARD_MODULE } from "../vcard/mod.ts";
import { el, type Element } from "../xml/element.ts";
import { AVATARS_MODULE, imageHash, NS_AVATAR_DATA, NS_AVATAR_METADATA, withPhoto } from "./mod.ts";

const IMAGE = btoa("\x89PNG fake image bytes");
const SHA1 = createHash("sha1").update(Uint8Array.from(atob(IMAGE), (c) => c.charCodeAt(0)))
  .digest("hex");

Deno.test("imageHash is the SHA-1 of the decoded bytes; not base64 is undefined", () => {
  assert.deepEqual(imageHash(IMAGE), { sha1: SHA1, bytes: 21 });
  assert.deepEqual(imageHash(IMAGE.slice(0, 8) + "\n " + IMAGE.slice(8)), {
    sha1: SHA1,
    bytes: 21,
  });
  assert.equal(imageHash("not base64!"), undefined);
  assert.equal(imageHash(""), undefined);
});

Deno.test("withPhoto replaces or removes the PHOTO and keeps the rest", () => {
  const vcard = el("vCard", { xmlns: NS.VCARD }, el("FN", {}, "Juliet"), el("PHOTO", {}, "old"));
  assert.equal(
    withPhoto(vcard, { type: "image/png", base64: IMAGE }).toString(),
    el(
      "vCard",
      { xmlns: NS.VCARD },
      el("FN", {}, "Juliet"),
      el("PHOTO", {}, el("TYPE", {}, "image/png"), el("BINVAL", {}, IMAGE)),
    ).toString(),
  );
  assert.equal(
    withPhoto(vcard).toString(),
    el("vCard", { xmlns: NS.VCARD }, el("FN", {}, "Juliet")).toString(),
  );
  assert.equal(vcard.getChild("PHOTO")?.getText(), "old"); // the original is untouched
});

async function start() {
  const db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db));
  await accounts.create("juliet", "pw");
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  const sections: Record<string, unknown> = {
    disco: { enabled: true },
    roster: { enabled: true },
    caps: { enabled: true, maxCachedHashes: 4 },
    pep: { enabled: true, maxItems: 50, maxNodes: 8, maxPayloadBytes: 8192 },
    vcard: { enabled: true, maxBytes: 8192 },
    avatars: { enabled: true },
  };
  const running = await startModules(
    [DISCO_MODULE, ROSTER_MODULE, CAPS_MODULE, PEP_MODULE, VCARD_MODULE, AVATARS_MODULE],
    {
      router,
      db,
      accounts,
      server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
      log: (line) => {
        throw new Error(line);
      },
      section: (name) => sections[name] as never,
    },
  );
  const { session, received } = recordingSession("juliet@localhost/balcony", {
    id: "s1",
    presence: null,
  });
  router.bind(session);
  const iq = async (type: string, child: Element): Promise<Element> => {
    await router.route(el("iq", { type, id: "q", from: session.jid.full }, child), session);
    const reply = received.pop()!;
    assert.equal(reply.attrs.type, "result", reply.toString());
    return reply;
  };
  const publish = (node: string, id: string, payload: Element, access?: string) =>
    iq(
      "set",
      el(
        "pubsub",
        { xmlns: NS.PUBSUB },
        el("publish", { node }, el("item", { id }, payload)),
        access !== undefined &&
          el(
            "publish-options",
            {},
            el(
              "x",
              { xmlns: NS.DATA_FORMS, type: "submit" },
              el(
                "field",
                { var: "FORM_TYPE", type: "hidden" },
                el("value", {}, "http://jabber.org/protocol/pubsub#publish-options"),
              ),
              el("field", { var: "pubsub#access_model" }, el("value", {}, access)),
            ),
          ),
      ),
    );
  return {
    iq,
    publish,
    pep: running.api(PEP_MODULE)!,
    vcards: running.api(VCARD_MODULE)!,
    async [Symbol.asyncDispose]() {
      await running.stop();
      db.close();
    },
  };
}

const metadata = (...infos: Element[]) => el("metadata", { xmlns: NS_AVATAR_METADATA }, ...infos);

Deno.test("XEP-0398 §3.1: an avatar on an open data node becomes the vCard PHOTO", async () => {
  await using server = await start();
  server.vcards.set("juliet", el("vCard", { xmlns: NS.VCARD }, el("FN", {}, "Juliet")));
  await server.publish(NS_AVATAR_DATA, SHA1, el("data", { xmlns: NS_AVATAR_DATA }, IMAGE), "open");
  await server.publish(
    NS_AVATAR_METADATA,
    SHA1,
    metadata(
      el("info", {
        id: "elsewhere",
        url: "https://example.org/a.png",
        bytes: "9",
        type: "image/png",
      }),
      el("info", { id: SHA1, bytes: "21", type: "image/png" }),
    ),
  );
  const vcard = server.vcards.get("juliet")!;
  assert.equal(vcard.getChildText("FN"), "Juliet");
  assert.equal(vcard.getChild("PHOTO")?.getChildText("BINVAL"), IMAGE);
  assert.equal(vcard.getChild("PHOTO")?.getChildText("TYPE"), "image/png");
  // The conversion's vCard write did not convert back: one metadata item, the client's.
  assert.equal(server.pep.items("juliet", NS_AVATAR_METADATA).length, 1);
  // XEP-0084 §4.7: empty metadata disables the avatar, and the PHOTO goes.
  await server.publish(NS_AVATAR_METADATA, "off", metadata());
  assert.equal(server.vcards.get("juliet")!.getChild("PHOTO"), undefined);
});

Deno.test("XEP-0398 §6: no conversion from a data node that is not open, or a wrong hash", async () => {
  await using server = await start();
  await server.publish(NS_AVATAR_DATA, SHA1, el("data", { xmlns: NS_AVATAR_DATA }, IMAGE));
  await server.publish(
    NS_AVATAR_METADATA,
    SHA1,
    metadata(el("info", { id: SHA1, bytes: "21", type: "image/png" })),
  );
  assert.equal(server.vcards.get("juliet"), null);
  await using other = await start();
  const wrong = "0".repeat(40);
  await other.publish(NS_AVATAR_DATA, wrong, el("data", { xmlns: NS_AVATAR_DATA }, IMAGE), "open");
  await other.publish(
    NS_AVATAR_METADATA,
    wrong,
    metadata(el("info", { id: wrong, bytes: "21", type: "image/png" })),
  );
  assert.equal(other.vcards.get("juliet"), null);
});

Deno.test("XEP-0398 §3.2: a vCard PHOTO is published as data, then metadata, on open nodes", async () => {
  await using server = await start();
  const vcard = el(
    "vCard",
    { xmlns: NS.VCARD },
    el("PHOTO", {}, el("TYPE", {}, "image/jpeg"), el("BINVAL", {}, IMAGE)),
  );
  await server.iq("set", vcard);
  const [data] = server.pep.items("juliet", NS_AVATAR_DATA);
  assert.equal(data.id, SHA1);
  assert.equal(data.payload.getText(), IMAGE);
  const [meta] = server.pep.items("juliet", NS_AVATAR_METADATA);
  assert.equal(meta.id, SHA1);
  assert.deepEqual(
    { ...meta.payload.getChild("info")!.attrs },
    { id: SHA1, bytes: "21", type: "image/jpeg" },
  );
  assert.equal(server.pep.node("juliet", NS_AVATAR_DATA)?.accessModel, "open");
  assert.equal(server.pep.node("juliet", NS_AVATAR_METADATA)?.accessModel, "open");
  // The same photo again publishes nothing new; a vCard without PHOTO leaves the avatar alone.
  const published = meta.published;
  await server.iq("set", vcard);
  assert.equal(server.pep.items("juliet", NS_AVATAR_METADATA)[0].published, published);
  await server.iq("set", el("vCard", { xmlns: NS.VCARD }, el("FN", {}, "Juliet")));
  assert.equal(server.pep.items("juliet", NS_AVATAR_METADATA).length, 1);
  // The vCard is what the client set, not rewritten by the conversion.
  assert.equal(server.vcards.get("juliet")!.getChild("PHOTO"), undefined);
});

Deno.test("without vcard the module starts and does nothing", async () => {
  using db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db));
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  const running = await startModules([AVATARS_MODULE], {
    router,
    db,
    accounts,
    server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
    log: () => {},
    section: () => ({ enabled: true }) as never,
  });
  assert.ok(running.has("avatars"));
  await running.stop();
});
