// Entity Capabilities (XEP-0115) as a server module: see caps.ts; nothing is stored (the cache
// of verified hashes lives in memory, bounded by `max_cached_hashes`).
import { integer } from "../config/values.ts";
import type { NamedModule } from "../modules/module.ts";
import { NS } from "../stanza/ns.ts";
import { type CapsApi, capsModule } from "./caps.ts";

export { type CapsApi, capsModule, type CapsOptions, SERVER_CAPS_NODE } from "./caps.ts";
export { capsString, capsVer } from "./ver.ts";

/** Default `[caps] max_cached_hashes`. */
export const DEFAULT_MAX_CACHED_HASHES = 10_000;

/** `[caps]` options. */
export interface CapsConfig {
  /** Verified verification strings kept in memory; the least recently used go first. */
  maxCachedHashes: number;
}

/** The server's caps stream feature and the verified caps of clients' presence. */
export const CAPS_MODULE: NamedModule<"caps", CapsConfig, CapsApi, { disco?: void }> = {
  name: "caps",
  description: "Entity Capabilities (XEP-0115): the server's caps, verified caps of clients",
  dependsOn: [],
  uses: ["disco"],
  options: {
    maxCachedHashes: {
      default: DEFAULT_MAX_CACHED_HASHES,
      read: (key, value) => integer(key, value, 1, 10_000_000),
    },
  },
  features: { server: [NS.CAPS] },
  start({ router, config, log }) {
    return { api: capsModule(router, { maxCachedHashes: config.maxCachedHashes, log }) };
  },
};
