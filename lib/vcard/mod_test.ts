import { strict as assert } from "node:assert";
import { Accounts } from "../accounts/accounts.ts";
import { startModules } from "../modules/loader.ts";
import { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { openDatabase } from "../storage/sqlite.ts";
import { el } from "../xml/element.ts";
import { VCARD_MODULE } from "./mod.ts";
import { recordingSession } from "../router/testing.ts";

Deno.test("the vcard module alone, on an in-memory database, applies [vcard] max_bytes", async () => {
  using db = openDatabase(":memory:");
  const accounts = new Accounts(new SqliteAccountStore(db));
  await accounts.create("juliet", "pw");
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  const running = await startModules([VCARD_MODULE], {
    router,
    db,
    accounts,
    server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
    log: () => {},
    section: () => ({ enabled: true, maxBytes: 1024 }),
  });
  const { session: juliet, received } = recordingSession("juliet@localhost/balcony", {
    id: "s1",
    presence: null,
  });
  router.bind(juliet);
  const set = (text: string) =>
    router.route(
      el(
        "iq",
        { type: "set", id: "v", from: juliet.jid.full },
        el("vCard", { xmlns: NS.VCARD }, el("FN", {}, text)),
      ),
      juliet,
    );
  await set("Juliet");
  assert.equal(received.pop()?.attrs.type, "result");
  await set("x".repeat(2000));
  const error = received.pop()!;
  assert.equal(error.attrs.type, "error");
  assert.ok(
    error.getChild("error")?.getChild("policy-violation", NS.STANZA_ERRORS),
    error.toString(),
  );
  assert.ok(router.serverFeatures.has(NS.VCARD));
  await running.stop();
});
