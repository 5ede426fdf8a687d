// A c2s socket: batched writes and the server side of STARTTLS (RFC 6120 §5.4.3.3).
//
// Deno has no server-side `startTls`, so the upgrade wraps the `node:net`
// socket in a `node:tls` TLSSocket. Writes issued within one event-loop turn
// are corked and leave together, which saves a TLS record and a syscall per
// stanza under load.
import type { Socket } from "node:net";
import { type SecureContext, TLSSocket } from "node:tls";

/** What the transport reports to the stream that owns it. */
export interface TransportHandlers {
  data(bytes: Uint8Array): void;
  /** The peer went away or the socket failed; called once. */
  closed(error?: Error): void;
}

/** One client connection, plain or encrypted. */
export class Transport {
  readonly remoteAddress: string;
  #socket: Socket | TLSSocket;
  #handlers: TransportHandlers | null = null;
  #corked = false;
  #closed = false;
  #encrypted = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress ?? "unknown";
    socket.setNoDelay(true);
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
    this.#listen(this.#socket);
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
   */
  startTls(last: string, secureContext: SecureContext): Promise<void> {
    const plain = this.#socket as Socket;
    plain.pause();
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("error");
    plain.removeAllListeners("end");
    return new Promise((resolve, reject) => {
      plain.write(last, () => {
        const tls = new TLSSocket(plain, { isServer: true, secureContext });
        this.#socket = tls;
        const failed = (error: Error) => {
          reject(error);
          this.#fail(error);
        };
        tls.once("error", failed);
        tls.once("secure", () => {
          tls.off("error", failed);
          this.#encrypted = true;
          resolve();
        });
        this.#listen(tls);
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
    // A peer that never closes its side must not keep the socket forever.
    const socket = this.#socket;
    setTimeout(() => socket.destroy(), 2000).unref?.();
    this.#finish();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.#socket.destroy();
    this.#finish();
  }

  #listen(socket: Socket | TLSSocket): void {
    socket.on("data", (chunk: Uint8Array) => this.#handlers?.data(chunk));
    socket.on("error", (error: Error) => this.#fail(error));
    socket.on("end", () => this.#finish());
    socket.on("close", () => this.#finish());
  }

  #fail(error: Error): void {
    this.#socket.destroy();
    this.#finish(error);
  }

  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers?.closed(error);
  }
}
