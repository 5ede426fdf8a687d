// The SOCKS5 side of the proxy (XEP-0065 §6.3.2, §6.3.3, §6.3.4): accepts TCP connections,
// runs the handshake of socks5.ts, pairs the two connections that name the same hash (the first
// is the Target's, the second the Requester's, §6.2), and relays bytes both ways once the
// Requester has activated the stream. Everything is bounded: waiting connections (in all and per
// IP address), active pairs (in all and per user), bytes per second and per transfer, idle time.
// Each direction reads only after its last write has been taken by the kernel, so a slow reader
// pauses the other side (TCP pushes back) and nothing waits on the event loop.
import { type Rate, TokenBucket } from "../net/token_bucket.ts";
import {
  connectReply,
  METHOD_NONE,
  METHOD_UNACCEPTABLE,
  methodReply,
  parseConnect,
  parseGreeting,
  Reply,
} from "./socks5.ts";

/** The relay's bounds. */
export interface RelayLimits {
  /** Connections accepted but not relaying yet (handshake, peer or activation awaited). */
  maxPending: number;
  /** The same, per IP address: who opens a connection is not known before activation. */
  maxPendingPerAddress: number;
  /** Pairs relaying at once. */
  maxActive: number;
  /** Pairs relaying at once for one requester (bare JID). */
  maxActivePerUser: number;
  /** Bytes per second per pair, both directions together, with a burst. */
  rate: Rate;
  /** A connection not activated within this time is closed. */
  pendingTimeoutMs: number;
  /** An active pair that relays nothing for this time is closed. */
  idleTimeoutMs: number;
  /** Bytes relayed per pair before it is closed; 0 for no limit. */
  maxTransferBytes: number;
}

/** What an activation request found. */
export type ActivationResult = "activated" | "unknown" | "unpaired" | "active" | "limit";

interface Side {
  conn: Deno.TcpConn;
  address: string;
  /** Bytes read after the CONNECT request, relayed first. */
  leftover: Uint8Array;
  pending: boolean;
}

interface Pair {
  hash: string;
  target: Side;
  requester?: Side;
  since: number;
  lastActivity: number;
  user?: string;
  active: boolean;
  closed: boolean;
  bytes: number;
  bucket?: TokenBucket;
  abort: AbortController;
}

const HANDSHAKE_MAX_BYTES = 600; // a greeting (≤ 257) and a CONNECT (≤ 262)
const RELAY_CHUNK = 64 * 1024;

/** The listener and its pairs. */
export class Relay {
  readonly port: number;
  #listener: Deno.TcpListener;
  #limits: RelayLimits;
  #log: (line: string) => void;
  #now: () => number;
  #pairs = new Map<string, Pair>();
  #handshaking = new Map<Deno.TcpConn, number>();
  #pendingPerAddress = new Map<string, number>();
  #pending = 0;
  #active = 0;
  #activePerUser = new Map<string, number>();
  #tasks = new Set<Promise<void>>();
  #sweep: ReturnType<typeof setInterval>;
  #closed = false;

  private constructor(listener: Deno.TcpListener, limits: RelayLimits, log: (l: string) => void) {
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#limits = limits;
    this.#log = log;
    this.#now = performance.now.bind(performance);
    const every = Math.min(
      1000,
      Math.max(20, Math.min(limits.pendingTimeoutMs, limits.idleTimeoutMs) / 4),
    );
    this.#sweep = setInterval(() => this.#expire(), every);
    Deno.unrefTimer(this.#sweep);
    this.#track(this.#acceptLoop());
  }

  /** Listens on `hostname:port` (0 picks a free port); throws when the address cannot be bound. */
  static listen(
    options: { hostname: string; port: number; limits: RelayLimits; log?: (line: string) => void },
  ): Relay {
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({ hostname: options.hostname, port: options.port });
    } catch (error) {
      throw new Error(
        `Cannot listen for SOCKS5 on ${options.hostname}:${options.port}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
    return new Relay(listener, options.limits, options.log ?? (() => {}));
  }

  /** Connections waiting, and pairs relaying. */
  get counts(): { pending: number; active: number; pairs: number } {
    return { pending: this.#pending, active: this.#active, pairs: this.#pairs.size };
  }

  /**
   * Starts relaying the pair that named `hash`, for `user` (the requester's bare JID, counted
   * against `maxActivePerUser`). §6.3.4: the Target and the Requester must both be connected.
   */
  activate(hash: string, user: string): ActivationResult {
    const pair = this.#pairs.get(hash);
    if (pair === undefined) return "unknown";
    if (pair.active) return "active";
    if (pair.requester === undefined) return "unpaired";
    if (
      this.#active >= this.#limits.maxActive ||
      (this.#activePerUser.get(user) ?? 0) >= this.#limits.maxActivePerUser
    ) {
      return "limit";
    }
    pair.active = true;
    pair.user = user;
    pair.lastActivity = this.#now();
    pair.bucket = new TokenBucket(this.#limits.rate);
    this.#unpend(pair.target);
    this.#unpend(pair.requester);
    this.#active++;
    this.#activePerUser.set(user, (this.#activePerUser.get(user) ?? 0) + 1);
    const requester = pair.requester;
    const both = Promise.allSettled([
      this.#pump(pair, requester, pair.target),
      this.#pump(pair, pair.target, requester),
    ]).then(() => this.#closePair(pair));
    this.#track(both);
    return "activated";
  }

  /** Stops listening and closes every connection; resolves once all are gone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#listener.close();
    for (const conn of this.#handshaking.keys()) closeQuietly(conn);
    for (const pair of [...this.#pairs.values()]) this.#closePair(pair);
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  #track(task: Promise<void>): void {
    const tracked = task.catch(() => {}).finally(() => this.#tasks.delete(tracked));
    this.#tasks.add(tracked);
  }

  async #acceptLoop(): Promise<void> {
    try {
      for await (const conn of this.#listener) this.#accept(conn);
    } catch (error) {
      if (!this.#closed) this.#log(`proxy65: accept failed: ${String(error)}`);
    }
  }

  #accept(conn: Deno.TcpConn): void {
    if (this.#closed) return closeQuietly(conn);
    const address = conn.remoteAddr.hostname;
    const fromAddress = this.#pendingPerAddress.get(address) ?? 0;
    if (
      this.#pending >= this.#limits.maxPending || fromAddress >= this.#limits.maxPendingPerAddress
    ) {
      this.#log(`proxy65: refused a connection from ${address}: too many waiting`);
      return closeQuietly(conn);
    }
    const side: Side = { conn, address, leftover: new Uint8Array(0), pending: false };
    this.#pend(side);
    this.#handshaking.set(conn, this.#now());
    this.#track(this.#handshake(side));
  }

  async #handshake(side: Side): Promise<void> {
    const { conn } = side;
    let registered = false;
    try {
      let received: Uint8Array<ArrayBuffer> = new Uint8Array(0);
      let greeted = false;
      const chunk = new Uint8Array(HANDSHAKE_MAX_BYTES);
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) return;
        received = concat(received, chunk.subarray(0, n));
        if (received.length > HANDSHAKE_MAX_BYTES) return;
        if (!greeted) {
          const greeting = parseGreeting(received);
          if (greeting.kind === "more") continue;
          if (greeting.kind === "error") {
            await writeAll(conn, methodReply(METHOD_UNACCEPTABLE));
            return;
          }
          greeted = true;
          received = received.slice(greeting.length);
          await writeAll(conn, methodReply(METHOD_NONE));
        }
        const request = parseConnect(received);
        if (request.kind === "more") continue;
        if (request.kind === "error") {
          await writeAll(conn, connectReply(request.reply));
          return;
        }
        side.leftover = received.slice(request.length);
        registered = this.#register(side, request.value);
        await writeAll(
          conn,
          connectReply(
            registered ? Reply.SUCCEEDED : Reply.NOT_ALLOWED,
            registered ? request.value : "",
          ),
        );
        return;
      }
    } catch {
      // closed by a timeout or by the peer
    } finally {
      this.#handshaking.delete(conn);
      if (!registered) {
        this.#unpend(side);
        closeQuietly(conn);
      }
    }
  }

  /** The first connection for a hash is the Target's, the second the Requester's; no third. */
  #register(side: Side, hash: string): boolean {
    if (this.#closed) return false;
    const pair = this.#pairs.get(hash);
    const now = this.#now();
    if (pair === undefined) {
      this.#pairs.set(hash, {
        hash,
        target: side,
        since: now,
        lastActivity: now,
        active: false,
        closed: false,
        bytes: 0,
        abort: new AbortController(),
      });
      return true;
    }
    if (pair.requester === undefined && !pair.active) {
      pair.requester = side;
      return true;
    }
    this.#log(`proxy65: refused a third connection for ${hash} from ${side.address}`);
    return false;
  }

  async #pump(pair: Pair, from: Side, to: Side): Promise<void> {
    try {
      if (from.leftover.length > 0) await this.#forward(pair, to, from.leftover);
      const buffer = new Uint8Array(RELAY_CHUNK);
      while (!pair.closed) {
        const n = await from.conn.read(buffer);
        if (n === null) break;
        await this.#forward(pair, to, buffer.subarray(0, n));
      }
      // Half-close: the other direction may still be sending (the end of a file, say).
      if (!pair.closed) await to.conn.closeWrite().catch(() => {});
    } catch {
      this.#closePair(pair);
    }
  }

  async #forward(pair: Pair, to: Side, bytes: Uint8Array): Promise<void> {
    pair.lastActivity = this.#now();
    pair.bytes += bytes.length;
    const max = this.#limits.maxTransferBytes;
    if (max > 0 && pair.bytes > max) {
      this.#log(`proxy65: ${pair.hash} of ${pair.user} passed ${max} bytes; closed`);
      throw new Error("transfer limit");
    }
    const wait = pair.bucket!.take(bytes.length);
    if (wait > 0) await sleep(wait, pair.abort.signal);
    await writeAll(to.conn, bytes);
    pair.lastActivity = this.#now();
  }

  #closePair(pair: Pair): void {
    if (pair.closed) return;
    pair.closed = true;
    pair.abort.abort();
    if (this.#pairs.get(pair.hash) === pair) this.#pairs.delete(pair.hash);
    for (const side of [pair.target, pair.requester]) {
      if (side === undefined) continue;
      this.#unpend(side);
      closeQuietly(side.conn);
    }
    if (pair.active && pair.user !== undefined) {
      this.#active--;
      const left = (this.#activePerUser.get(pair.user) ?? 1) - 1;
      if (left > 0) this.#activePerUser.set(pair.user, left);
      else this.#activePerUser.delete(pair.user);
    }
  }

  #pend(side: Side): void {
    side.pending = true;
    this.#pending++;
    this.#pendingPerAddress.set(side.address, (this.#pendingPerAddress.get(side.address) ?? 0) + 1);
  }

  #unpend(side: Side): void {
    if (!side.pending) return;
    side.pending = false;
    this.#pending--;
    const left = (this.#pendingPerAddress.get(side.address) ?? 1) - 1;
    if (left > 0) this.#pendingPerAddress.set(side.address, left);
    else this.#pendingPerAddress.delete(side.address);
  }

  /** Closes handshakes and pairs not activated in time, and idle active pairs. */
  #expire(): void {
    const now = this.#now();
    const { pendingTimeoutMs, idleTimeoutMs } = this.#limits;
    for (const [conn, since] of this.#handshaking) {
      if (now - since >= pendingTimeoutMs) closeQuietly(conn);
    }
    for (const pair of [...this.#pairs.values()]) {
      if (!pair.active && now - pair.since >= pendingTimeoutMs) {
        this.#log(`proxy65: ${pair.hash} not activated within ${pendingTimeoutMs} ms; closed`);
        this.#closePair(pair);
      } else if (pair.active && now - pair.lastActivity >= idleTimeoutMs) {
        this.#log(`proxy65: ${pair.hash} of ${pair.user} idle for ${idleTimeoutMs} ms; closed`);
        this.#closePair(pair);
      }
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function closeQuietly(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error("closed"));
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error("closed"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
