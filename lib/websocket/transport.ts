// A c2s connection over WebSocket (RFC 7395): the ClientTransport a C2sStream runs over, with
// the framing of framing.ts both ways. RFC 7395 §3.2 (text messages only), §3.3 (framing),
// §3.6 (closing: `<close/>`, then the WebSocket close handshake), §4 (no STARTTLS: the
// connection is as confidential as the HTTP request that opened it).
//
// Bounds, as for TCP (lib/net/transport.ts): a message larger than `maxMessageBytes` ends the
// stream with policy-violation; input is shaped by a token bucket, and since a WebSocket cannot
// stop reading, messages over the rate wait in a backlog of at most `maxBacklogBytes`, past
// which the stream ends with policy-violation too; output the client does not take
// (`bufferedAmount`) is reported as `overflow` past `maxSendQueueBytes`.
import type { SecureContext } from "node:tls";
import type { ClientTransport, TransportHandlers } from "../net/transport.ts";
import { type Rate, TokenBucket } from "../net/token_bucket.ts";
import { NS } from "../stanza/ns.ts";
import { NS_FRAMING, OutgoingFramer, translateIncoming } from "./framing.ts";

/** How long a closing socket waits for the client's close frame before it is given up. */
const LINGER_MS = 2000;

/** RFC 6455 §7.4.1 close codes used here. */
const CLOSE_NORMAL = 1000;
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_POLICY_VIOLATION = 1008;
const CLOSE_TOO_BIG = 1009;

/** Bounds of one WebSocket connection. */
export interface WebSocketLimits {
  /** Largest message the client may send, in bytes of UTF-8. */
  maxMessageBytes: number;
  /** Bytes of messages received but held back by the input rate; past it the stream ends. */
  maxBacklogBytes: number;
  /** Bytes sent but not taken by the client before `overflow` is reported. */
  maxSendQueueBytes: number;
  /** Input rate until the stream changes it (`setInputRate`, after authentication). */
  inputRate: Rate;
}

export interface WebSocketTransportOptions {
  /** The client's address (behind a trusted proxy, the one it forwarded). */
  remoteAddress: string;
  /** Whether the connection counts as confidential (TLS, or a trusted TLS-terminating proxy). */
  encrypted: boolean;
  limits: WebSocketLimits;
  /** Called once when the connection is gone, for the endpoint's connection counts. */
  released?: () => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One client connection over a WebSocket, as a {@linkcode ClientTransport}. */
export class WebSocketTransport implements ClientTransport {
  readonly remoteAddress: string;
  readonly encrypted: boolean;
  #socket: WebSocket;
  #limits: WebSocketLimits;
  #handlers: TransportHandlers | null = null;
  #released: (() => void) | undefined;
  #framer = new OutgoingFramer();
  /** Messages written before the socket opened. */
  #unsent: string[] = [];
  #unsentBytes = 0;
  #closed = false;
  #overflowed = false;
  #input: TokenBucket;
  #backlog: Uint8Array[] = [];
  #backlogBytes = 0;
  #throttled: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: WebSocket, options: WebSocketTransportOptions) {
    this.#socket = socket;
    this.remoteAddress = options.remoteAddress;
    this.encrypted = options.encrypted;
    this.#limits = options.limits;
    this.#released = options.released;
    this.#input = new TokenBucket(options.limits.inputRate);
    socket.onopen = () => {
      const unsent = this.#unsent;
      this.#unsent = [];
      this.#unsentBytes = 0;
      for (const message of unsent) socket.send(message);
      if (this.#closed) this.#closeSocket(CLOSE_NORMAL);
    };
    socket.onmessage = (event) => this.#received(event.data);
    socket.onclose = () => this.#release();
    socket.onerror = () => {}; // followed by close
  }

  /** Always false: RFC 7395 §4, TLS is the HTTP connection's (wss://), never STARTTLS. */
  get canStartTls(): boolean {
    return false;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** What the socket has not sent yet, and what waits for it to open. */
  get queuedBytes(): number {
    return this.#socket.bufferedAmount + this.#unsentBytes;
  }

  setInputRate(rate: Rate): void {
    this.#input.setRate(rate);
  }

  start(handlers: TransportHandlers): void {
    this.#handlers = handlers;
    if (this.#closed) handlers.closed();
  }

  /** Frames what the stream wrote (header, elements, stream end) as WebSocket messages. */
  write(text: string): void {
    if (this.#closed) return;
    for (const message of this.#framer.write(text)) {
      this.#send(message.text);
      if (message.kind === "close") {
        // RFC 7395 §3.6: after our <close/> nothing more is sent; the socket closes once the
        // client has answered (or LINGER_MS later).
        this.close();
        return;
      }
    }
  }

  startTls(_last: string, _secureContext: SecureContext): Promise<void> {
    return Promise.reject(new Error("STARTTLS is not available over WebSocket (RFC 7395 §4)"));
  }

  /** Sends what is queued, then closes (the close frame follows the messages already sent). */
  close(): void {
    this.#finish(CLOSE_NORMAL);
  }

  /** Closes at once. A WebSocket has no abort: its close frame goes out after what is queued. */
  destroy(): void {
    this.#finish(CLOSE_NORMAL);
    this.#release();
  }

  #send(text: string): void {
    if (this.#socket.readyState === WebSocket.CONNECTING) {
      this.#unsent.push(text);
      this.#unsentBytes += text.length;
    } else if (this.#socket.readyState === WebSocket.OPEN) {
      this.#socket.send(text);
    }
    if (!this.#overflowed && this.queuedBytes > this.#limits.maxSendQueueBytes) {
      this.#overflowed = true;
      this.#handlers?.overflow(this.queuedBytes);
    }
  }

  #received(data: unknown): void {
    if (this.#closed) return;
    if (typeof data !== "string") {
      // RFC 7395 §3.2: XMPP messages are text.
      return this.#fail("bad-format", "Only text messages carry XMPP", CLOSE_UNSUPPORTED_DATA);
    }
    const bytes = encoder.encode(data);
    if (bytes.length > this.#limits.maxMessageBytes) {
      return this.#fail(
        "policy-violation",
        `A message may hold at most ${this.#limits.maxMessageBytes} bytes`,
        CLOSE_TOO_BIG,
      );
    }
    if (this.#throttled !== undefined) {
      this.#backlogBytes += bytes.length;
      if (this.#backlogBytes > this.#limits.maxBacklogBytes) {
        return this.#fail("policy-violation", "Sending too fast", CLOSE_POLICY_VIOLATION);
      }
      this.#backlog.push(bytes);
      return;
    }
    this.#deliver(bytes);
  }

  /** Hands one message to the stream, translated, and takes it from the input rate. */
  #deliver(bytes: Uint8Array): void {
    const message = translateIncoming(decoder.decode(bytes));
    const text = message.kind === "open" ? message.header : message.text;
    this.#handlers?.data(message.kind === "data" ? bytes : encoder.encode(text));
    const waitMs = this.#input.take(bytes.length);
    if (waitMs > 0 && !this.#closed) {
      this.#throttled = setTimeout(() => this.#resume(), waitMs);
    }
  }

  #resume(): void {
    this.#throttled = undefined;
    while (this.#backlog.length > 0 && this.#throttled === undefined && !this.#closed) {
      const next = this.#backlog.shift()!;
      this.#backlogBytes -= next.length;
      this.#deliver(next);
    }
  }

  /**
   * Ends the stream for a framing or limit violation: the stream error, `<close/>`, the socket.
   * The c2s stream learns of it as a closed connection.
   */
  #fail(condition: string, text: string, code: number): void {
    this.#send(
      `<stream:error xmlns:stream='${NS.STREAMS}'><${condition} xmlns='${NS.STREAM_ERRORS}'/>` +
        `<text xmlns='${NS.STREAM_ERRORS}'>${text}</text></stream:error>`,
    );
    this.#send(`<close xmlns='${NS_FRAMING}'/>`);
    this.#finish(code);
  }

  #finish(code: number): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#throttled);
    this.#backlog = [];
    this.#closeSocket(code);
    // A client that never answers the close frame must not keep its place for ever.
    this.#lingerTimer = setTimeout(() => this.#release(), LINGER_MS);
    this.#handlers?.closed();
  }

  #closeSocket(code: number): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return; // CONNECTING: closed on open
    try {
      this.#socket.close(code);
    } catch { /* already closing */ }
  }

  #release(): void {
    if (!this.#closed) {
      // The client closed (or the connection broke) without a stream end.
      this.#closed = true;
      clearTimeout(this.#throttled);
      this.#backlog = [];
      this.#handlers?.closed();
    }
    clearTimeout(this.#lingerTimer);
    const released = this.#released;
    this.#released = undefined;
    released?.();
  }
}
