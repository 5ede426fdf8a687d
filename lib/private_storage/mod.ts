// Private XML Storage (XEP-0049) as a server module: see private_storage.ts; the elements live in
// the `private_storage` table (schema v2, lib/storage/private_store.ts, read by `verona user show`).
import { integer } from "../config/values.ts";
import type { NamedModule } from "../modules/module.ts";
import { SqlitePrivateStore } from "../storage/private_store.ts";
import {
  PRIVATE_MAX_BYTES,
  PRIVATE_MAX_ELEMENTS,
  type PrivateStorageApi,
  privateStorageModule,
} from "./private_storage.ts";

export {
  PRIVATE_MAX_BYTES,
  PRIVATE_MAX_ELEMENTS,
  type PrivateStorageApi,
  privateStorageModule,
  type PrivateStorageOptions,
} from "./private_storage.ts";

/** `[private_storage]` options. */
export interface PrivateStorageConfig {
  /** Largest element stored, in bytes of XML. */
  maxBytes: number;
  /** Most elements one account may store. */
  maxElements: number;
}

/** jabber:iq:private on one's own account. */
export const PRIVATE_STORAGE_MODULE: NamedModule<
  "private_storage",
  PrivateStorageConfig,
  PrivateStorageApi
> = {
  name: "private_storage",
  description: "Private XML Storage (XEP-0049): a user keeps XML elements for itself",
  dependsOn: [],
  options: {
    maxBytes: {
      default: PRIVATE_MAX_BYTES,
      read: (key, value) => integer(key, value, 1024, 2 ** 24),
    },
    maxElements: {
      default: PRIVATE_MAX_ELEMENTS,
      read: (key, value) => integer(key, value, 1, 100_000),
    },
  },
  start({ router, db, config }) {
    const api = privateStorageModule(router, {
      store: new SqlitePrivateStore(db),
      maxBytes: config.maxBytes,
      maxElements: config.maxElements,
    });
    return { api };
  },
};
