// A c2s socket: batched writes and the server side of STARTTLS (RFC 6120 §5.4.3.3).
//
// Deno has no server-side `startTls`, so the upgrade wraps the `node:net`
// socket in a `node:tls` TLSSocket. Writes issued within one event-loop turn
// are corked and leave together, which saves a TLS record and a syscall per
// stanza under load.
//
// The transport owns the connection's lifetime: whatever ends it (the peer, an
// error, a stream error, a failed handshake, a timeout, shutdown), `closed` is
// reported once to the stream and `released` once to the listener, and the
// socket is destroyed at most `LINGER_MS` later. No other code touches the
// sockets' listeners, so nothing can detach that accounting.
import type { Socket } from "node:net";
import { type SecureContext, TLSSocket } from "node:tls";

/** How long a closing socket may wait for the peer's side before it is destroyed. */
const LINGER_MS = 2000;

/** What the transport reports to the stream that owns it. */
export interface TransportHandlers {
  data(bytes: Uint8Array): void;
  /** The peer went away or the socket failed; called once. */
  closed(error?: Error): void;
}

/** One client connection, plain or encrypted. */
export class Transport {
  readonly remoteAddress: string;
  #plain: Socket;
  #socket: Socket | TLSSocket;
  #handlers: TransportHandlers | null = null;
  #released: (() => void) | undefined;
  #corked = false;
  #closed = false;
  #encrypted = false;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #onData = (chunk: Uint8Array) => this.#handlers?.data(chunk);

  /**
   * Takes over `socket`. `released` is called exactly once, when the socket is gone
   * (closed by either side, failed, or destroyed).
   */
  constructor(socket: Socket, released?: () => void) {
    this.#plain = socket;
    this.#socket = socket;
    this.#released = released;
    this.remoteAddress = socket.remoteAddress ?? "unknown";
    socket.setNoDelay(true);
    // These stay for the whole connection, through STARTTLS: the plain socket is
    // the file descriptor, whatever is layered on it.
    socket.on("error", (error: Error) => this.#fail(error));
    socket.on("end", () => this.#finish());
    socket.on("close", () => this.#release());
  }

  /** True once STARTTLS has completed. */
  get encrypted(): boolean {
    return this.#encrypted;
  }

  /** True once the connection is gone. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Starts reading and reporting to `handlers`. */
  start(handlers: TransportHandlers): void {
    this.#handlers = handlers;
    if (this.#closed) {
      handlers.closed();
      return;
    }
    this.#plain.on("data", this.#onData);
  }

  /** Queues text for the peer; everything written in one event-loop turn leaves together. */
  write(text: string): void {
    if (this.#closed) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      setImmediate(() => {
        this.#corked = false;
        if (!this.#closed) this.#socket.uncork();
      });
    }
    this.#socket.write(text);
  }

  /**
   * Writes `last` (the `<proceed/>`), then switches the socket to TLS.
   * The socket is paused first: a ClientHello that arrived before the TLS
   * socket existed would otherwise be read as plaintext and the handshake hang.
   * Rejects if the connection ends or the handshake fails; either way the
   * connection is then closed and released.
   */
  startTls(last: string, secureContext: SecureContext): Promise<void> {
    const plain = this.#plain;
    plain.pause();
    plain.off("data", this.#onData);
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new Error("connection closed before STARTTLS"));
      plain.write(last, (error?: Error | null) => {
        if (error || this.#closed) {
          reject(error ?? new Error("connection closed before STARTTLS"));
          return this.#fail(error ?? undefined);
        }
        const tls = new TLSSocket(plain, { isServer: true, secureContext });
        this.#socket = tls;
        tls.once("secure", () => {
          this.#encrypted = true;
          resolve();
        });
        tls.on("error", (tlsError: Error) => {
          reject(tlsError); // no-op once resolved
          this.#fail(tlsError);
        });
        tls.on("data", this.#onData);
        tls.on("end", () => this.#finish());
        tls.on("close", () => this.#destroySockets());
        plain.resume();
      });
    });
  }

  /** Sends what is queued, then closes the connection. */
  close(): void {
    if (this.#closed) return;
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
    this.#socket.end();
    this.#finish();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.#finish();
    this.#destroySockets();
  }

  #fail(error?: Error): void {
    this.#finish(error);
    this.#destroySockets();
  }

  /** The connection is over for the stream; the socket goes within LINGER_MS. */
  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    // A peer that never closes its side must not keep the socket (and its count) forever.
    this.#lingerTimer = setTimeout(() => this.#destroySockets(), LINGER_MS);
    this.#handlers?.closed(error);
  }

  #destroySockets(): void {
    this.#socket.destroy();
    if (this.#socket !== this.#plain) this.#plain.destroy();
    // Do not wait for the 'close' event: a socket whose close was never reported
    // must still give its place back.
    this.#release();
  }

  #release(): void {
    this.#finish();
    clearTimeout(this.#lingerTimer);
    const released = this.#released;
    this.#released = undefined;
    released?.();
  }
}
