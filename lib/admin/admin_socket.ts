// The admin socket: a Unix domain socket in the data directory through which the running
// server answers admin commands (`verona status`, the sessions of `verona user show`). Live
// state is asked of the process that has it instead of being written to the database on every
// login. One JSON request line in, one JSON answer line out, then the connection closes.
import { chmod } from "node:fs/promises";

/** The socket's file name inside the data directory. */
export const ADMIN_SOCKET_NAME = "verona.sock";

/** Longest request accepted, in bytes. */
const MAX_REQUEST_BYTES = 4096;
/** How long a client may take to send its request. */
const REQUEST_TIMEOUT_MS = 2000;

/** A command's answer, from its arguments. */
export type AdminHandlers = Record<string, (args: Record<string, unknown>) => unknown>;

/** A listening admin socket. */
export class AdminSocket {
  #listener: Deno.Listener;
  #path: string;
  #done: Promise<void>;

  private constructor(listener: Deno.Listener, path: string, handlers: AdminHandlers) {
    this.#listener = listener;
    this.#path = path;
    this.#done = this.#serve(handlers);
  }

  /**
   * Listens on `path`, replacing a stale socket file (a server that did not stop cleanly);
   * only the owner may connect (mode 0600).
   */
  static async listen(path: string, handlers: AdminHandlers): Promise<AdminSocket> {
    if (await askServer(path, "ping") !== undefined) {
      throw new Error(`another server answers on ${path}`);
    }
    await Deno.remove(path).catch(() => {});
    const listener = Deno.listen({ transport: "unix", path });
    await chmod(path, 0o600);
    return new AdminSocket(listener, path, handlers);
  }

  /** Stops listening and removes the socket file. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#done;
    await Deno.remove(this.#path).catch(() => {});
  }

  async #serve(handlers: AdminHandlers): Promise<void> {
    try {
      for await (const conn of this.#listener) this.#answer(conn, handlers);
    } catch {
      // closed
    }
  }

  async #answer(conn: Deno.Conn, handlers: AdminHandlers): Promise<void> {
    const timer = setTimeout(() => conn.close(), REQUEST_TIMEOUT_MS);
    try {
      const line = await readLine(conn, MAX_REQUEST_BYTES);
      let answer: unknown;
      try {
        const request = JSON.parse(line ?? "");
        const handler = Object.hasOwn(handlers, request?.command)
          ? handlers[request.command]
          : undefined;
        answer = handler
          ? { ok: true, result: handler(request.args ?? {}) }
          : { ok: false, error: `unknown command ${JSON.stringify(request?.command)}` };
      } catch (error) {
        answer = { ok: false, error: error instanceof Error ? error.message : String(error) };
      }
      await writeAll(conn, new TextEncoder().encode(JSON.stringify(answer) + "\n"));
    } catch {
      // the client went away
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // already closed by the timeout
      }
    }
  }
}

/**
 * Asks the server listening on `path`; resolves with the command's result, or undefined if
 * no server answers there. Rejects if the server refused the command.
 */
export async function askServer(
  path: string,
  command: string,
  args: Record<string, unknown> = {},
  timeoutMs = 5000,
): Promise<unknown> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch {
    return undefined;
  }
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await writeAll(conn, new TextEncoder().encode(JSON.stringify({ command, args }) + "\n"));
    const line = await readLine(conn, 16 * 1024 * 1024);
    if (line === undefined) return undefined;
    const answer = JSON.parse(line);
    if (!answer.ok) throw new Error(`the server refused "${command}": ${answer.error}`);
    return answer.result;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timeout
    }
  }
}

/** Reads up to the first newline; undefined if the peer closed first or sent too much. */
async function readLine(conn: Deno.Conn, maxBytes: number): Promise<string | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buffer = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) return undefined;
    const chunk = buffer.slice(0, n);
    const newline = chunk.indexOf(10);
    chunks.push(newline === -1 ? chunk : chunk.subarray(0, newline));
    size += n;
    if (newline !== -1) break;
    if (size > maxBytes) return undefined;
  }
  const all = new Uint8Array(chunks.reduce((total, c) => total + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(all);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}
