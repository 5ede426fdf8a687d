// Multi-User Chat (XEP-0045): the service component, its rooms, and the hooks features use.
/**
 * @example
 * ```ts
 * import { createMucService } from "./lib/muc/mod.ts";
 * const muc = createMucService({ domain: "conference.localhost", store, deliver });
 * await muc.handle(stanza);
 * ```
 *
 * The room options are features (`(hooks: MucHooks) => void`) listed in `MUC_FEATURES`
 * (features/mod.ts); the core (service.ts, room.ts, owner.ts, disco.ts) knows none of them.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { NamedModule } from "../modules/module.ts";
import type { Component } from "../router/component.ts";
import { SqliteRoomStore } from "../storage/room_store.ts";
import { createMucService } from "./service.ts";
import { MUC_FEATURES } from "./features/mod.ts";
import { archiveFeature, stanzaIdFilter } from "./features/archive.ts";
import { SqliteRoomVcardStore, vcardFeature } from "./features/vcard.ts";
import {
  DEFAULT_MAM_EXPIRES_AFTER,
  DEFAULT_MAM_MAX_PAGE_SIZE,
  DEFAULT_MAM_PAGE_SIZE,
  readExpiry,
  schedulePruning,
  SqliteArchiveStore,
} from "../mam/mod.ts";
import { boolean, integer } from "../config/values.ts";
import { VCARD_MAX_BYTES } from "../vcard/vcard.ts";

// Page sizes of room archive queries: those of the account archives' defaults.
const ARCHIVE_PAGES = {
  defaultPageSize: DEFAULT_MAM_PAGE_SIZE,
  maxPageSize: DEFAULT_MAM_MAX_PAGE_SIZE,
};

export { createMucService, MucService, type MucServiceOptions } from "./service.ts";
export { MUC_FEATURES } from "./features/mod.ts";
export {
  type ConfigChangedEvent,
  type ConfigField,
  type DiscoInfoEvent,
  type FieldValue,
  type MucContributeEvents,
  type MucEvents,
  type MucFeature,
  type MucHandler,
  MucHooks,
  type MucNotifyEvents,
  type MucVetoEvents,
  type OccupantEvent,
  type OccupantRoleEvent,
  type PreJoinEvent,
  Priority,
  type RoomEvent,
  type RoomFormEvent,
  type RoomFormHandler,
  type RoomIqEvent,
  type RoomIqHandler,
  type RoomPreCreateEvent,
  type SelfPresenceEvent,
  type SubjectChangeEvent,
  type VetoResult,
} from "./hooks.ts";
export { type AffiliationRecord, Room, type RoomContext, type RoomInit } from "./room.ts";
export { Occupant } from "./occupant.ts";
export {
  type Affiliation,
  AFFILIATION_RANK,
  defaultRole,
  hasAffiliation,
  hasRole,
  type Role,
  ROLE_RANK,
} from "./affiliation.ts";
export { DEFAULT_ROOM_CONFIG, type RoomConfig, type Whois } from "./room_config.ts";
export { SERVICE_NAME } from "./disco.ts";
export {
  MemoryRoomVcardStore,
  photoHash,
  type RoomVcardOptions,
  type RoomVcardStore,
  SqliteRoomVcardStore,
  vcardFeature,
} from "./features/vcard.ts";
export { archiveFeature, stanzaIdFilter } from "./features/archive.ts";

/** `[muc]` options. */
export interface MucConfig {
  /**
   * Rooms may keep archives (XEP-0313); false: none does, advertises urn:xmpp:mam:2 or offers
   * muc#roomconfig_enablearchiving.
   */
  archiving: boolean;
  /** How long room archives keep messages, ms; 0 forever ("1w", "30d", "never", as `[mam]`). */
  archiveExpiresAfter: number;
  /** Largest room vCard accepted, in bytes of XML. */
  vcardMaxBytes: number;
}

/**
 * The MUC service as a server module: a component at `muc_domain` (a top-level key, since the
 * server's domain is derived from it) whose rooms persist in `muc_rooms`, `muc_affiliations` and
 * `muc_history` (schema v1–v2, lib/storage/room_store.ts); `admins` administer every room. The
 * service's secret (XEP-0421 occupant ids) is kept in its own table, `muc_secret`, the rooms'
 * archives (XEP-0313 §3.3.2, lib/muc/features/archive.ts) in `muc_archive`, expiring after
 * `archive_expires_after` as the accounts' do (lib/mam/expiry.ts), and the rooms' vCards
 * (lib/muc/features/vcard.ts) in `muc_vcards`.
 */
export const MUC_MODULE: NamedModule<"muc", MucConfig> = {
  name: "muc",
  description: "Multi-User Chat (XEP-0045): the chat-room service at muc_domain",
  dependsOn: [],
  options: {
    archiving: { default: true, read: boolean },
    // The accounts' default (`[mam] expires_after`), as Prosody's muc_log_expires_after.
    archiveExpiresAfter: { default: readExpiry("", DEFAULT_MAM_EXPIRES_AFTER), read: readExpiry },
    vcardMaxBytes: {
      default: VCARD_MAX_BYTES,
      read: (key, value) => integer(key, value, 1024, 2 ** 24),
    },
  },
  migrations: [
    // v1: one random secret per service domain, so occupant ids survive restarts.
    `CREATE TABLE muc_secret (domain TEXT PRIMARY KEY, secret BLOB NOT NULL)`,
    // v2: the rooms' archives (XEP-0313 §3.3.2), as mam_archive with room JIDs as owners.
    `
    CREATE TABLE muc_archive (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      owner TEXT NOT NULL, -- bare room JID
      id TEXT NOT NULL,
      time INTEGER NOT NULL,
      with_jid TEXT NOT NULL, -- the room JID
      with_resource TEXT NOT NULL DEFAULT '', -- the sender's nickname
      direction TEXT NOT NULL,
      stanza TEXT NOT NULL
    );
    CREATE UNIQUE INDEX muc_archive_by_id ON muc_archive (owner, id);
    CREATE INDEX muc_archive_by_time ON muc_archive (owner, time);
    CREATE INDEX muc_archive_by_with ON muc_archive (owner, with_jid, time);
    `,
    // v3: the sender's real full JID (XEP-0313 §6.1.2); none for messages archived before.
    `ALTER TABLE muc_archive ADD COLUMN real_jid TEXT`,
    // v4: one vcard-temp vCard per room, with its photo's hash (lib/muc/features/vcard.ts).
    `
    CREATE TABLE muc_vcards (
      room TEXT PRIMARY KEY, -- bare room JID
      xml TEXT NOT NULL,
      photo_hash TEXT -- hex SHA-1 of the PHOTO's image, NULL without one
    );
    `,
  ],
  start({ router, db, server, config, log, metrics }) {
    const archive = new SqliteArchiveStore(db, {
      table: "muc_archive",
      prefsTable: null,
      realJids: true,
    });
    const archiving = config.archiving
      ? archiveFeature({ store: archive, ...ARCHIVE_PAGES })
      : stanzaIdFilter;
    // Messages kept while archiving was on still expire after it is turned off.
    const stopPruning = schedulePruning(archive, {
      expireAfterMs: config.archiveExpiresAfter,
      log: (line) => log(`muc: ${line}`),
    });
    const vcards = vcardFeature({
      store: new SqliteRoomVcardStore(db),
      maxBytes: config.vcardMaxBytes,
    });
    const service = createMucService({
      domain: server.mucDomain,
      store: new SqliteRoomStore(db),
      deliver: (stanza) => router.route(stanza),
      deliverXml: (to, xml) => router.deliverXml(to, xml),
      admins: [...server.admins],
      log,
      secret: serviceSecret(db, server.mucDomain),
      features: [...MUC_FEATURES, archiving, vcards],
    });
    const muc: Component = service;
    router.addComponent(muc);
    metrics.gauge({
      name: "verona_muc_rooms",
      help: "Chat rooms, persistent ones included",
      read: () => service.roomCount(),
    });
    metrics.gauge({
      name: "verona_muc_occupants",
      help: "Occupants (nicknames) of all chat rooms",
      read: () => service.occupantCount(),
    });
    return {
      stop: async () => {
        stopPruning();
        await muc.close?.();
        archive.flush();
      },
    };
  },
};

/** The service's secret, created on first use. */
function serviceSecret(db: DatabaseSync, domain: string): Uint8Array {
  const row = db.prepare("SELECT secret FROM muc_secret WHERE domain = ?").get(domain);
  if (row?.secret instanceof Uint8Array) return row.secret;
  const secret = crypto.getRandomValues(new Uint8Array(32));
  db.prepare("INSERT INTO muc_secret (domain, secret) VALUES (?, ?)").run(domain, secret);
  return secret;
}
