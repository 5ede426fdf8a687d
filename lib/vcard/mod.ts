// vcard-temp (XEP-0054) as a server module: see vcard.ts; the vCards live in the `vcards` table
// (schema v2, lib/storage/vcard_store.ts, which `verona user show` reads too).
import { integer } from "../config/values.ts";
import type { NamedModule } from "../modules/module.ts";
import { NS } from "../stanza/ns.ts";
import { SqliteVcardStore } from "../storage/vcard_store.ts";
import { VCARD_MAX_BYTES, type VcardApi, vcardModule } from "./vcard.ts";

export { VCARD_MAX_BYTES, type VcardApi, vcardModule, type VcardOptions } from "./vcard.ts";

/** `[vcard]` options. */
export interface VcardConfig {
  /** Largest vCard accepted, in bytes of XML. */
  maxBytes: number;
}

/** vCards on accounts' bare JIDs: anyone reads, the owner sets. */
export const VCARD_MODULE: NamedModule<"vcard", VcardConfig, VcardApi> = {
  name: "vcard",
  description: "vcard-temp (XEP-0054): users publish a vCard, anyone may read it",
  dependsOn: [],
  options: {
    maxBytes: {
      default: VCARD_MAX_BYTES,
      read: (key, value) => integer(key, value, 1024, 2 ** 24),
    },
  },
  features: { server: [NS.VCARD] },
  start({ router, db, config }) {
    const api = vcardModule(router, { store: new SqliteVcardStore(db), maxBytes: config.maxBytes });
    return { api };
  },
};
