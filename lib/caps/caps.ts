// Entity Capabilities (XEP-0115): the server's own caps as a stream feature (§6.3) with its
// disco#info at node#ver (§6.2), and the verified caps of the available presence of local
// clients and of remote entities (federation) that send it to local accounts (§5.4), which PEP
// reads for its notification filtering (XEP-0163 §4.2), to local and remote contacts alike.
import { createHash } from "node:crypto";
import { type Jid, tryParseJid } from "../jid/jid.ts";
import { Priority } from "../router/hooks.ts";
import type { IqHandler } from "../router/iq.ts";
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
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
  /**
   * Remote full JIDs tracked at most (the oldest forgotten first), since no stream end tells
   * when a remote entity is gone without its unavailable presence. Default: `maxCachedHashes`.
   */
  maxRemoteEntities?: number;
  /** The clock, for tests. */
  now?: () => number;
  log: (line: string) => void;
}

/**
 * What the caps module offers: the features of each available resource, a local session's or a
 * remote full JID's whose available presence reached a local account.
 */
export interface CapsApi {
  /**
   * The features of a local session or remote entity from its verified caps; undefined while
   * unknown or without caps.
   */
  features(fullJid: string): ReadonlySet<string> | undefined;
  /**
   * Whether a local session or remote entity asked for notifications of `node` (`<node>+notify`,
   * XEP-0163 §4.2).
   */
  wantsNotify(fullJid: string, node: string): boolean;
  /**
   * The remote full JIDs (another domain) whose last presence to the local account `bare` was
   * available: those PEP may notify for that account (XEP-0163 §4.3.1).
   */
  remotesAvailableTo(bare: string): Iterable<string>;
  /**
   * Like {@linkcode CapsApi.onNotifyAdded}, for remote entities: `jid` (a remote full JID) now
   * wants `nodes` from the local accounts `accounts` (bare JIDs): new interests for every account
   * it sent presence to, or all its interests for accounts it just sent its first presence to.
   */
  onRemoteNotifyAdded(
    listener: (jid: string, accounts: ReadonlySet<string>, nodes: ReadonlySet<string>) => void,
  ): void;
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
  /** The local session; undefined for a remote entity. */
  session: BoundSession | undefined;
  /** The full JID. */
  jid: string;
  /** The bare JID the query comes from: the session's own, or an account the remote told. */
  asker: string;
  /** For a remote entity: the local accounts (bare JIDs) its available presence reached. */
  sentTo: Set<string>;
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
 * at its caps node, and the tracking of clients' caps, local and remote. The server's `ver` is
 * computed from the disco#info answer itself each time a stream asks for features (cheap, cached
 * by S), so that it covers the features of modules started after this one.
 */
export function capsModule(router: Router, options: CapsOptions): CapsApi {
  const now = options.now ?? (() => performance.now());
  const log = options.log;
  const serverVer = serverCaps(router);
  const maxRemotes = options.maxRemoteEntities ?? options.maxCachedHashes;

  /** Verified strings, in least-recently-used order (a Map keeps insertion order). */
  const cache = new Map<string, Known>();
  /** Open queries by verification key: who was asked (full JID), from which bare JID, when. */
  const pending = new Map<string, { to: string; from: string; at: number }>();
  const sessions = new Map<string, Tracked>();
  /** Remote entities by full JID, oldest presence first; and by the local accounts told. */
  const remotes = new Map<string, Tracked>();
  const remotesByAccount = new Map<string, Set<string>>();
  const listeners: ((session: BoundSession, nodes: ReadonlySet<string>) => void)[] = [];
  const remoteListeners: ((
    jid: string,
    accounts: ReadonlySet<string>,
    nodes: ReadonlySet<string>,
  ) => void)[] = [];

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
  const guarded = (jid: string, call: () => void) => {
    try {
      call();
    } catch (error) {
      log(
        `error in caps listener for ${jid}: ${
          error instanceof Error ? error.stack ?? error.message : String(error)
        }`,
      );
    }
  };
  const emit = (tracked: Tracked, nodes: ReadonlySet<string>, accounts = tracked.sentTo) => {
    if (nodes.size === 0) return;
    const session = tracked.session;
    if (session !== undefined) {
      for (const listener of listeners) guarded(tracked.jid, () => listener(session, nodes));
      return;
    }
    if (accounts.size === 0) return;
    for (const listener of remoteListeners) {
      guarded(tracked.jid, () => listener(tracked.jid, accounts, nodes));
    }
  };
  const update = (tracked: Tracked, next: Known | undefined) => {
    const before = tracked.known?.notify ?? new Set<string>();
    tracked.known = next;
    const added = new Set<string>();
    for (const node of next?.notify ?? []) if (!before.has(node)) added.add(node);
    emit(tracked, added);
  };

  /** §5.4 step 1: the key of a presence's `<c/>`, "" without usable caps; and where to ask. */
  const capsOf = (stanza: Element): { key: string; at: string } => {
    const c = stanza.getChild("c", NS.CAPS);
    const hash = c?.attrs.hash;
    const ver = c?.attrs.ver;
    const node = c?.attrs.node;
    // Without 'hash' the legacy format, which is not supported: no caps.
    const key = hash !== undefined && ver !== undefined && node !== undefined &&
        supportedHash(hash)
      ? `${hash} ${ver}`
      : "";
    return { key, at: `${node}#${ver}` };
  };
  /** A presence with caps `key` from `tracked`: known at once, or asked for. */
  const learn = (tracked: Tracked, key: string, at: string) => {
    tracked.key = key;
    tracked.at = at;
    if (key === "") return update(tracked, undefined);
    const cached = lookup(key);
    if (cached !== undefined) return update(tracked, cached);
    const open = pending.get(key);
    if (open !== undefined && now() - open.at < QUERY_PATIENCE_MS) return;
    ask(tracked);
  };

  router.hooks.on("presence-broadcast", ({ stanza, origin }) => {
    const full = origin.jid.full;
    if (stanza.attrs.type !== undefined) {
      sessions.delete(full);
      return;
    }
    const { key, at } = capsOf(stanza);
    let tracked = sessions.get(full);
    if (tracked !== undefined && tracked.session !== origin) tracked = undefined;
    if (tracked !== undefined && tracked.key === key) return;
    if (tracked === undefined) {
      tracked = newTracked(origin, full, origin.jid.bare);
      sessions.set(full, tracked);
    }
    learn(tracked, key, at);
  }, Priority.DEFAULT);

  /** Forgets a remote entity, or only that it told `account`; its open queries go too. */
  const forgetRemote = (jid: string, account?: string) => {
    const tracked = remotes.get(jid);
    if (tracked === undefined) return;
    for (const bare of account === undefined ? [...tracked.sentTo] : [account]) {
      tracked.sentTo.delete(bare);
      const set = remotesByAccount.get(bare);
      set?.delete(jid);
      if (set?.size === 0) remotesByAccount.delete(bare);
    }
    if (tracked.sentTo.size > 0) return;
    remotes.delete(jid);
    for (const [key, open] of pending) if (open.to === jid) pending.delete(key);
  };

  // Presence from a remote entity to a local account (XEP-0115 §5.4 for federated contacts):
  // observed after access control (a blocked sender's presence never gets here), not consumed.
  router.hooks.on("inbound", ({ stanza, to }) => {
    if (stanza.name !== "presence") return;
    const type = stanza.attrs.type;
    if (type !== undefined && type !== "unavailable") return;
    const from = tryParseJid(stanza.attrs.from);
    if (from === null || from.resource === "" || isLocal(from)) return;
    if (type === "unavailable") return void forgetRemote(from.full, to.bare);
    remoteAvailable(from.full, to.bare, stanza);
  }, Priority.LATE);

  const isLocal = (jid: Jid) => jid.domain === router.domain;

  const remoteAvailable = (full: string, account: string, stanza: Element) => {
    const { key, at } = capsOf(stanza);
    let tracked = remotes.get(full);
    if (tracked === undefined) {
      tracked = newTracked(undefined, full, account);
      remotes.set(full, tracked);
      while (remotes.size > maxRemotes) forgetRemote(remotes.keys().next().value!);
    }
    const told = !tracked.sentTo.has(account);
    if (told) {
      tracked.sentTo.add(account);
      let set = remotesByAccount.get(account);
      if (set === undefined) remotesByAccount.set(account, set = new Set());
      set.add(full);
    }
    if (tracked.key === key && tracked.known !== undefined) {
      // Same caps, a new account told: that account's contacts' interests are new to it.
      if (told) emit(tracked, tracked.known.notify, new Set([account]));
      return;
    }
    if (tracked.key === key && tracked.at === at && pending.has(key)) return;
    learn(tracked, key, at);
  };

  /** §5.4 step 3.1: ask the entity itself, at node#ver, from its own account or one it told. */
  const ask = (tracked: Tracked) => {
    pending.set(tracked.key, { to: tracked.jid, from: tracked.asker, at: now() });
    router.route(el(
      "iq",
      { type: "get", id: CAPS_QUERY_ID, from: tracked.asker, to: tracked.jid },
      el("query", { xmlns: NS.DISCO_INFO, node: tracked.at }),
    ));
  };
  /** §5.4 3.9: after a wrong or missing answer, ask another resource that sent the same. */
  const askAnother = (key: string, not: string) => {
    for (const tracked of [...sessions.values(), ...remotes.values()]) {
      if (tracked.key === key && tracked.known === undefined && tracked.jid !== not) {
        return ask(tracked);
      }
    }
  };

  /**
   * An answer (iq result or error) from `jid` to `to` (the bare JID it was asked from, or
   * undefined for its own account): true when it answered an open query.
   */
  const answered = (stanza: Element, jid: string, to: string | undefined): boolean => {
    for (const [key, open] of pending) {
      if (open.to !== jid || (to ?? open.from) !== open.from) continue;
      pending.delete(key);
      const query = stanza.getChild("query", NS.DISCO_INFO);
      if (stanza.attrs.type === "error" || query === undefined) {
        askAnother(key, jid);
        return true;
      }
      const [hash, ver] = key.split(" ");
      const features = query.getChildren("feature").map((f) => f.attrs.var);
      const answer = known(features.filter((v) => v !== undefined));
      // §5.4 3.7–3.9: cache globally only a matching hash (and a bounded answer); otherwise
      // the answer describes that resource alone.
      const valid = capsVer(query, hash) === ver && features.length <= MAX_CACHED_FEATURES;
      if (valid) remember(key, answer);
      for (const tracked of [...sessions.values(), ...remotes.values()]) {
        if (tracked.key !== key || tracked.known !== undefined) continue;
        if (valid || tracked.jid === jid) update(tracked, answer);
      }
      if (!valid) askAnother(key, jid);
      return true;
    }
    return false;
  };
  const isAnswer = (stanza: Element) =>
    stanza.name === "iq" && stanza.attrs.id === CAPS_QUERY_ID &&
    (stanza.attrs.type === "result" || stanza.attrs.type === "error");

  // The answer of a local session: an iq from it to its own bare JID.
  router.hooks.on("client-stanza", ({ stanza, origin }) => {
    if (!isAnswer(stanza)) return false;
    return answered(stanza, origin.jid.full, stanza.attrs.to);
  }, Priority.DEFAULT);

  // The answer of a remote entity: an iq to the local account's bare JID it was asked from.
  router.hooks.on("inbound", ({ stanza, to }) => {
    if (!isAnswer(stanza) || to.resource !== "") return false;
    const from = stanza.attrs.from;
    if (from === undefined || !remotes.has(from)) return false;
    return answered(stanza, from, to.bare);
  }, Priority.DEFAULT);

  router.onSessionEnded((session) => {
    const tracked = sessions.get(session.jid.full);
    if (tracked?.session === session) sessions.delete(session.jid.full);
    // A resource that went before answering: ask another one with the same caps.
    for (const [key, open] of pending) {
      if (open.to !== session.jid.full) continue;
      pending.delete(key);
      askAnother(key, session.jid.full);
    }
  });

  const trackedOf = (full: string) => sessions.get(full) ?? remotes.get(full);
  return {
    features: (full) => trackedOf(full)?.known?.features,
    wantsNotify: (full, node) => trackedOf(full)?.known?.notify.has(node) ?? false,
    remotesAvailableTo: (bare) => [...remotesByAccount.get(bare) ?? []],
    onNotifyAdded: (listener) => void listeners.push(listener),
    onRemoteNotifyAdded: (listener) => void remoteListeners.push(listener),
    serverVer,
    get cachedHashes() {
      return cache.size;
    },
  };
}

/**
 * The `sentTo` of every local session: only remote entities' sets are ever written, so local
 * ones (most entries) share this empty one instead of holding a set each.
 */
const LOCAL_SENT_TO: Set<string> = new Set();

function newTracked(session: BoundSession | undefined, jid: string, asker: string): Tracked {
  const sentTo = session === undefined ? new Set<string>() : LOCAL_SENT_TO;
  return { session, jid, asker, sentTo, key: "", at: "", known: undefined };
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
