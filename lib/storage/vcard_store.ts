// vCard storage (XEP-0054): one vCard element per account.
import type { DatabaseSync } from "node:sqlite";
import type { Element } from "../xml/element.ts";
import { text } from "./sql.ts";
import { loadXml, storeXml } from "../xml/stored.ts";

/** Where vCards live. Usernames are prepared JID localparts of existing accounts. */
export interface VcardStore {
  /** The stored `<vCard/>`, or null if the account has none. */
  get(username: string): Element | null;
  /** Replaces the account's vCard. */
  set(username: string, vcard: Element): void;
}

/** {@linkcode VcardStore} on the `vcards` table; rows go with the account (ON DELETE CASCADE). */
export class SqliteVcardStore implements VcardStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  get(username: string): Element | null {
    const row = this.#db.prepare("SELECT xml FROM vcards WHERE username = ?").get(username);
    return row === undefined ? null : loadXml(text(row, "xml"));
  }

  set(username: string, vcard: Element): void {
    this.#db.prepare(
      "INSERT INTO vcards (username, xml) VALUES (?, ?) " +
        "ON CONFLICT (username) DO UPDATE SET xml = excluded.xml",
    ).run(username, storeXml(vcard));
  }
}
