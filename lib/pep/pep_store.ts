// Where PEP nodes, items, explicit subscriptions and affiliations (XEP-0060 §4.1) live: the
// `pep_nodes`, `pep_items`, `pep_subscriptions` and `pep_affiliations` tables of the pep module's
// own migrations. Rows go with the account (ON DELETE CASCADE from `accounts`), the others with
// their node.
import type { DatabaseSync } from "node:sqlite";
import { integer, text, textOrNull, transaction } from "../storage/sql.ts";
import type { Element } from "../xml/element.ts";
import { loadXml, storeXml } from "../xml/stored.ts";
import type { Affiliation } from "./affiliations.ts";
import type { SubscriptionOptions } from "./subscription_options.ts";
import { type NodeConfig, parseConfig } from "./node_config.ts";

/** The pep module's schema, oldest step first (never edit a shipped step: append one). */
export const PEP_MIGRATIONS: readonly string[] = [
  `CREATE TABLE pep_nodes (
    username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    node TEXT NOT NULL,
    config TEXT NOT NULL,
    PRIMARY KEY (username, node)
  );
  CREATE TABLE pep_items (
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    item_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    published INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (username, node, item_id),
    FOREIGN KEY (username, node) REFERENCES pep_nodes (username, node) ON DELETE CASCADE
  );
  CREATE INDEX pep_items_order ON pep_items (username, node, seq);`,
  `CREATE TABLE pep_subscriptions (
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    jid TEXT NOT NULL,
    PRIMARY KEY (username, node, jid),
    FOREIGN KEY (username, node) REFERENCES pep_nodes (username, node) ON DELETE CASCADE
  );`,
  // Affiliations other than the account's own "owner" and "none" (XEP-0060 §4.1), by bare JID;
  // an item's publisher when it is not the owner (a "publisher" affiliate).
  `CREATE TABLE pep_affiliations (
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    jid TEXT NOT NULL,
    affiliation TEXT NOT NULL,
    PRIMARY KEY (username, node, jid),
    FOREIGN KEY (username, node) REFERENCES pep_nodes (username, node) ON DELETE CASCADE
  );
  CREATE INDEX pep_affiliations_jid ON pep_affiliations (username, jid);
  ALTER TABLE pep_items ADD COLUMN publisher TEXT;`,
  // Subscription options (XEP-0060 §6.3): pubsub#deliver.
  `ALTER TABLE pep_subscriptions ADD COLUMN deliver INTEGER NOT NULL DEFAULT 1;`,
];

/** One stored item. */
export interface StoredItem {
  id: string;
  /** The payload element (the item's only child). */
  payload: Element;
  /** Unix ms. */
  published: number;
  /** The bare JID of a publisher other than the owner. */
  publisher?: string;
}

/** One page of a node's items in publish order (XEP-0059 §2). */
export interface ItemPage {
  items: StoredItem[];
  /** The position of the first item in the whole set. */
  index: number;
  /** How many items the node has. */
  count: number;
}

/** Where a page starts (XEP-0059 §2.2–2.5): after or before an item, at an index, or the end. */
export type PageStart =
  | { after: string }
  | { before: string }
  | { index: number }
  | { last: true }
  | Record<never, never>;

/** One stored node. */
export interface StoredNode {
  node: string;
  config: NodeConfig;
}

/** PEP storage; usernames are prepared localparts. */
export interface PepStore {
  node(username: string, node: string): NodeConfig | undefined;
  nodes(username: string): StoredNode[];
  createNode(username: string, node: string, config: NodeConfig): void;
  setConfig(username: string, node: string, config: NodeConfig): void;
  /** Deletes a node and its items; false if there was none. */
  deleteNode(username: string, node: string): boolean;
  /**
   * Stores an item as the newest (replacing one of the same id) and keeps only the `keep`
   * newest items of the node (0: none).
   */
  publish(username: string, node: string, item: StoredItem, keep: number): void;
  /** The newest `max` items (all when undefined), oldest first. */
  items(username: string, node: string, max?: number): StoredItem[];
  /** The items with these ids, in the order asked, those that exist. */
  itemsById(username: string, node: string, ids: readonly string[]): StoredItem[];
  /** Removes one item; false if there was none. */
  retract(username: string, node: string, id: string): boolean;
  /** Removes all items of a node. */
  purge(username: string, node: string): void;
  /** Keeps only the `keep` newest items. */
  trim(username: string, node: string, keep: number): void;
  /** Adds an explicit subscription (XEP-0060 §6.1) of `jid`, bare or full. */
  subscribe(username: string, node: string, jid: string): void;
  /** Removes one; false if there was none. */
  unsubscribe(username: string, node: string, jid: string): boolean;
  /** The explicit subscribers of a node that want notifications (§6.3: pubsub#deliver). */
  subscribers(username: string, node: string): string[];
  /** The options of one subscription; undefined when `jid` is not subscribed. */
  subscriptionOptions(username: string, node: string, jid: string): SubscriptionOptions | undefined;
  /** Sets the options of an existing subscription. */
  setSubscriptionOptions(
    username: string,
    node: string,
    jid: string,
    options: SubscriptionOptions,
  ): void;
  /** The explicit subscriptions on the account's service, as (node, jid) pairs. */
  subscriptions(username: string): { node: string; jid: string }[];
  /** Removes the subscriptions of a bare JID and of its full JIDs to one node. */
  unsubscribeAccount(username: string, node: string, bare: string): void;
  /**
   * Up to `max` items in publish order from `start`; undefined when `start` names an item the
   * node does not have.
   */
  page(username: string, node: string, start: PageStart, max: number): ItemPage | undefined;
  /** A bare JID's stored affiliation with a node, if any. */
  affiliation(username: string, node: string, jid: string): Affiliation | undefined;
  /** The stored affiliations of a node, by JID. */
  affiliations(username: string, node: string): { jid: string; affiliation: Affiliation }[];
  /** A bare JID's stored affiliations on the account's service, by node. */
  affiliationsOf(username: string, jid: string): { node: string; affiliation: Affiliation }[];
  /** Sets (or with "none" removes) the affiliations of a node at once. */
  setAffiliations(
    username: string,
    node: string,
    changes: ReadonlyMap<string, Affiliation | "none">,
  ): void;
}

/** {@linkcode PepStore} on SQLite. */
export class SqlitePepStore implements PepStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  node(username: string, node: string): NodeConfig | undefined {
    const row = this.#db.prepare("SELECT config FROM pep_nodes WHERE username = ? AND node = ?")
      .get(username, node);
    return row === undefined ? undefined : parseConfig(text(row, "config"));
  }

  nodes(username: string): StoredNode[] {
    return this.#db.prepare("SELECT node, config FROM pep_nodes WHERE username = ? ORDER BY node")
      .all(username).map((row) => ({
        node: text(row, "node"),
        config: parseConfig(text(row, "config")),
      }));
  }

  createNode(username: string, node: string, config: NodeConfig): void {
    this.#db.prepare("INSERT INTO pep_nodes (username, node, config) VALUES (?, ?, ?)")
      .run(username, node, JSON.stringify(config));
  }

  setConfig(username: string, node: string, config: NodeConfig): void {
    this.#db.prepare("UPDATE pep_nodes SET config = ? WHERE username = ? AND node = ?")
      .run(JSON.stringify(config), username, node);
  }

  deleteNode(username: string, node: string): boolean {
    const result = this.#db.prepare("DELETE FROM pep_nodes WHERE username = ? AND node = ?")
      .run(username, node);
    return Number(result.changes) > 0;
  }

  publish(username: string, node: string, item: StoredItem, keep: number): void {
    transaction(this.#db, () => {
      const row = this.#db.prepare(
        "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM pep_items WHERE username = ? AND node = ?",
      ).get(username, node)!;
      this.#db.prepare(
        "INSERT INTO pep_items (username, node, item_id, payload, published, seq, publisher) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username, node, item_id) DO UPDATE SET " +
          "payload = excluded.payload, published = excluded.published, seq = excluded.seq, " +
          "publisher = excluded.publisher",
      ).run(
        username,
        node,
        item.id,
        storeXml(item.payload),
        item.published,
        integer(row, "next"),
        item.publisher ?? null,
      );
      this.trim(username, node, keep);
    });
  }

  items(username: string, node: string, max?: number): StoredItem[] {
    const rows = this.#db.prepare(
      "SELECT item_id, payload, published, publisher FROM pep_items WHERE username = ? AND node = ? " +
        "ORDER BY seq DESC LIMIT ?",
    ).all(username, node, max ?? -1);
    return rows.map(toItem).reverse();
  }

  itemsById(username: string, node: string, ids: readonly string[]): StoredItem[] {
    const select = this.#db.prepare(
      "SELECT item_id, payload, published, publisher FROM pep_items " +
        "WHERE username = ? AND node = ? AND item_id = ?",
    );
    const found: StoredItem[] = [];
    for (const id of new Set(ids)) {
      const row = select.get(username, node, id);
      if (row !== undefined) found.push(toItem(row));
    }
    return found;
  }

  retract(username: string, node: string, id: string): boolean {
    const result = this.#db.prepare(
      "DELETE FROM pep_items WHERE username = ? AND node = ? AND item_id = ?",
    ).run(username, node, id);
    return Number(result.changes) > 0;
  }

  purge(username: string, node: string): void {
    this.#db.prepare("DELETE FROM pep_items WHERE username = ? AND node = ?").run(username, node);
  }

  trim(username: string, node: string, keep: number): void {
    this.#db.prepare(
      "DELETE FROM pep_items WHERE username = ? AND node = ? AND seq NOT IN " +
        "(SELECT seq FROM pep_items WHERE username = ? AND node = ? ORDER BY seq DESC LIMIT ?)",
    ).run(username, node, username, node, keep);
  }

  subscribe(username: string, node: string, jid: string): void {
    this.#db.prepare(
      "INSERT OR IGNORE INTO pep_subscriptions (username, node, jid) VALUES (?, ?, ?)",
    ).run(username, node, jid);
  }

  unsubscribe(username: string, node: string, jid: string): boolean {
    const result = this.#db.prepare(
      "DELETE FROM pep_subscriptions WHERE username = ? AND node = ? AND jid = ?",
    ).run(username, node, jid);
    return Number(result.changes) > 0;
  }

  subscribers(username: string, node: string): string[] {
    return this.#db.prepare(
      "SELECT jid FROM pep_subscriptions WHERE username = ? AND node = ? AND deliver = 1 " +
        "ORDER BY jid",
    ).all(username, node).map((row) => text(row, "jid"));
  }

  subscriptionOptions(
    username: string,
    node: string,
    jid: string,
  ): SubscriptionOptions | undefined {
    const row = this.#db.prepare(
      "SELECT deliver FROM pep_subscriptions WHERE username = ? AND node = ? AND jid = ?",
    ).get(username, node, jid);
    return row === undefined ? undefined : { deliver: integer(row, "deliver") === 1 };
  }

  setSubscriptionOptions(
    username: string,
    node: string,
    jid: string,
    options: SubscriptionOptions,
  ): void {
    this.#db.prepare(
      "UPDATE pep_subscriptions SET deliver = ? WHERE username = ? AND node = ? AND jid = ?",
    ).run(options.deliver ? 1 : 0, username, node, jid);
  }

  subscriptions(username: string): { node: string; jid: string }[] {
    return this.#db.prepare(
      "SELECT node, jid FROM pep_subscriptions WHERE username = ? ORDER BY node, jid",
    ).all(username).map((row) => ({ node: text(row, "node"), jid: text(row, "jid") }));
  }

  unsubscribeAccount(username: string, node: string, bare: string): void {
    this.#db.prepare(
      "DELETE FROM pep_subscriptions WHERE username = ? AND node = ? AND " +
        "(jid = ? OR substr(jid, 1, ?) = ?)",
    ).run(username, node, bare, bare.length + 1, bare + "/");
  }

  page(username: string, node: string, start: PageStart, max: number): ItemPage | undefined {
    const count = integer(
      this.#db.prepare(
        "SELECT COUNT(*) AS n FROM pep_items WHERE username = ? AND node = ?",
      ).get(username, node)!,
      "n",
    );
    const select = (where: string, order: "ASC" | "DESC", ...args: (string | number)[]) =>
      this.#db.prepare(
        "SELECT item_id, payload, published, publisher FROM pep_items " +
          `WHERE username = ? AND node = ? ${where} ORDER BY seq ${order} LIMIT ? OFFSET ?`,
      ).all(username, node, ...args).map(toItem);
    const seqOf = (id: string) => {
      const row = this.#db.prepare(
        "SELECT seq FROM pep_items WHERE username = ? AND node = ? AND item_id = ?",
      ).get(username, node, id);
      return row === undefined ? undefined : integer(row, "seq");
    };
    const before = (seq: number) =>
      integer(
        this.#db.prepare(
          "SELECT COUNT(*) AS n FROM pep_items WHERE username = ? AND node = ? AND seq < ?",
        ).get(username, node, seq)!,
        "n",
      );
    if ("after" in start) {
      const seq = seqOf(start.after);
      if (seq === undefined) return undefined;
      return { items: select("AND seq > ?", "ASC", seq, max, 0), index: before(seq) + 1, count };
    }
    if ("before" in start) {
      const seq = seqOf(start.before);
      if (seq === undefined) return undefined;
      const items = select("AND seq < ?", "DESC", seq, max, 0).reverse();
      return { items, index: before(seq) - items.length, count };
    }
    if ("last" in start) {
      const items = select("", "DESC", max, 0).reverse();
      return { items, index: count - items.length, count };
    }
    const index = "index" in start ? start.index : 0;
    return { items: select("", "ASC", max, index), index, count };
  }

  affiliation(username: string, node: string, jid: string): Affiliation | undefined {
    const row = this.#db.prepare(
      "SELECT affiliation FROM pep_affiliations WHERE username = ? AND node = ? AND jid = ?",
    ).get(username, node, jid);
    return row === undefined ? undefined : text(row, "affiliation") as Affiliation;
  }

  affiliations(username: string, node: string): { jid: string; affiliation: Affiliation }[] {
    return this.#db.prepare(
      "SELECT jid, affiliation FROM pep_affiliations WHERE username = ? AND node = ? ORDER BY jid",
    ).all(username, node).map((row) => ({
      jid: text(row, "jid"),
      affiliation: text(row, "affiliation") as Affiliation,
    }));
  }

  affiliationsOf(username: string, jid: string): { node: string; affiliation: Affiliation }[] {
    return this.#db.prepare(
      "SELECT node, affiliation FROM pep_affiliations WHERE username = ? AND jid = ? ORDER BY node",
    ).all(username, jid).map((row) => ({
      node: text(row, "node"),
      affiliation: text(row, "affiliation") as Affiliation,
    }));
  }

  setAffiliations(
    username: string,
    node: string,
    changes: ReadonlyMap<string, Affiliation | "none">,
  ): void {
    transaction(this.#db, () => {
      for (const [jid, affiliation] of changes) {
        if (affiliation === "none") {
          this.#db.prepare(
            "DELETE FROM pep_affiliations WHERE username = ? AND node = ? AND jid = ?",
          ).run(username, node, jid);
        } else {
          this.#db.prepare(
            "INSERT INTO pep_affiliations (username, node, jid, affiliation) VALUES (?, ?, ?, ?) " +
              "ON CONFLICT (username, node, jid) DO UPDATE SET affiliation = excluded.affiliation",
          ).run(username, node, jid, affiliation);
        }
      }
    });
  }
}

function toItem(row: Record<string, unknown>): StoredItem {
  return {
    id: text(row as never, "item_id"),
    payload: loadXml(text(row as never, "payload")),
    published: integer(row as never, "published"),
    publisher: textOrNull(row as never, "publisher") ?? undefined,
  };
}
