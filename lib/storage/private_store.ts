// Private XML storage (XEP-0049): elements kept per account under their name and namespace.
import type { DatabaseSync } from "node:sqlite";
import type { Element } from "../xml/element.ts";
import { integer, text } from "./sql.ts";
import { loadXml, storeXml } from "../xml/stored.ts";

/** Where private XML lives. Usernames are prepared JID localparts of existing accounts. */
export interface PrivateStore {
  /** The element stored under `name` and `ns`, or null. */
  get(username: string, name: string, ns: string): Element | null;
  /** Stores `element` under its own name and namespace, replacing what was there. */
  set(username: string, element: Element): void;
  /** How many elements the account stores. */
  count(username: string): number;
}

/** The key of the `private_storage.element` column: `<name> <namespace>`. */
function key(name: string, ns: string): string {
  return `${name} ${ns}`;
}

/** {@linkcode PrivateStore} on the `private_storage` table (ON DELETE CASCADE with the account). */
export class SqlitePrivateStore implements PrivateStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  get(username: string, name: string, ns: string): Element | null {
    const row = this.#db.prepare(
      "SELECT xml FROM private_storage WHERE username = ? AND element = ?",
    ).get(username, key(name, ns));
    return row === undefined ? null : loadXml(text(row, "xml"));
  }

  set(username: string, element: Element): void {
    const ns = element.attrs.xmlns;
    if (ns === undefined) {
      throw new Error(`Cannot store private XML <${element.name}/>: it has no namespace`);
    }
    this.#db.prepare(
      "INSERT INTO private_storage (username, element, xml) VALUES (?, ?, ?) " +
        "ON CONFLICT (username, element) DO UPDATE SET xml = excluded.xml",
    ).run(username, key(element.name, ns), storeXml(element));
  }

  count(username: string): number {
    const row = this.#db.prepare(
      "SELECT count(*) AS n FROM private_storage WHERE username = ?",
    ).get(username);
    return row === undefined ? 0 : integer(row, "n");
  }
}
