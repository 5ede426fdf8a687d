// Entity Capabilities (XEP-0115): the server's own caps as a stream feature (§6.3) with its
// disco#info at node#ver (§6.2), and the verified caps of the clients' available presence
// (§5.4), which PEP reads for its notification filtering (XEP-0163 §4.2).
import { createHash } from "node:crypto";
import { Priority } from "../router/hooks.ts";
import type { IqHandler } from "../router/iq.ts";
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el } from "../xml/element.ts";
import { capsString, capsVer, supportedHash } from "./ver.ts";

/** The `node` of the server's own `<c/>`: the software that generates it (XEP-0115 §4). */
export const SERVER_CAPS_NODE = "urn:xmpp:verona";

/**
 * The id of the disco#info queries to clients. COMPAT: Prosody's mod_pep uses this id and the
 * account's bare JID as sender, so scripts written against Prosody can answer ours.
 */
export const CAPS_QUERY_ID = "disco";

/** How long an unanswered query blocks asking again for the same verification string. */
const QUERY_PATIENCE_MS = 30_000;

/** Options for {@linkcode capsModule}. */
export interface CapsOptions {
  /** Verified verification strings kept (least recently used dropped first). */
  maxCachedHashes: number;
  /** The clock, for tests. */
  now?: () => number;
  log: (line: string) => void;
}

/** What the caps module offers: the features of each available resource. */
export interface CapsApi {
  /** The features of a session from its verified caps; undefined while unknown or without caps. */
  features(fullJid: string): ReadonlySet<string> | undefined;
  /** Whether a session asked for notifications of `node` (`<node>+notify`, XEP-0163 §4.2). */
  wantsNotify(fullJid: string, node: string): boolean;
  /**
   * Calls `listener` when a session's `+notify` interests grow: its first available presence
   * with known caps, a verification answered, a presence with new caps. `nodes` are the added
   * ones only, so that a repeated presence triggers nothing (XEP-0163 §4.3.3 note).
   */
  onNotifyAdded(listener: (session: BoundSession, nodes: ReadonlySet<string>) => void): void;
  /** The server's own current verification string (XEP-0115 §5.1, SHA-1); "" without disco. */
  serverVer(): string;
  /** How many verification strings are cached (for tests and status). */
  readonly cachedHashes: number;
}

interface Known {
  features: ReadonlySet<string>;
  notify: ReadonlySet<string>;
}

interface Tracked {
  session: BoundSession;
  /** `hash ver` of its last available presence, or "" without usable caps. */
  key: string;
  /** `node#ver`, where the entity answers for that verification string. */
  at: string;
  known: Known | undefined;
}

/** Answers with more features are believed for their resource only, never cached globally. */
const MAX_CACHED_FEATURES = 1000;

function known(features: Iterable<string>): Known {
  const set = new Set(features);
  const notify = new Set<string>();
  for (const feature of set) {
    if (feature.endsWith("+notify")) notify.add(feature.slice(0, -"+notify".length));
  }
  return { features: set, notify };
}

/**
 * Installs entity capabilities on `router`: the `<c/>` stream feature, the server's disco#info
 * at its caps node, and the tracking of clients' caps. The server's `ver` is computed from the
 * disco#info answer itself each time a stream asks for features (cheap, cached by S), so that
 * it covers the features of modules started after this one.
 */
export function capsModule(router: Router, options: CapsOptions): CapsApi {
  const now = options.now ?? (() => performance.now());
  const log = options.log;
  const serverVer = serverCaps(router);

  /** Verified strings, in least-recently-used order (a Map keeps insertion order). */
  const cache = new Map<string, Known>();
  /** Open queries by verification key: who was asked, when. */
  const pending = new Map<string, { to: string; from: string; at: number }>();
  const sessions = new Map<string, Tracked>();
  const listeners: ((session: BoundSession, nodes: ReadonlySet<string>) => void)[] = [];

  const remember = (key: string, value: Known) => {
    cache.delete(key);
    cache.set(key, value);
    while (cache.size > options.maxCachedHashes) cache.delete(cache.keys().next().value!);
  };
  const lookup = (key: string): Known | undefined => {
    const value = cache.get(key);
    if (value !== undefined) remember(key, value);
    return value;
  };
  const emit = (session: BoundSession, nodes: ReadonlySet<string>) => {
    if (nodes.size === 0) return;
    for (const listener of listeners) {
      try {
        listener(session, nodes);
      } catch (error) {
        log(
          `error in caps listener for ${session.jid.full}: ${
            error instanceof Error ? error.stack ?? error.message : String(error)
          }`,
        );
      }
    }
  };
  const update = (tracked: Tracked, next: Known | undefined) => {
    const before = tracked.known?.notify ?? new Set<string>();
    tracked.known = next;
    const added = new Set<string>();
    for (const node of next?.notify ?? []) if (!before.has(node)) added.add(node);
    emit(tracked.session, added);
  };

  router.hooks.on("presence-broadcast", ({ stanza, origin }) => {
    const full = origin.jid.full;
    if (stanza.attrs.type !== undefined) {
      sessions.delete(full);
      return;
    }
    const c = stanza.getChild("c", NS.CAPS);
    const hash = c?.attrs.hash;
    const ver = c?.attrs.ver;
    const node = c?.attrs.node;
    // §5.4 step 1: without 'hash' the legacy format, which is not supported: no caps.
    const key = hash !== undefined && ver !== undefined && node !== undefined &&
        supportedHash(hash)
      ? `${hash} ${ver}`
      : "";
    let tracked = sessions.get(full);
    if (tracked !== undefined && tracked.session !== origin) tracked = undefined;
    if (tracked !== undefined && tracked.key === key) return;
    if (tracked === undefined) {
      tracked = { session: origin, key, at: "", known: undefined };
      sessions.set(full, tracked);
    }
    tracked.key = key;
    tracked.at = `${node}#${ver}`;
    if (key === "") return update(tracked, undefined);
    const cached = lookup(key);
    if (cached !== undefined) return update(tracked, cached);
    const open = pending.get(key);
    if (open !== undefined && now() - open.at < QUERY_PATIENCE_MS) return;
    ask(tracked);
  }, Priority.DEFAULT);

  /** §5.4 step 3.1: ask the entity itself, at node#ver, from its own account. */
  const ask = (tracked: Tracked) => {
    const { session } = tracked;
    pending.set(tracked.key, { to: session.jid.full, from: session.jid.bare, at: now() });
    router.route(el(
      "iq",
      { type: "get", id: CAPS_QUERY_ID, from: session.jid.bare, to: session.jid.full },
      el("query", { xmlns: NS.DISCO_INFO, node: tracked.at }),
    ));
  };
  /** §5.4 3.9: after a wrong or missing answer, ask another resource that sent the same. */
  const askAnother = (key: string, not: BoundSession) => {
    for (const tracked of sessions.values()) {
      if (tracked.key === key && tracked.known === undefined && tracked.session !== not) {
        return ask(tracked);
      }
    }
  };

  // The answer: an iq result from the asked session to its own bare JID.
  router.hooks.on("client-stanza", ({ stanza, origin }) => {
    if (stanza.name !== "iq" || stanza.attrs.id !== CAPS_QUERY_ID) return false;
    const type = stanza.attrs.type;
    if (type !== "result" && type !== "error") return false;
    for (const [key, open] of pending) {
      if (open.to !== origin.jid.full || (stanza.attrs.to ?? open.from) !== open.from) continue;
      pending.delete(key);
      const query = stanza.getChild("query", NS.DISCO_INFO);
      if (type === "error" || query === undefined) {
        askAnother(key, origin);
        return true;
      }
      const [hash, ver] = key.split(" ");
      const features = query.getChildren("feature").map((f) => f.attrs.var);
      const answer = known(features.filter((v) => v !== undefined));
      // §5.4 3.7–3.9: cache globally only a matching hash (and a bounded answer); otherwise
      // the answer describes that resource alone.
      const valid = capsVer(query, hash) === ver && features.length <= MAX_CACHED_FEATURES;
      if (valid) remember(key, answer);
      for (const tracked of sessions.values()) {
        if (tracked.key !== key || tracked.known !== undefined) continue;
        if (valid || tracked.session === origin) update(tracked, answer);
      }
      if (!valid) askAnother(key, origin);
      return true;
    }
    return false;
  }, Priority.DEFAULT);

  router.onSessionEnded((session) => {
    const tracked = sessions.get(session.jid.full);
    if (tracked?.session === session) sessions.delete(session.jid.full);
    // A resource that went before answering: ask another one with the same caps.
    for (const [key, open] of pending) {
      if (open.to !== session.jid.full) continue;
      pending.delete(key);
      askAnother(key, session);
    }
  });

  return {
    features: (full) => sessions.get(full)?.known?.features,
    wantsNotify: (full, node) => sessions.get(full)?.known?.notify.has(node) ?? false,
    onNotifyAdded: (listener) => void listeners.push(listener),
    serverVer,
    get cachedHashes() {
      return cache.size;
    },
  };
}

/**
 * The server's `<c/>` stream feature (XEP-0115 §6.3), and its disco#info at `node#ver` (§6.2:
 * the entity answers for the node it advertised). Both wrap the disco module's server handler,
 * registered before; without it, neither is offered. Returns the function computing `ver`.
 */
function serverCaps(router: Router): () => string {
  const probe = el("iq", { type: "get", id: "caps" }, el("query", { xmlns: NS.DISCO_INFO }));
  let disco: IqHandler;
  try {
    disco = router.iq.find("server", probe);
  } catch {
    return () => ""; // without service discovery there is nothing to hash, nor to advertise
  }
  let lastText = "";
  let lastVer = "";
  let computedAt = -Infinity;
  let featureCount = -1;
  const ver = (): string => {
    // Every stream's features carry it, twice a login: recomputed when a feature was added, and
    // at least once a second for the rest of the answer (which changes only as modules start).
    const now = performance.now();
    const count = router.serverFeatures.size;
    if (lastVer !== "" && count === featureCount && now - computedAt < 1000) return lastVer;
    computedAt = now;
    featureCount = count;
    const answer = disco(probe.clone(), {});
    if (answer instanceof Promise) return lastVer;
    const query = answer.getChild("query", NS.DISCO_INFO);
    const text = query === undefined ? null : capsString(query);
    if (text === null) return lastVer;
    if (text !== lastText) {
      lastText = text;
      lastVer = createHash("sha1").update(text, "utf8").digest("base64");
    }
    return lastVer;
  };
  const feature = el("c", { xmlns: NS.CAPS, hash: "sha-1", node: SERVER_CAPS_NODE });
  // The features are final only once every module has started: computed when serialized.
  Object.defineProperty(feature.attrs, "ver", { enumerable: true, get: ver });
  router.streamFeatures.push(feature);
  router.iq.on("server", "query", NS.DISCO_INFO, async (stanza, context) => {
    const node = stanza.getChild("query", NS.DISCO_INFO)?.attrs.node;
    if (node === undefined) return disco(stanza, context);
    if (node !== `${SERVER_CAPS_NODE}#${ver()}`) throw new StanzaError("cancel", "item-not-found");
    const plain = stanza.clone();
    delete plain.getChild("query", NS.DISCO_INFO)!.attrs.node;
    const answer = await disco(plain, context);
    const query = answer.getChild("query", NS.DISCO_INFO);
    if (query !== undefined) query.attrs.node = node;
    return answer;
  });
  return ver;
}
