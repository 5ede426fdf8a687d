// HTTP File Upload (XEP-0363) as a server module, section [http_upload]: the component of
// service.ts at `domain` (upload.<server domain> by default) issues slots (slots.ts), the routes
// of http_handler.ts under /upload/ of the http module take the PUTs and serve the files, which
// live in <data_dir>/uploads/ (files.ts) with their metadata in SQLite (upload_store.ts);
// expiry.ts removes them when their time is up, and an account's go with it.
/**
 * On by default, as in ejabberd and in Prosody's default configuration (mod_http_file_share as a
 * component): phones and web clients send every picture this way, and it needs nothing but the
 * http module's port.
 *
 * `max_file_size` defaults to 100 MiB (ejabberd's default) rather than Prosody's 10 MiB: a
 * minute of phone video is larger than 10 MiB, and since bodies are streamed to disk, the size
 * costs disk (bounded by `quota_bytes` per user and `expires_after`), not memory.
 *
 * @module
 */
import { join } from "node:path";
import type { HttpApi } from "../http/mod.ts";
import type { NamedModule } from "../modules/module.ts";
import { checkOptions, HTTP_UPLOAD_OPTIONS, type HttpUploadConfig } from "./_options.ts";
import { removeUploads, scheduleSweep } from "./expiry.ts";
import { FileStore } from "./files.ts";
import { UPLOAD_PREFIX, uploadHandler } from "./http_handler.ts";
import { createUploadService } from "./service.ts";
import { SlotIssuer } from "./slots.ts";
import { HTTP_UPLOAD_MIGRATIONS, UploadStore } from "./upload_store.ts";

export { type HttpUploadConfig } from "./_options.ts";
export { FileStore, isId, newId } from "./files.ts";
export { uploadHandler } from "./http_handler.ts";
export { createUploadService, uploadDiscoInfo } from "./service.ts";
export {
  fileTooLarge,
  readRequest,
  type Slot,
  SlotIssuer,
  type SlotRequest,
  UPLOAD,
} from "./slots.ts";
export { sweep } from "./expiry.ts";
export { HTTP_UPLOAD_MIGRATIONS, type UploadRecord, UploadStore } from "./upload_store.ts";

/** What the module offers: its store, its files and its domain; null when it is not offered. */
export interface HttpUploadApi {
  readonly store: UploadStore;
  readonly files: FileStore;
  /** The component's domain. */
  readonly domain: string;
}

/** Longest pause between two sweeps. */
const HOUR_MS = 3_600_000;

/** The module. */
export const HTTP_UPLOAD_MODULE: NamedModule<
  "http_upload",
  HttpUploadConfig,
  HttpUploadApi | null,
  { http: HttpApi }
> = {
  name: "http_upload",
  description: "HTTP File Upload (XEP-0363): slots at upload.<domain>, files served over HTTP(S)",
  dependsOn: ["http"],
  options: HTTP_UPLOAD_OPTIONS,
  check: checkOptions,
  migrations: HTTP_UPLOAD_MIGRATIONS,
  async start({ router, db, server, config, accounts, metrics, modules, log }) {
    checkOptions(config);
    const domain = config.domain || `upload.${server.domain}`;
    if (modules.http.port === null && modules.http.securePort === null) {
      // Slots would name URLs nobody answers: better no service than one that always fails.
      log(`http_upload: not offered at ${domain}: [http] has neither port nor https_port`);
      return { api: null };
    }
    if (modules.http.securePort === null && modules.http.url("/").startsWith("http:")) {
      log(
        "http_upload: files served over plain HTTP (XEP-0363 §4 requires TLS: set [http] external_url to an https:// URL in front of it, or https_port)",
      );
    }
    const store = new UploadStore(db);
    const files = await FileStore.open(
      join(server.dataDir ?? await Deno.makeTempDir({ prefix: "verona-uploads-" }), "uploads"),
    );
    const receiving = new Set<string>();
    const counters = {
      uploads: metrics.counter("verona_upload_files", "Files uploaded (XEP-0363)"),
      uploadedBytes: metrics.counter("verona_upload_bytes", "Bytes uploaded (XEP-0363)"),
      downloads: metrics.counter("verona_upload_downloads", "Uploaded files served (GET)"),
    };
    const slots = metrics.counter("verona_upload_slots", "Upload slots issued (XEP-0363 §4)");
    metrics.gauge({
      name: "verona_upload_stored_bytes",
      help: "Bytes of uploaded files kept",
      unit: "bytes",
      read: () => store.totals().bytes,
    });
    metrics.gauge({
      name: "verona_upload_stored_files",
      help: "Uploaded files kept",
      read: () => store.totals().files,
    });
    const issuer = new SlotIssuer({ config, store, url: (path) => modules.http.url(path) });
    router.addComponent(createUploadService({
      domain,
      serverDomain: server.domain,
      name: config.name,
      maxFileSize: config.maxFileSize,
      issue: async (username, request) => {
        const slot = await issuer.issue(username, request);
        slots.inc();
        return slot;
      },
      deliver: (stanza) => router.route(stanza),
      log,
    }));
    modules.http.route(
      UPLOAD_PREFIX,
      uploadHandler({ store, files, expiresAfter: config.expiresAfter, receiving, log, counters }),
    );
    accounts.onRemoved((username) => {
      removeUploads(store, files, store.ofUser(username), log).then((removed) => {
        if (removed > 0) {
          log(`http_upload: ${removed} uploads of removed account ${username} deleted`);
        }
      }).catch((error) => log(`http_upload: removing ${username}'s uploads: ${error}`));
    });
    // Often enough that files do not outlive their time by much, as their lifetime allows.
    const lifetimes = [config.expiresAfter, config.slotTimeout * 1000].filter((ms) => ms > 0);
    const stopSweep = scheduleSweep({
      store,
      files,
      intervalMs: Math.max(250, Math.min(HOUR_MS, ...lifetimes.map((ms) => ms / 4))),
      busy: (id) => receiving.has(id),
      log,
    });
    log(`http_upload: ${domain} (files at ${modules.http.url(UPLOAD_PREFIX + "/")})`);
    return { api: { store, files, domain }, stop: stopSweep };
  },
};
