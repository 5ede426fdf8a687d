// Push Notifications (XEP-0357) as a server module, section [push]: see push.ts (when and what
// is pushed), notification.ts (the publish), worthy.ts (which messages), registration_store.ts
// (the registrations, in `push_registrations`).
/**
 * Reaching app servers: a notification is routed like any stanza to the JID the client enabled
 * (a full JID, a bare JID or a domain), locally or over federation (lib/s2s) to a remote app
 * server (Conversations' p2.siacs.eu, Monal's, Siskin's). One that cannot be reached bounces
 * `remote-server-not-found`, which disables the registration (§8) as any error does. The tests
 * use a local account's session as the app server, and one on another server
 * (tests/s2s_test.ts).
 *
 * Privacy (§10): `include_body` is off by default; the notification then names the sender and
 * counts the messages but carries no text through the app server and the platform's push
 * service. `include_sender = false` leaves the sender out as well.
 *
 * @module
 */
import { boolean, integer } from "../config/values.ts";
import type { NamedModule } from "../modules/module.ts";
import { NS } from "../stanza/ns.ts";
import { PUSH } from "./_ns.ts";
import { type PushApi, pushModule } from "./push.ts";
import { PUSH_MIGRATIONS, SqlitePushStore } from "./registration_store.ts";

export {
  MAX_NODE_CHARS,
  MAX_OUTSTANDING,
  type PushApi,
  pushModule,
  type PushOptions,
} from "./push.ts";
export { MAX_BODY_CHARS, type NotificationContent, notificationIq } from "./notification.ts";
export {
  PUSH_MIGRATIONS,
  type PushRegistration,
  type PushStore,
  SqlitePushStore,
} from "./registration_store.ts";
export { heldPushWorthy, type PushWorthy, pushWorthy } from "./worthy.ts";
export { PUSH, PUSH_SUMMARY } from "./_ns.ts";

/** `[push]` options. */
export interface PushConfig {
  /** Send the message's text to the app server (`last-message-body`). */
  includeBody: boolean;
  /** Send the message's sender (`last-message-sender`). */
  includeSender: boolean;
  /** Push services (app server JID and node pairs) one account may enable. */
  maxRegistrations: number;
  /** Largest publish-options form a client may give, in bytes of XML. */
  maxFormBytes: number;
  /** Least time between two notifications to one registration, seconds; 0: no limit. */
  throttleSeconds: number;
  /** How long the app server may take to answer, seconds; then the push is logged as lost. */
  replyTimeoutSeconds: number;
}

/** The module. */
export const PUSH_MODULE: NamedModule<"push", PushConfig, PushApi, { offline?: void }> = {
  name: "push",
  description: "Push Notifications (XEP-0357): wake a sleeping phone through its app server",
  dependsOn: [],
  // Started after offline storage, so it knows whether undelivered messages are kept.
  uses: ["offline"],
  enabledByDefault: true,
  options: {
    includeBody: { default: false, read: boolean },
    includeSender: { default: true, read: boolean },
    maxRegistrations: { default: 10, read: (key, value) => integer(key, value, 1, 1000) },
    maxFormBytes: { default: 4096, read: (key, value) => integer(key, value, 256, 65536) },
    throttleSeconds: { default: 30, read: (key, value) => integer(key, value, 0, 86_400) },
    replyTimeoutSeconds: { default: 30, read: (key, value) => integer(key, value, 1, 600) },
  },
  features: { account: [PUSH] },
  migrations: PUSH_MIGRATIONS,
  start({ router, db, config, accounts, log, metrics, features }) {
    const store = new SqlitePushStore(db);
    const api = pushModule(router, {
      store,
      includeBody: config.includeBody,
      includeSender: config.includeSender,
      maxRegistrations: config.maxRegistrations,
      maxFormBytes: config.maxFormBytes,
      throttleMs: config.throttleSeconds * 1000,
      replyTimeoutMs: config.replyTimeoutSeconds * 1000,
      // The offline module declares msgoffline exactly when it stores messages.
      offlineStorage: features.server.has(NS.OFFLINE),
      log,
      outcomes: metrics.counter(
        "verona_push_notifications",
        "Push notifications (XEP-0357) by outcome",
        ["outcome"],
      ),
    });
    metrics.gauge({
      name: "verona_push_registrations",
      help: "Push services enabled by accounts (XEP-0357)",
      read: () => store.total(),
    });
    accounts.onRemoved((username) => api.removed(username));
    return { api, stop: () => api.stop() };
  },
};
