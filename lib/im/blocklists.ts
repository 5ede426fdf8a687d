// Blocklists (XEP-0191) kept in memory for users with sessions, so that checking a stanza
// costs a few Set lookups and no database query.
import type { Router } from "../router/router.ts";
import type { BlocklistStore } from "./blocklist_store.ts";

const EMPTY: ReadonlySet<string> = new Set();

/** Whether a user blocks a JID: what presence and account removal ask of the blocklists. */
export type BlockCheck = Pick<Blocklists, "blocks">;

/** The answer without the blocking module: nobody is blocked. */
export const NO_BLOCKS: BlockCheck = { blocks: () => false };

/** Every user's blocked JIDs, read through a cache. */
export class Blocklists {
  #store: BlocklistStore;
  #router: Router;
  /** Never modified in place (a change drops the entry), so empty lists share one set. */
  #cache = new Map<string, ReadonlySet<string>>();

  constructor(store: BlocklistStore, router: Router) {
    this.#store = store;
    this.#router = router;
    router.onSessionEnded((session) => {
      if (router.sessionsOf(session.jid.bare).length === 0) this.#cache.delete(session.jid.local);
    });
  }

  /** The user's blocked JIDs (prepared JID strings). */
  list(username: string): ReadonlySet<string> {
    const cached = this.#cache.get(username);
    if (cached) return cached;
    const jids = this.#store.list(username);
    const set = jids.length === 0 ? EMPTY : new Set(jids);
    if (this.#router.sessionsOf(`${username}@${this.#router.domain}`).length > 0) {
      this.#cache.set(username, set);
    }
    return set;
  }

  /**
   * Whether the user blocks `jid` (a prepared JID): an item matches the JID itself, its bare JID,
   * its domain, or its domain/resource (XEP-0191 §3.2, after XEP-0016 §2.1).
   */
  blocks(username: string, jid: string): boolean {
    const list = this.list(username);
    if (list.size === 0) return false;
    if (list.has(jid)) return true;
    const slash = jid.indexOf("/");
    const bare = slash < 0 ? jid : jid.slice(0, slash);
    const at = bare.indexOf("@");
    const domain = at < 0 ? bare : bare.slice(at + 1);
    return list.has(bare) || list.has(domain) ||
      (slash >= 0 && list.has(domain + jid.slice(slash)));
  }

  /** Adds JIDs; returns those that were not blocked before. */
  add(username: string, jids: readonly string[]): string[] {
    const before = this.list(username);
    const added = [...new Set(jids)].filter((jid) => !before.has(jid));
    if (added.length === 0) return added;
    this.#store.add(username, added);
    this.#cache.delete(username);
    return added;
  }

  /** Removes JIDs, or all when `jids` is undefined; returns those that were blocked. */
  remove(username: string, jids?: readonly string[]): string[] {
    const before = this.list(username);
    const removed = jids === undefined
      ? [...before]
      : [...new Set(jids)].filter((jid) => before.has(jid));
    if (removed.length === 0) return removed;
    this.#store.remove(username, jids === undefined ? undefined : removed);
    this.#cache.delete(username);
    return removed;
  }
}
