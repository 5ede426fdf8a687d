// Retention (XEP-0363 §5 leaves it to the service; Prosody's mod_http_file_share prunes daily):
// a periodic sweep removes files past `expires_after`, slots never used past their timeout, the
// uploads of accounts removed while the server was down, and files on disk with no row (a crash
// between writing and recording). Files go first, then their rows, so a row never outlives a
// file it names... and a file that cannot be removed keeps its row for the next sweep.
import type { FileStore } from "./files.ts";
import type { UploadRecord, UploadStore } from "./upload_store.ts";

/** Rows handled per turn of the event loop. */
export const SWEEP_BATCH = 100;
/** Partial files younger than this are uploads in progress, not debris. */
const PARTIAL_GRACE_MS = 24 * 60 * 60 * 1000;

/** How the sweep runs. */
export interface SweepOptions {
  store: UploadStore;
  files: FileStore;
  /** Between two sweeps, ms. */
  intervalMs: number;
  /** Whether a PUT into this slot is streaming now (its slot may have timed out meanwhile). */
  busy?: (id: string) => boolean;
  now?: () => number;
  log(line: string): void;
}

/** Removes the records and their files; returns how many went. */
export async function removeUploads(
  store: UploadStore,
  files: FileStore,
  records: readonly UploadRecord[],
  log: (line: string) => void,
): Promise<number> {
  let removed = 0;
  for (const record of records) {
    try {
      await files.remove(record.id);
    } catch (error) {
      log(
        `http_upload: cannot remove ${record.id}: ${
          error instanceof Error ? error.message : error
        }`,
      );
      continue;
    }
    store.remove(record.id);
    removed++;
  }
  return removed;
}

/** One sweep: everything past its time at `now`; returns how many uploads went. */
export async function sweep(options: Omit<SweepOptions, "intervalMs">): Promise<number> {
  const { store, files, log } = options;
  const now = (options.now ?? Date.now)();
  let removed = 0;
  const busy = options.busy ?? (() => false);
  for (const find of [() => store.expired(now, SWEEP_BATCH), () => store.orphans(SWEEP_BATCH)]) {
    for (;;) {
      const batch = find().filter((record) => !busy(record.id));
      const gone = await removeUploads(store, files, batch, log);
      removed += gone;
      if (batch.length < SWEEP_BATCH || gone < batch.length) break;
    }
  }
  for (const { id, partial, modified } of await files.ids()) {
    if (store.has(id)) continue;
    if (partial && now - modified < PARTIAL_GRACE_MS) continue;
    await files.remove(id).catch(() => {});
  }
  return removed;
}

/** Sweeps now and then every `intervalMs`; returns the function that stops it. */
export function scheduleSweep(options: SweepOptions): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const run = async () => {
    if (stopped) return;
    try {
      const removed = await sweep(options);
      if (removed > 0) options.log(`http_upload: ${removed} expired uploads removed`);
    } catch (error) {
      options.log(`http_upload: sweep failed: ${error instanceof Error ? error.message : error}`);
    }
    if (stopped) return;
    timer = setTimeout(run, options.intervalMs);
    Deno.unrefTimer(timer);
  };
  timer = setTimeout(run, 0);
  Deno.unrefTimer(timer);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
