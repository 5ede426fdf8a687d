// Push Notifications (XEP-0357), the user's server side: enabling and disabling app servers
// (§5, §6), publishing a notification to each when a message waits for a device that sleeps
// (§7), and dropping a registration the app server refuses (§8) or disowns (§9).
//
// When to push, after Prosody's mod_cloud_notify (what mobile clients were written against):
// - a message goes to offline storage (the user has no session to take it): every registration
//   of the account is told;
// - a Stream Management session whose connection is gone waits to be resumed (XEP-0198 §5) and
//   holds a message: the registrations that session enabled are told (a desktop that loses its
//   connection does not wake the phone, whose own session is elsewhere);
// - only for messages worth it (worthy.ts).
// No storm while a phone sleeps: a registration is pushed at most once per `throttleMs`; what
// comes meanwhile is summed up in one more push when the interval ends. Anything the account
// does (a session binds, sends a stanza or presence) ends the episode: the count starts again
// and the next message pushes at once.
//
// The notification is an iq set from the user's bare JID (as mod_cloud_notify; XEP-0357 0.3's
// example uses the server's JID) routed like any stanza: to a local entity, or over federation
// (lib/s2s) to a remote app server. Its answer comes back to the bare JID, where the
// "inbound" hook recognises the ids this module tracks.
import { type Jid, JidError, parseJid, tryParseJid } from "../jid/jid.ts";
import type { Counter } from "../metrics/metrics.ts";
import { accountReply, accountTarget } from "../modules/account_iq.ts";
import { Priority } from "../router/hooks.ts";
import type { IqContext } from "../router/iq.ts";
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { readFormOrBadRequest } from "../forms/data_form.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { Element } from "../xml/element.ts";
import { loadXml, storeXml } from "../xml/stored.ts";
import { isStorable } from "../im/offline.ts";
import { PUSH } from "./_ns.ts";
import { notificationIq } from "./notification.ts";
import type { PushRegistration, PushStore } from "./registration_store.ts";
import { heldPushWorthy, type PushWorthy, pushWorthy } from "./worthy.ts";

/** Longest node name accepted, in characters. */
export const MAX_NODE_CHARS = 1024;
/** Notifications one registration may have waiting for an answer; more are not sent. */
export const MAX_OUTSTANDING = 4;

/** How a notification ended, the label of the outcome counter. */
export type PushOutcome =
  | "delivered"
  | "disabled"
  | "transient_error"
  | "timeout"
  | "throttled";

/** Options of {@linkcode pushModule}. */
export interface PushOptions {
  store: PushStore;
  /** Send `last-message-body` (off by default: the body passes through third parties). */
  includeBody: boolean;
  /** Send `last-message-sender`. */
  includeSender: boolean;
  /** Registrations per account. */
  maxRegistrations: number;
  /** Largest publish-options form, in bytes of XML. */
  maxFormBytes: number;
  /** Least time between two notifications to one registration, ms; 0: no limit. */
  throttleMs: number;
  /** How long an answer may take before the notification is given up (logged only), ms. */
  replyTimeoutMs: number;
  /** Whether undelivered messages are stored offline (otherwise there is nothing to wake for). */
  offlineStorage: boolean;
  log: (line: string) => void;
  /** Counts notifications by {@linkcode PushOutcome}. */
  outcomes?: Counter;
  /** Ids of notification iqs (tests pin them). */
  newId?: () => string;
  now?: () => number;
}

/** What the module offers: the registrations, forgetting an account, stopping its timers. */
export interface PushApi {
  registrations(username: string): PushRegistration[];
  /** The account was removed: what is kept in memory for it goes (its rows go by cascade). */
  removed(username: string): void;
  stop(): void;
}

interface Outstanding {
  registration: PushRegistration;
  key: string;
  timer: ReturnType<typeof setTimeout>;
}

interface Throttle {
  lastAt: number;
  /** Something came after the last push; the timer sends it. */
  pending: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** Messages waiting since the account was last active. */
interface Waiting {
  count: number;
  last: PushWorthy;
}

/** Installs enable/disable on accounts and the notifications. */
export function pushModule(router: Router, options: PushOptions): PushApi {
  const { store, log } = options;
  const now = options.now ?? Date.now;
  const newId = options.newId ?? (() => `push-${crypto.randomUUID()}`);
  const waiting = new Map<string, Waiting>();
  const throttles = new Map<string, Throttle>();
  const outstanding = new Map<string, Outstanding>();
  const perKey = new Map<string, number>();
  const sessionOf = new Map<string, BoundSession>();
  const bySession = new Map<BoundSession, Set<string>>();

  const count = (outcome: PushOutcome) => options.outcomes?.inc([outcome]);

  function forget(key: string): void {
    const throttle = throttles.get(key);
    if (throttle?.timer !== undefined) clearTimeout(throttle.timer);
    throttles.delete(key);
    const session = sessionOf.get(key);
    if (session !== undefined) bySession.get(session)?.delete(key);
    sessionOf.delete(key);
  }

  /** The account acted: the episode ends, the next message pushes at once. */
  function active(username: string): void {
    if (!waiting.delete(username)) return;
    for (const registration of store.list(username)) {
      const throttle = throttles.get(keyOf(registration));
      if (throttle?.timer !== undefined) clearTimeout(throttle.timer);
      throttles.delete(keyOf(registration));
    }
  }

  function send(registration: PushRegistration, key: string): void {
    const state = waiting.get(registration.owner);
    if (state === undefined) return;
    if ((perKey.get(key) ?? 0) >= MAX_OUTSTANDING) return count("throttled");
    const id = newId();
    const timer = setTimeout(() => {
      if (outstanding.get(id)?.timer !== timer) return;
      settle(id);
      count("timeout");
      log(
        `push: no answer from ${registration.jid} (node ${registration.node}) for ` +
          `${registration.owner}@${router.domain} in ${options.replyTimeoutMs} ms`,
      );
    }, options.replyTimeoutMs);
    outstanding.set(id, { registration, key, timer });
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    throttles.set(key, { lastAt: now(), pending: false });
    const iq = notificationIq({
      id,
      from: `${registration.owner}@${router.domain}`,
      to: registration.jid,
      node: registration.node,
      count: state.count,
      sender: options.includeSender ? state.last.sender : undefined,
      body: options.includeBody ? state.last.body : undefined,
      publishOptions: registration.options === null ? undefined : loadXml(registration.options),
    });
    const routed = router.route(iq);
    if (routed instanceof Promise) routed.catch(() => {}); // the router bounces what fails
  }

  function settle(id: string): Outstanding | undefined {
    const entry = outstanding.get(id);
    if (entry === undefined) return undefined;
    outstanding.delete(id);
    clearTimeout(entry.timer);
    const left = (perKey.get(entry.key) ?? 1) - 1;
    if (left > 0) perKey.set(entry.key, left);
    else perKey.delete(entry.key);
    return entry;
  }

  /** Pushes to one registration now, or once its interval is over. */
  function trigger(registration: PushRegistration): void {
    const key = keyOf(registration);
    const throttle = throttles.get(key);
    const since = throttle === undefined ? Infinity : now() - throttle.lastAt;
    if (options.throttleMs <= 0 || since >= options.throttleMs) return send(registration, key);
    count("throttled");
    throttle!.pending = true;
    throttle!.timer ??= setTimeout(() => {
      const current = throttles.get(key);
      if (current === undefined) return;
      current.timer = undefined;
      if (!current.pending) return;
      // §6: nothing goes to a registration that was disabled meanwhile.
      const still = store.get(registration.owner, registration.jid, registration.node);
      if (still !== null) send(still, key);
    }, options.throttleMs - since);
  }

  /** Messages for an account: count them, then tell the registrations `which` selects. */
  function notify(
    username: string,
    found: PushWorthy[],
    which: (registration: PushRegistration) => boolean,
  ): void {
    if (found.length === 0) return;
    const registrations = store.list(username).filter(which);
    if (registrations.length === 0) return;
    const state = waiting.get(username);
    const count = (state?.count ?? 0) + found.length;
    waiting.set(username, { count, last: found[found.length - 1] });
    for (const registration of registrations) trigger(registration);
  }

  // §5: enable, one registration per JID and node; the same pair again replaces its options.
  router.iq.on("account", "enable", PUSH, (stanza, context) => {
    const owner = ownAccount(stanza, context);
    const enable = stanza.getChild("enable", PUSH)!;
    const jid = readJid(enable.attrs.jid);
    const node = enable.attrs.node;
    if (node === undefined || node === "") {
      throw new StanzaError("modify", "bad-request", { text: "The node attribute is missing" });
    }
    if (node.length > MAX_NODE_CHARS) {
      throw new StanzaError("modify", "policy-violation", {
        text: `A node may have at most ${MAX_NODE_CHARS} characters`,
      });
    }
    const form = enable.getChild("x", NS.DATA_FORMS);
    let publishOptions: string | null = null;
    if (form !== undefined) {
      const read = readFormOrBadRequest(form);
      if (read.type !== "submit" || read.formType !== NS.PUBSUB_PUBLISH_OPTIONS) {
        throw new StanzaError("modify", "bad-request", {
          text: `Publish options are a submitted form of type ${NS.PUBSUB_PUBLISH_OPTIONS}`,
        });
      }
      publishOptions = storeXml(form.clone());
      if (new TextEncoder().encode(publishOptions).length > options.maxFormBytes) {
        throw new StanzaError("modify", "policy-violation", {
          text: `Publish options may have at most ${options.maxFormBytes} bytes`,
        });
      }
    }
    const known = store.get(owner, jid.full, node) !== null;
    if (!known && store.count(owner) >= options.maxRegistrations) {
      throw new StanzaError("cancel", "policy-violation", {
        text: `An account may enable at most ${options.maxRegistrations} push services`,
      });
    }
    const registration = { owner, jid: jid.full, node, options: publishOptions };
    store.put(registration);
    const key = keyOf(registration);
    if (context.origin !== undefined) {
      const previous = sessionOf.get(key);
      if (previous !== undefined) bySession.get(previous)?.delete(key);
      sessionOf.set(key, context.origin);
      let keys = bySession.get(context.origin);
      if (keys === undefined) bySession.set(context.origin, keys = new Set());
      keys.add(key);
    }
    log(`push: ${owner}@${router.domain} enabled ${jid.full} (node ${node})`);
    return accountReply(stanza, context);
  });

  // §6: disable one node of a JID, or all of them.
  router.iq.on("account", "disable", PUSH, (stanza, context) => {
    const owner = ownAccount(stanza, context);
    const disable = stanza.getChild("disable", PUSH)!;
    const jid = readJid(disable.attrs.jid).full;
    const node = disable.attrs.node === "" ? undefined : disable.attrs.node;
    const gone = store.list(owner).filter((r) =>
      r.jid === jid && (node === undefined || r.node === node)
    );
    store.remove(owner, jid, node);
    for (const registration of gone) forget(keyOf(registration));
    log(`push: ${owner}@${router.domain} disabled ${jid}${node ? ` (node ${node})` : ""}`);
    return accountReply(stanza, context);
  });

  // The app server's answers (§8), and its remote disabling (§9), before anything else sees them.
  router.hooks.on("inbound", ({ stanza, to }) => {
    if (to.resource !== "") return;
    if (stanza.name === "iq") return answer(stanza, to);
    if (stanza.name === "message") return disowned(stanza, to);
  }, Priority.VALIDATE);

  function answer(stanza: Element, to: Jid): boolean | void {
    const type = stanza.attrs.type;
    if (type !== "result" && type !== "error") return;
    const id = stanza.attrs.id;
    const entry = id === undefined ? undefined : outstanding.get(id);
    if (entry === undefined || entry.registration.owner !== to.local) return;
    // The ids are unpredictable; still, only an answer from the app server itself counts.
    if (tryParseJid(stanza.attrs.from)?.full !== entry.registration.jid) return;
    settle(id!);
    if (type === "result") {
      count("delivered");
      return true;
    }
    const { registration, key } = entry;
    const error = stanza.elements().find((child) => child.name === "error");
    const condition = error?.elements().find((c) => c.attrs.xmlns === NS.STANZA_ERRORS)?.name ??
      "undefined-condition";
    const who = `${registration.jid} (node ${registration.node}) for ${to.bare}`;
    // §8: an error disables the registration, unless it says to wait (recoverable).
    if (error?.attrs.type === "wait") {
      count("transient_error");
      log(`push: ${who} answered ${condition} (wait); kept`);
      return true;
    }
    store.remove(registration.owner, registration.jid, registration.node);
    forget(key);
    count("disabled");
    log(`push: ${who} answered ${condition}; registration disabled`);
    return true;
  }

  function disowned(stanza: Element, to: Jid): boolean | void {
    const pubsub = stanza.getChild("pubsub", NS.PUBSUB);
    const node = pubsub?.attrs.node;
    const affiliation = pubsub?.getChild("affiliation", NS.PUBSUB);
    if (node === undefined || affiliation?.attrs.affiliation !== "none") return;
    if (tryParseJid(affiliation.attrs.jid)?.bare !== to.bare) return;
    const from = tryParseJid(stanza.attrs.from)?.full;
    if (from === undefined || store.get(to.local, from, node) === null) return;
    store.remove(to.local, from, node);
    forget(keyOf({ owner: to.local, jid: from, node }));
    log(`push: ${from} (node ${node}) disowned ${to.bare}; registration disabled`);
    return true;
  }

  // When to push: offline storage, and sessions waiting to be resumed.
  if (options.offlineStorage) {
    router.hooks.on("message-undelivered", ({ stanza, to }) => {
      // Observes only (returns nothing): the offline module, later in the chain, stores it.
      if (!isStorable(stanza)) return;
      const found = pushWorthy(stanza);
      if (found !== null) notify(to.local, [found], () => true);
    }, Priority.ACCESS);
  }

  router.hooks.on("held-for-resumption", ({ session, stanzas }) => {
    const keys = bySession.get(session);
    if (keys === undefined || keys.size === 0) return;
    const found: PushWorthy[] = [];
    for (const stanza of stanzas) {
      const worthy = heldPushWorthy(stanza);
      if (worthy !== null) found.push(worthy);
    }
    notify(session.jid.local, found, (registration) => keys.has(keyOf(registration)));
  });

  // What ends an episode: the account is active again.
  router.onSessionBound((session) => active(session.jid.local));
  router.hooks.on("client-stanza", ({ origin }) => {
    active(origin.jid.local);
  }, Priority.VALIDATE);
  router.hooks.on("presence-broadcast", ({ stanza, origin }) => {
    if (stanza.attrs.type === undefined) active(origin.jid.local);
  });
  router.onSessionEnded((session) => {
    for (const key of bySession.get(session) ?? []) {
      if (sessionOf.get(key) === session) sessionOf.delete(key);
    }
    bySession.delete(session);
  });

  return {
    registrations: (username) => store.list(username),
    removed(username) {
      waiting.delete(username);
      const prefix = keyOf({ owner: username, jid: "", node: "" }).slice(0, -1);
      for (const key of [...throttles.keys(), ...sessionOf.keys()]) {
        if (key.startsWith(prefix)) forget(key);
      }
      for (const [id, entry] of outstanding) {
        if (entry.registration.owner === username) settle(id);
      }
    },
    stop() {
      for (const throttle of throttles.values()) clearTimeout(throttle.timer);
      throttles.clear();
      for (const entry of outstanding.values()) clearTimeout(entry.timer);
      outstanding.clear();
      perKey.clear();
    },
  };
}

/** A registration's key in the module's maps. */
export function keyOf(registration: Pick<PushRegistration, "owner" | "jid" | "node">): string {
  return `${registration.owner}\u0000${registration.jid}\u0000${registration.node}`;
}

/** §5, §6: only the account's owner enables or disables its notifications. */
function ownAccount(stanza: Element, context: IqContext): string {
  const target = accountTarget(stanza, context);
  if (!target.own) {
    throw new StanzaError("cancel", "forbidden", {
      text: "Only the account's owner may change its push notifications",
    });
  }
  if (stanza.attrs.type !== "set") {
    throw new StanzaError("modify", "bad-request", { text: "Push is enabled with an iq set" });
  }
  return target.username;
}

function readJid(value: string | undefined): Jid {
  if (value === undefined || value === "") {
    throw new StanzaError("modify", "bad-request", { text: "The jid attribute is missing" });
  }
  try {
    return parseJid(value);
  } catch (error) {
    throw new StanzaError("modify", "jid-malformed", {
      text: error instanceof JidError ? error.message : "Malformed JID",
    });
  }
}
