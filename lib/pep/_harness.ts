// A server of the modules PEP needs (disco, roster, caps, pep) on one database, with fake
// sessions that record what they receive: for the unit tests of this folder.
import type { DatabaseSync } from "node:sqlite";
import { Accounts } from "../accounts/accounts.ts";
import { CAPS_MODULE } from "../caps/mod.ts";
import { capsVer } from "../caps/ver.ts";
import { DISCO_MODULE } from "../disco/mod.ts";
import { ROSTER_MODULE, type RosterApi } from "../im/mod.ts";
import { parseJid } from "../jid/jid.ts";
import { type RunningModules, startModules } from "../modules/loader.ts";
import { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import { SqliteAccountStore } from "../storage/account_store.ts";
import { el, type Element } from "../xml/element.ts";
import { PEP_MODULE } from "./mod.ts";

/** A fake bound session and what it received. */
export interface TestSession extends BoundSession {
  received: Element[];
}

/** The running test server. */
export interface Harness {
  router: Router;
  accounts: Accounts;
  running: RunningModules;
  roster: RosterApi;
  /** Binds a session for `full` (no presence yet). */
  bind(full: string): TestSession;
  /** Routes a stanza from the session, as the stream would, and waits for it. */
  send(session: TestSession, stanza: Element): Promise<void>;
  /** Sends available presence with caps announcing `features`, and answers the caps query. */
  available(session: TestSession, features?: string[]): Promise<void>;
  /** A mutual presence subscription between two local accounts. */
  befriend(a: string, b: string, groups?: string[]): void;
}

/** Small bounds for tests: the sections of PEP and the modules it needs. */
export const PEP_TEST_SECTIONS: Readonly<Record<string, unknown>> = {
  disco: { enabled: true },
  roster: { enabled: true },
  caps: { enabled: true, maxCachedHashes: 4 },
  pep: {
    enabled: true,
    maxItems: 50,
    maxNodes: 4,
    maxPayloadBytes: 2048,
    maxAffiliations: 3,
    maxPageItems: 3,
  },
};

/** Starts disco, roster, caps and pep on `db` with these accounts (password "pw"). */
export async function startHarness(db: DatabaseSync, users: string[]): Promise<Harness> {
  const accounts = new Accounts(new SqliteAccountStore(db));
  for (const user of users) if (!accounts.exists(user)) await accounts.create(user, "pw");
  const router = new Router({
    domain: "localhost",
    accountExists: (local) => accounts.exists(local),
    log: (line) => {
      throw new Error(line);
    },
  });
  const running = await startModules([DISCO_MODULE, ROSTER_MODULE, CAPS_MODULE, PEP_MODULE], {
    router,
    db,
    accounts,
    server: { domain: "localhost", mucDomain: "conference.localhost", admins: [] },
    log: (line) => {
      throw new Error(line);
    },
    section: (name) => PEP_TEST_SECTIONS[name] as never,
  });
  const roster = running.api(ROSTER_MODULE)!;
  const harness: Harness = {
    router,
    accounts,
    running,
    roster,
    bind(full) {
      const session: TestSession = {
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
    },
    async send(session, stanza) {
      stanza.attrs.from = session.jid.full;
      await router.fromClient(stanza, session);
    },
    async available(session, features = []) {
      const query = el(
        "query",
        { xmlns: NS.DISCO_INFO },
        el("identity", { category: "client", type: "pc" }),
        ...features.map((v) => el("feature", { var: v })),
      );
      const ver = capsVer(query, "sha-1")!;
      await harness.send(
        session,
        el("presence", {}, el("c", { xmlns: NS.CAPS, hash: "sha-1", node: "urn:test", ver })),
      );
      const ask = session.received.findIndex((s) => s.name === "iq" && s.attrs.type === "get");
      if (ask < 0) return; // known already
      const [iq] = session.received.splice(ask, 1);
      await harness.send(
        session,
        el("iq", { type: "result", id: iq.attrs.id, to: iq.attrs.from }, query),
      );
    },
    befriend(a, b, groups = []) {
      const both = (jid: string) => ({
        jid,
        subscription: "both" as const,
        ask: false,
        approved: false,
        groups,
      });
      roster.rosters.save(a, both(`${b}@localhost`));
      roster.rosters.save(b, both(`${a}@localhost`));
    },
  };
  return harness;
}

/** A pubsub iq. */
export function pubsubIq(
  type: "get" | "set",
  to: string | undefined,
  ...children: Element[]
): Element {
  return el("iq", { type, id: "q", to }, el("pubsub", { xmlns: NS.PUBSUB }, ...children));
}

/** A submitted form of `formType` with one value per field. */
export function submitForm(formType: string, fields: Record<string, string>): Element {
  return el(
    "x",
    { xmlns: NS.DATA_FORMS, type: "submit" },
    el("field", { var: "FORM_TYPE", type: "hidden" }, el("value", {}, formType)),
    ...Object.entries(fields).map(([v, value]) => el("field", { var: v }, el("value", {}, value))),
  );
}

/** `<publish-options/>` (XEP-0060 §7.1.5) with these fields. */
export function publishOptions(fields: Record<string, string>): Element {
  return el("publish-options", {}, submitForm(NS.PUBSUB_PUBLISH_OPTIONS, fields));
}

/** The headline notifications a session received, removed from its list. */
export function takeEvents(session: TestSession): Element[] {
  const events = session.received.filter((s) => s.getChild("event", NS.PUBSUB_EVENT));
  session.received = session.received.filter((s) => !events.includes(s));
  return events;
}

/** The last iq the session received, removed. */
export function lastIq(session: TestSession): Element {
  const index = session.received.findLastIndex((s) => s.name === "iq");
  if (index < 0) throw new Error(`no iq received by ${session.jid.full}`);
  return session.received.splice(index, 1)[0];
}
