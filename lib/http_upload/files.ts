// The uploaded files on disk, one per slot under `<data_dir>/uploads/`, named by the slot id (the
// requested name is only metadata, so nothing a client sends becomes a path). A PUT's body is
// streamed chunk by chunk into `<id>.part` and renamed to `<id>` once every byte has arrived:
// a reader never sees half a file, and an upload is never held in memory.
import { join } from "node:path";

/** Slot ids: 128 random bits in base64url, 22 characters (XEP-0363 §9.3 "long randomized"). */
const ID = /^[A-Za-z0-9_-]{22}$/;

/** Bytes read from a PUT's body at a time. */
const CHUNK_BYTES = 256 * 1024;

/** A new slot id. */
export function newId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}

/** Whether `id` has the shape of a slot id (checked before it names a file). */
export function isId(id: string): boolean {
  return ID.test(id);
}

/** Base64url without padding (RFC 4648 §5). */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** How a streamed upload ended. */
export type ReceiveResult = "stored" | "too-long" | "too-short";

/** The directory of uploaded files. */
export class FileStore {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Opens (creating it, private to the server's user) the directory. */
  static async open(dir: string): Promise<FileStore> {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    return new FileStore(dir);
  }

  #path(id: string): string {
    if (!isId(id)) throw new Error(`Cannot name an upload file: "${id}" is not a slot id`);
    return join(this.dir, id);
  }

  /**
   * Streams `body` into the file of `id`; exactly `size` bytes are kept, anything else is
   * removed. Throws what reading the body threw (a client that went away), after removing
   * the partial file.
   */
  async receive(
    id: string,
    body: ReadableStream<Uint8Array> | null,
    size: number,
  ): Promise<ReceiveResult> {
    const path = this.#path(id);
    const partial = path + ".part";
    const file = await Deno.open(partial, { write: true, createNew: true, mode: 0o600 });
    let received = 0;
    let result: ReceiveResult = "stored";
    try {
      if (body !== null) {
        for await (const chunk of chunks(body)) {
          received += chunk.length;
          if (received > size) {
            result = "too-long";
            break; // leaving the loop cancels the body
          }
          for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
        }
      }
      if (result === "stored" && received < size) result = "too-short";
    } catch (error) {
      file.close();
      await Deno.remove(partial).catch(() => {});
      throw error;
    }
    file.close();
    if (result !== "stored") {
      await Deno.remove(partial).catch(() => {});
      return result;
    }
    await Deno.rename(partial, path);
    return result;
  }

  /** The stored file of `id` opened for reading, or null when there is none. */
  async open(id: string): Promise<Deno.FsFile | null> {
    try {
      return await Deno.open(this.#path(id), { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  /** Removes the file of `id` (and any partial one); nothing happens if there is none. */
  async remove(id: string): Promise<void> {
    const path = this.#path(id);
    for (const name of [path, path + ".part"]) {
      await Deno.remove(name).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
  }

  /** The ids of the files present (finished or partial), for the sweep's orphan check. */
  async ids(): Promise<{ id: string; partial: boolean; modified: number }[]> {
    const found: { id: string; partial: boolean; modified: number }[] = [];
    for await (const entry of Deno.readDir(this.dir)) {
      if (!entry.isFile) continue;
      const partial = entry.name.endsWith(".part");
      const id = partial ? entry.name.slice(0, -5) : entry.name;
      if (!isId(id)) continue;
      const info = await Deno.stat(join(this.dir, entry.name)).catch(() => null);
      if (info === null) continue;
      found.push({ id, partial, modified: info.mtime?.getTime() ?? 0 });
    }
    return found;
  }
}

/**
 * The chunks of a body. A byte stream (what Deno.serve gives) is read into one buffer, again
 * and again (a BYOB reader): otherwise the body costs its whole size in garbage, which V8 may
 * let pile up well past what is in flight. Each chunk is valid until the next is asked for.
 */
async function* chunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    yield* body; // not a byte stream
    return;
  }
  let buffer = new Uint8Array(CHUNK_BYTES);
  let done = false;
  try {
    for (;;) {
      const read = await reader.read(buffer);
      if (read.done || read.value === undefined) {
        done = true;
        return;
      }
      yield read.value;
      buffer = new Uint8Array(read.value.buffer);
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
