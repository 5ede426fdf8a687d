// Where PEP nodes, items and explicit subscriptions live: the `pep_nodes`, `pep_items` and
// `pep_subscriptions` tables of the pep module's own migrations. Rows go with the account (ON
// DELETE CASCADE from `accounts`), items and subscriptions with their node.
import type { DatabaseSync } from "node:sqlite";
import { integer, text, transaction } from "../storage/sql.ts";
import type { Element } from "../xml/element.ts";
import { loadXml, storeXml } from "../xml/stored.ts";
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
];

/** One stored item. */
export interface StoredItem {
  id: string;
  /** The payload element (the item's only child). */
  payload: Element;
  /** Unix ms. */
  published: number;
}

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
  /** The explicit subscribers of a node. */
  subscribers(username: string, node: string): string[];
  /** The explicit subscriptions on the account's service, as (node, jid) pairs. */
  subscriptions(username: string): { node: string; jid: string }[];
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
        "INSERT INTO pep_items (username, node, item_id, payload, published, seq) " +
          "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (username, node, item_id) DO UPDATE SET " +
          "payload = excluded.payload, published = excluded.published, seq = excluded.seq",
      ).run(username, node, item.id, storeXml(item.payload), item.published, integer(row, "next"));
      this.trim(username, node, keep);
    });
  }

  items(username: string, node: string, max?: number): StoredItem[] {
    const rows = this.#db.prepare(
      "SELECT item_id, payload, published FROM pep_items WHERE username = ? AND node = ? " +
        "ORDER BY seq DESC LIMIT ?",
    ).all(username, node, max ?? -1);
    return rows.map(toItem).reverse();
  }

  itemsById(username: string, node: string, ids: readonly string[]): StoredItem[] {
    const select = this.#db.prepare(
      "SELECT item_id, payload, published FROM pep_items " +
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
      "SELECT jid FROM pep_subscriptions WHERE username = ? AND node = ? ORDER BY jid",
    ).all(username, node).map((row) => text(row, "jid"));
  }

  subscriptions(username: string): { node: string; jid: string }[] {
    return this.#db.prepare(
      "SELECT node, jid FROM pep_subscriptions WHERE username = ? ORDER BY node, jid",
    ).all(username).map((row) => ({ node: text(row, "node"), jid: text(row, "jid") }));
  }
}

function toItem(row: Record<string, unknown>): StoredItem {
  return {
    id: text(row as never, "item_id"),
    payload: loadXml(text(row as never, "payload")),
    published: integer(row as never, "published"),
  };
}
