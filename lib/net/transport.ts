// A c2s socket: batched writes and the server side of STARTTLS (RFC 6120 §5.4.3.3) or of
// direct TLS (XEP-0368), where the connection is TLS from its first byte.
//
// Deno has no server-side `startTls`, so the upgrade wraps the `node:net`
// socket in a `node:tls` TLSSocket; a direct-TLS connection is wrapped the same
// way as soon as it is accepted. Writes issued within one event-loop turn
// are corked and leave together, which saves a TLS record and a syscall per
// stanza under load.
//
// The transport owns the connection's lifetime: whatever ends it (the peer, an
// error, a stream error, a failed handshake, a timeout, shutdown), `closed` is
// reported once to the stream and `released` once to the listener, and the
// socket is destroyed at most `LINGER_MS` later. No other code touches the
// sockets' listeners, so nothing can detach that accounting.
//
// Both directions are bounded. Input is shaped by a token bucket in bytes: past
// it, the socket is paused (TCP then pushes back on the sender) until the debt
// is paid, so a flooding client slows only itself. Output that the peer does not
// read queues up to `maxSendQueueBytes`; past that the stream is told (`overflow`)
// and closes the connection, so a stuck reader costs bounded memory.
import type { Socket } from "node:net";
import {
  connect as connectTls,
  type ConnectionOptions,
  type PeerCertificate,
  type SecureContext,
  TLSSocket,
} from "node:tls";
import { pauseReading, resumeReading } from "./socket_reading.ts";
import { type Rate, TokenBucket } from "./token_bucket.ts";

/** How long a closing socket may wait for the peer's side before it is destroyed. */
const LINGER_MS = 2000;
/**
 * Most input handed to the stream per event-loop turn. A large read (64 KiB of small stanzas
 * is hundreds of them) is handed over in slices, with other connections served in between.
 */
const SLICE_BYTES = 8 * 1024;

/** What the transport reports to the stream that owns it. */
export interface TransportHandlers {
  data(bytes: Uint8Array): void;
  /** The peer went away or the socket failed; called once. */
  closed(error?: Error): void;
  /** More than `maxSendQueueBytes` wait for a peer that does not read. */
  overflow(queuedBytes: number): void;
}

/** Bounds of one connection. */
export interface TransportLimits {
  /** Bytes that may wait unsent for the peer before `overflow` is reported. */
  maxSendQueueBytes: number;
  /** Bytes the peer may send, per second and in a burst (changed with `setInputRate`). */
  inputRate: Rate;
}

/**
 * XEP-0368 §3: the ALPN protocol of client connections over direct TLS. A client that offers
 * ALPN without it is refused with a `no_application_protocol` alert (RFC 7301 §3.2); one that
 * offers no ALPN at all is served.
 */
export const ALPN_XMPP_CLIENT = "xmpp-client";

/** How a connection that is TLS from its first byte is served (XEP-0368). */
export interface DirectTls {
  secureContext: SecureContext;
  /** The ALPN protocol served (default `xmpp-client`; `xmpp-server` for servers). */
  alpn?: string;
  /** Ask for the peer's certificate (servers authenticate with theirs, XEP-0178). */
  requestCert?: boolean;
}

/** Generous bounds for connections made without limits of their own (tests, tools). */
export const UNLIMITED: TransportLimits = {
  maxSendQueueBytes: Number.MAX_SAFE_INTEGER,
  inputRate: { perSecond: Number.MAX_SAFE_INTEGER, burst: Number.MAX_SAFE_INTEGER },
};

/**
 * What a c2s stream needs from its connection. {@linkcode Transport} is the TCP one (STARTTLS or
 * direct TLS); a WebSocket connection (RFC 7395) is another, which frames what the stream writes.
 */
export interface ClientTransport {
  readonly remoteAddress: string;
  /** True once the connection is confidential (TLS, or a transport trusted as such). */
  readonly encrypted: boolean;
  /** Whether STARTTLS can be offered while not encrypted (not over WebSocket). */
  readonly canStartTls: boolean;
  readonly isClosed: boolean;
  /** Bytes written but not yet taken by the peer. */
  readonly queuedBytes: number;
  setInputRate(rate: Rate): void;
  start(handlers: TransportHandlers): void;
  /** Queues text for the peer: a stream header, one or more whole elements, or the stream end. */
  write(text: string): void;
  startTls(last: string, secureContext: SecureContext): Promise<void>;
  close(): void;
  destroy(): void;
}

/** One client connection over TCP, plain or encrypted. */
export class Transport implements ClientTransport {
  readonly remoteAddress: string;
  #plain: Socket;
  #socket: Socket | TLSSocket;
  #handlers: TransportHandlers | null = null;
  #released: (() => void) | undefined;
  #corked = false;
  #closed = false;
  #encrypted = false;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #maxSendQueueBytes: number;
  #input: TokenBucket;
  #throttled: ReturnType<typeof setTimeout> | undefined;
  #overflowed = false;
  /** Input read but not yet handed over: the rest of a large read, one slice per turn. */
  #backlog: Uint8Array[] = [];
  #sliceScheduled = false;
  #readingPaused = false;
  #onData = (chunk: Uint8Array) => {
    if (this.#backlog.length === 0 && chunk.length <= SLICE_BYTES) {
      this.#deliver(chunk);
      return;
    }
    this.#backlog.push(chunk);
    this.#updateReading();
    this.#scheduleSlice();
  };

  /**
   * Takes over `socket`. `released` is called exactly once, when the socket is gone
   * (closed by either side, failed, or destroyed). With `directTls`, the connection is TLS
   * from its first byte (XEP-0368): the handshake starts at once, and what the stream reads
   * is what arrives over it; a failed handshake closes the connection. Such a socket must not
   * have been read from (the listener accepts it paused).
   */
  constructor(
    socket: Socket,
    limits: TransportLimits = UNLIMITED,
    released?: () => void,
    directTls?: DirectTls,
  ) {
    this.#plain = socket;
    this.#socket = socket;
    this.#released = released;
    this.#maxSendQueueBytes = limits.maxSendQueueBytes;
    this.#input = new TokenBucket(limits.inputRate);
    this.remoteAddress = socket.remoteAddress ?? "unknown";
    socket.setNoDelay(true);
    // These stay for the whole connection, through STARTTLS: the plain socket is
    // the file descriptor, whatever is layered on it.
    socket.on("error", (error: Error) => this.#fail(error));
    socket.on("end", () => this.#finish());
    socket.on("close", () => this.#release());
    if (directTls !== undefined) {
      this.#wrapTls(
        directTls.secureContext,
        [directTls.alpn ?? ALPN_XMPP_CLIENT],
        directTls.requestCert,
      ).catch(() => {});
    }
  }

  /** True once the TLS handshake has completed (after STARTTLS, or at once with direct TLS). */
  get encrypted(): boolean {
    return this.#encrypted;
  }

  get canStartTls(): boolean {
    return true;
  }

  /** True once the connection is gone. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Bytes written but not yet taken by the peer (kernel buffers aside): what waits in the TLS
   * layer, and the ciphertext that waits in the plain socket under it.
   */
  get queuedBytes(): number {
    const socket = this.#socket;
    return socket === this.#plain
      ? socket.writableLength
      : socket.writableLength + this.#plain.writableLength;
  }

  /** Starts the input shaper again at another rate, e.g. once the peer has authenticated. */
  setInputRate(rate: Rate): void {
    this.#input.setRate(rate);
  }

  /** Starts reading and reporting to `handlers`. */
  start(handlers: TransportHandlers): void {
    this.#handlers = handlers;
    if (this.#closed) {
      handlers.closed();
      return;
    }
    this.#socket.on("data", this.#onData);
  }

  /** Queues text for the peer; everything written in one event-loop turn leaves together. */
  write(text: string): void {
    if (this.#closed) return;
    // A socket that failed (the peer reset it) is destroyed before its 'error' event comes:
    // each write to it would build an error object, and a room's broadcast to many peers that
    // dropped at once then costs seconds. The connection is over; say so now.
    if (this.#socket.destroyed) return this.#fail();
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      setImmediate(() => {
        this.#corked = false;
        if (!this.#closed) this.#socket.uncork();
      });
    }
    this.#socket.write(text);
    if (!this.#overflowed && this.queuedBytes > this.#maxSendQueueBytes) {
      this.#overflowed = true;
      this.#handlers?.overflow(this.queuedBytes);
    }
  }

  /**
   * Writes `last` (the `<proceed/>`), then switches the socket to TLS.
   * The socket is paused first: a ClientHello that arrived before the TLS
   * socket existed would otherwise be read as plaintext and the handshake hang.
   * Rejects if the connection ends or the handshake fails; either way the
   * connection is then closed and released.
   */
  startTls(
    last: string,
    secureContext: SecureContext,
    options: { requestCert?: boolean } = {},
  ): Promise<void> {
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
        this.#wrapTls(secureContext, undefined, options.requestCert).then(resolve, reject);
        this.#socket.on("data", this.#onData);
      });
    });
  }

  /**
   * The client side of STARTTLS (for connections this server opens, e.g. to other servers):
   * after the peer's `<proceed/>`, layers TLS over the socket; resolves once the handshake has
   * completed. The peer's certificate is not judged here: see {@linkcode peerCertificate}.
   */
  startClientTls(options: ConnectionOptions): Promise<void> {
    const plain = this.#plain;
    plain.pause();
    plain.off("data", this.#onData);
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new Error("connection closed before STARTTLS"));
      const tls = connectTls({ ...options, socket: plain, rejectUnauthorized: false });
      this.#socket = tls;
      tls.once("secureConnect", () => {
        this.#encrypted = true;
        resolve();
      });
      tls.on("error", (tlsError: Error) => {
        reject(tlsError);
        this.#fail(tlsError);
      });
      tls.on("end", () => this.#finish());
      tls.on("close", () => this.#destroySockets());
      // Before start() (direct TLS), start() attaches the reader to the TLS socket itself.
      if (this.#handlers !== null) tls.on("data", this.#onData);
      plain.resume();
    });
  }

  /**
   * The peer's certificate once TLS is up (for a server, only when it was requested), or null.
   * `authorized` is the TLS library's verdict on its chain, which only a TLS client gets.
   */
  peerCertificate(): { certificate: PeerCertificate; authorized: boolean } | null {
    const socket = this.#socket;
    if (!(socket instanceof TLSSocket) || !this.#encrypted) return null;
    const certificate = socket.getPeerCertificate(true);
    if (!certificate || Object.keys(certificate).length === 0) return null;
    return { certificate, authorized: socket.authorized };
  }

  /**
   * Layers TLS over the plain socket, which is paused until then (so that no ClientHello is
   * read as plaintext), and resumes it; resolves once the handshake has completed. A failed
   * handshake rejects and closes the connection.
   */
  #wrapTls(secureContext: SecureContext, alpn?: string[], requestCert = false): Promise<void> {
    const plain = this.#plain;
    const tls = new TLSSocket(plain, {
      isServer: true,
      secureContext,
      ALPNProtocols: alpn,
      // A peer's certificate is asked for but judged by the caller (a server's, for s2s).
      requestCert,
      rejectUnauthorized: false,
    });
    this.#socket = tls;
    const secure = new Promise<void>((resolve, reject) => {
      tls.once("secure", () => {
        this.#encrypted = true;
        resolve();
      });
      tls.on("error", (tlsError: Error) => {
        reject(tlsError); // no-op once resolved
        this.#fail(tlsError);
      });
    });
    tls.on("end", () => this.#finish());
    tls.on("close", () => this.#destroySockets());
    plain.resume();
    return secure;
  }

  /**
   * Sends what is queued, then closes the connection. During a TLS handshake nothing can reach
   * the peer, so the connection is dropped at once instead of lingering.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#socket !== this.#plain && !this.#encrypted) return this.destroy();
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
    this.#socket.end();
    this.#finish();
  }

  #deliver(bytes: Uint8Array): void {
    this.#handlers?.data(bytes);
    this.#shape(bytes.length);
  }

  #scheduleSlice(): void {
    if (this.#sliceScheduled) return;
    this.#sliceScheduled = true;
    setImmediate(() => {
      this.#sliceScheduled = false;
      if (this.#closed) {
        this.#backlog = [];
        return;
      }
      const first = this.#backlog[0];
      if (first.length <= SLICE_BYTES) this.#backlog.shift();
      else this.#backlog[0] = first.subarray(SLICE_BYTES);
      this.#deliver(first.length <= SLICE_BYTES ? first : first.subarray(0, SLICE_BYTES));
      if (this.#backlog.length > 0) this.#scheduleSlice();
      else this.#updateReading();
    });
  }

  /** Pauses reading while the peer is over its input rate (TCP pushes back on it). */
  #shape(bytes: number): void {
    const waitMs = this.#input.take(bytes);
    if (waitMs === 0 || this.#throttled !== undefined || this.#closed) return;
    this.#throttled = setTimeout(() => {
      this.#throttled = undefined;
      this.#updateReading();
    }, waitMs);
    this.#updateReading();
  }

  /** Reads while the peer is within its rate and nothing it sent waits to be handled. */
  #updateReading(): void {
    const read = !this.#closed && this.#throttled === undefined && this.#backlog.length === 0;
    if (read === !this.#readingPaused) return;
    this.#readingPaused = !read;
    if (read) resumeReading(this.#socket);
    else pauseReading(this.#socket);
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
    clearTimeout(this.#throttled);
    const released = this.#released;
    this.#released = undefined;
    released?.();
  }
}
