import { strict as assert } from "node:assert";
import { parseJid } from "../jid/jid.ts";
import { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import type { LastActivity } from "../storage/last_activity_store.ts";
import { el, type Element } from "../xml/element.ts";
import { lastActivityModule } from "./last_activity.ts";

function session(full: string, received: Element[]): BoundSession {
  return {
    id: full,
    jid: parseJid(full),
    presence: null,
    priority: 0,
    directedPresence: new Set(),
    send: (stanza) => received.push(stanza),
    sendXml: () => {},
    closeWithError: () => {},
  };
}

Deno.test("last activity: going unavailable while connected is recorded once no resource is available (XEP-0012 §3)", async () => {
  let now = 1_000_000;
  const stored = new Map<string, LastActivity>();
  const router = new Router({ domain: "localhost", accountExists: () => true, log: () => {} });
  lastActivityModule(router, {
    store: { get: (u) => stored.get(u) ?? null, set: (u, last) => void stored.set(u, last) },
    accountExists: () => true,
    canSeePresence: () => false,
    now: () => now,
  });
  const received: Element[] = [];
  const balcony = session("juliet@localhost/balcony", received);
  const phone = session("juliet@localhost/phone", received);
  router.bind(balcony);
  router.bind(phone);
  const presence = (from: BoundSession, type?: string, status?: string) =>
    router.fromClient(
      el("presence", { from: from.jid.full, type }, ...(status ? [el("status", {}, status)] : [])),
      from,
    );
  const ask = async () => {
    received.length = 0;
    await router.route(
      el(
        "iq",
        { type: "get", id: "l", from: "juliet@localhost/balcony" },
        el("query", { xmlns: NS.LAST }),
      ),
      balcony,
    );
    const query = received.find((s) => s.name === "iq")!.getChild("query", NS.LAST)!;
    return `${query.attrs.seconds} ${query.getText()}`;
  };
  await presence(balcony);
  await presence(phone);
  await presence(balcony, "unavailable", "Gone to Mantua");
  // The phone is still available: active now, an empty answer.
  assert.equal(await ask(), "0 ");
  assert.equal(stored.size, 0);
  now += 5_000;
  await presence(phone, "unavailable", "Asleep");
  now += 7_000;
  assert.equal(await ask(), "7 Asleep");
  // Ending the sessions afterwards moves nothing.
  now += 60_000;
  await router.unbind(phone);
  await router.unbind(balcony);
  assert.deepEqual(stored.get("juliet"), { logoutAt: 1_005_000, status: "Asleep" });
});
