// A plain XMPP client for replaying scripts against any server. RFC 6120 §4 (streams),
// §5 (STARTTLS), §6 (SASL), §7 (resource binding); RFC 3921 §3 (the legacy session iq,
// only when required); XEP-0199 (ping, to wait until the server has processed a send);
// XEP-0368 §3 (direct TLS, on request).
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Buffer } from "node:buffer";
import { parseJid } from "../jid/mod.ts";
import { openDirectTls, openTcp, upgradeToTls } from "../net/client_socket.ts";
import { plainResponse, ScramClient } from "../sasl/client.ts";
import { NS } from "../stanza/ns.ts";
import { el, type Element, escapeAttr, StreamParser } from "../xml/mod.ts";
import { now } from "./_clock.ts";

/** SASL mechanisms the client speaks, strongest first: the default preference. */
export const SUPPORTED_MECHANISMS: readonly string[] = ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"];

const DEFAULT_TIMEOUT_MS = 5000;

/** How to reach the server and whom to log in as. */
export interface ConnectOptions {
  /** Where to open the TCP connection. */
  host: string;
  port: number;
  /** The port speaks TLS from the first byte (XEP-0368), so STARTTLS is not used; default false. */
  directTls?: boolean;
  /** The stream's `to`; default: the JID's domain. */
  domain?: string;
  /** The account; a resource part is asked for at bind time unless `resource` is given. */
  jid: string;
  password: string;
  resource?: string;
  /** SASL mechanisms in order of preference (default `SUPPORTED_MECHANISMS`). */
  mechanisms?: string[];
  /** Longest wait for each answer of the server during the login (default 5000 ms). */
  timeoutMs?: number;
  /** Local address to connect from (e.g. another loopback address); default: the system's. */
  localAddress?: string;
}

/** A stanza in the receive queue, with its arrival time (`performance.now()` scale). */
export interface ReceivedStanza {
  stanza: Element;
  at: number;
}

/** A `<stream:error/>` the server sent. */
export interface StreamErrorInfo {
  condition: string;
  text?: string;
  element: Element;
}

/** Options of `waitForStanza()`. */
export interface WaitOptions {
  /** Longest wait (default 5000 ms). */
  timeoutMs?: number;
  /** Which queued stanza to wait for (default: any). */
  match?: (stanza: Element) => boolean;
  /** Take it out of the queue (default true). */
  remove?: boolean;
}

/**
 * One client connection: log in with `connect()`, then `send()`, read the queue of
 * received stanzas, `sync()` with the server, and `disconnect()`.
 *
 * @example
 * ```ts
 * await using client = new ReplayClient();
 * await client.connect({ host: "127.0.0.1", port: 5222, jid: "romeo@localhost", password: "pw" });
 * client.send("<presence/>");
 * await client.sync();
 * const { stanza } = await client.waitForStanza({ match: (s) => s.name === "presence" });
 * ```
 */
export class ReplayClient {
  #socket: Socket | TLSSocket | undefined;
  #features: Element = el("features", { xmlns: NS.STREAMS });
  #featuresBeforeAuth: Element = el("features", { xmlns: NS.STREAMS });
  #parser: StreamParser;
  #queue: ReceivedStanza[] = [];
  #waiters = new Set<() => void>();
  #pings = new Map<string, () => void>();
  #ids = 0;
  #domain = "";
  #fullJid = "";
  #streamOpened = false;
  #streamError: StreamErrorInfo | undefined;
  #closeReason: string | undefined;
  #serverClosedStream = false;
  #sentClose = false;
  #socketClosed = false;

  constructor() {
    this.#parser = new StreamParser({
      streamOpen: (name, ns) => {
        if (name !== "stream" || ns !== NS.STREAMS) {
          this.#fail(`server opened <${name} xmlns='${ns}'> instead of a stream`);
          return;
        }
        this.#streamOpened = true;
        this.#notify();
      },
      stanza: (stanza) => this.#receive(stanza),
      streamClose: () => {
        this.#serverClosedStream = true;
        this.#closeReason ??= "server closed the stream";
        // Answer the close so the server can release the connection.
        if (!this.#sentClose) this.#write("</stream:stream>");
        this.#sentClose = true;
        this.#socket?.end();
        this.#notify();
      },
      error: (condition, text) => this.#fail(`server sent bad XML (${condition}): ${text}`),
    });
  }

  /** The JID the server bound, once connected. */
  /** The stream features the server offered after authentication (empty before). */
  get features(): Element {
    return this.#features;
  }

  /** The stream features offered before authentication (after STARTTLS when it was offered). */
  get featuresBeforeAuth(): Element {
    return this.#featuresBeforeAuth;
  }

  get fullJid(): string {
    return this.#fullJid;
  }

  /** The stream error the server sent, if any. */
  get streamError(): StreamErrorInfo | undefined {
    return this.#streamError;
  }

  /** True once the connection is gone or closing: nothing more will arrive. */
  get closed(): boolean {
    return this.#closeReason !== undefined;
  }

  /** Why the connection ended, for messages: a stream error, a close, a socket error. */
  get closeReason(): string | undefined {
    return this.#closeReason;
  }

  /** Stanzas received and not yet taken, oldest first. */
  get queue(): readonly ReceivedStanza[] {
    return this.#queue;
  }

  /** Takes the `count` oldest stanzas out of the queue. */
  drop(count: number): ReceivedStanza[] {
    return this.#queue.splice(0, count);
  }

  /**
   * Connects and logs in: TCP, STARTTLS when offered (or TLS from the first byte with
   * `directTls`; the certificate is not verified either way), SASL with the first mechanism
   * of the preference list that the server offers (SCRAM server signature verified),
   * resource binding, and the session iq only when the server requires it. Sends no
   * presence. Throws an Error naming the failed stage.
   */
  async connect(options: ConnectOptions): Promise<void> {
    if (this.#socket !== undefined) throw new Error("Cannot connect: this client was connected");
    try {
      await this.#connect(options);
    } catch (error) {
      this.close(); // a half-negotiated stream is of no use
      throw error;
    }
  }

  async #connect(options: ConnectOptions): Promise<void> {
    const jid = parseJid(options.jid);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const preference = options.mechanisms ?? [...SUPPORTED_MECHANISMS];
    for (const mechanism of preference) {
      if (!SUPPORTED_MECHANISMS.includes(mechanism)) {
        throw new TypeError(
          `Cannot connect: unsupported SASL mechanism "${mechanism}" (supported: ${
            SUPPORTED_MECHANISMS.join(", ")
          })`,
        );
      }
    }
    this.#domain = options.domain ?? jid.domain;
    const who = `${jid.bare} at ${options.host}:${options.port}`;
    const stage = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
      try {
        return await work();
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        throw new Error(`Cannot connect ${who}: ${what}: ${why}`);
      }
    };

    const directTls = options.directTls ?? false;
    let raw: Socket;
    if (directTls) {
      raw = await stage("direct TLS", () =>
        openDirectTls(options.host, options.port, {
          servername: this.#domain,
          timeoutMs,
          localAddress: options.localAddress,
        }));
    } else {
      raw = await stage(
        "TCP",
        () => openTcp(options.host, options.port, timeoutMs, options.localAddress),
      );
      raw.setNoDelay(true);
    }
    this.#attach(raw);

    // Over TLS, the stream says who we are (RFC 6120 §4.7.1); STARTTLS is not used over direct
    // TLS (XEP-0368 §3).
    let features = await stage(
      "stream",
      () => this.#openStream(timeoutMs, false, directTls ? jid.bare : undefined),
    );
    if (!directTls && features.getChild("starttls", NS.TLS)) {
      features = await stage("STARTTLS", async () => {
        this.#write(el("starttls", { xmlns: NS.TLS }).toString());
        const answer = await this.#next(timeoutMs, "answer to <starttls/>");
        if (!answer.is("proceed", NS.TLS)) {
          throw new Error(`server answered <${answer.name}/> instead of <proceed/>`);
        }
        await this.#startTls(raw, timeoutMs);
        return await this.#openStream(timeoutMs, true, jid.bare);
      });
    }

    this.#featuresBeforeAuth = features;
    const offered = features.getChild("mechanisms", NS.SASL)?.getChildren("mechanism", NS.SASL)
      .map((m) => m.getText().trim()) ?? [];
    const mechanism = preference.find((m) => offered.includes(m));
    if (mechanism === undefined) {
      throw new Error(
        `Cannot connect ${who}: SASL: no common mechanism (server offers ${
          offered.join(", ") || "none"
        }; we accept ${preference.join(", ")})`,
      );
    }
    await stage(
      `SASL ${mechanism}`,
      () => this.#authenticate(mechanism, jid.local, options.password, timeoutMs),
    );
    features = await stage("stream after SASL", () => this.#openStream(timeoutMs, true, jid.bare));
    this.#features = features;

    const resource = options.resource ?? (jid.resource || undefined);
    this.#fullJid = await stage(
      "resource binding",
      () => this.#bind(features, resource, timeoutMs),
    );

    const session = features.getChild("session", NS.SESSION);
    if (session && !session.getChild("optional", NS.SESSION)) {
      await stage("session", async () => {
        const reply = await this.#iq(
          el("iq", { type: "set", id: this.#id("session") }, el("session", { xmlns: NS.SESSION })),
          timeoutMs,
        );
        if (reply.attrs.type !== "result") {
          throw new Error(`server answered ${describeError(reply)}`);
        }
      });
    }
  }

  /** Sends a stanza: XML text as is, or an element (in the `jabber:client` namespace). */
  send(stanza: string | Element): void {
    if (this.closed || this.#socket === undefined) {
      throw new Error(`Cannot send: ${this.#closeReason ?? "not connected"}`);
    }
    this.#write(typeof stanza === "string" ? stanza : stanza.toString(NS.CLIENT));
  }

  /**
   * Waits until the server has processed everything sent so far: pings the server
   * (XEP-0199) and waits for its result or error, which never enters the queue.
   * A server that closes the stream meanwhile (e.g. after removing the account) has
   * processed all it ever will, so that counts as done too.
   */
  async sync(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const id = this.#id("sync");
    let answered = false;
    this.#pings.set(id, () => answered = true);
    try {
      this.send(el("iq", { type: "get", id, to: this.#domain }, el("ping", { xmlns: NS.PING })));
      await this.#wait(
        () => answered || this.#serverClosedStream || undefined,
        timeoutMs,
        "wait for the answer to a ping",
      );
    } finally {
      this.#pings.delete(id);
    }
  }

  /**
   * Waits for a queued stanza (already there, or arriving within the timeout) and
   * returns it. Rejects on timeout, or when the connection ends without one.
   */
  waitForStanza(options: WaitOptions = {}): Promise<ReceivedStanza> {
    const match = options.match ?? (() => true);
    return this.#wait(
      () => {
        const index = this.#queue.findIndex((r) => match(r.stanza));
        if (index === -1) return undefined;
        return options.remove === false ? this.#queue[index] : this.#queue.splice(index, 1)[0];
      },
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      "wait for a stanza",
    );
  }

  /**
   * Closes the stream (`</stream:stream>`) and waits for the server to close its own,
   * then closes the connection. Throws if the server does not close within the timeout.
   */
  async disconnect(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined || this.#socketClosed) return;
    try {
      if (!this.#sentClose && !socket.destroyed) this.#write("</stream:stream>");
      this.#sentClose = true;
      this.#closeReason ??= "client closed the stream";
      this.#notify();
      await this.#wait(
        () => this.#serverClosedStream || this.#socketClosed || undefined,
        timeoutMs,
        "wait for the server to close the stream",
        true,
      );
    } finally {
      this.close();
    }
  }

  /** Drops the connection at once, without closing the stream. */
  close(): void {
    this.#closeReason ??= "connection closed by the client";
    this.#socket?.destroy();
    this.#notify();
  }

  /** Closes politely for `await using`: `disconnect()` with a short timeout, then `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.disconnect(1000);
    } catch {
      // The connection is dropped either way.
    }
  }

  async #startTls(raw: Socket, timeoutMs: number): Promise<void> {
    this.#parser.reset();
    this.#attach(await upgradeToTls(raw, this.#domain, timeoutMs));
  }

  #attach(socket: Socket | TLSSocket): void {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#parser.write(chunk));
    socket.on("error", (error: Error) => {
      this.#closeReason ??= `connection error: ${error.message}`;
      this.#notify();
    });
    socket.on("close", () => {
      this.#socketClosed = true;
      this.#closeReason ??= "server closed the connection";
      this.#notify();
    });
  }

  /** Opens a (new) stream and returns its features. */
  async #openStream(timeoutMs: number, restart: boolean, from?: string): Promise<Element> {
    if (restart) this.#parser.reset();
    this.#streamOpened = false;
    const fromAttr = from === undefined ? "" : ` from='${escapeAttr(from)}'`;
    this.#write(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAMS}'` +
        ` to='${escapeAttr(this.#domain)}'${fromAttr} version='1.0' xml:lang='en'>`,
    );
    await this.#wait(
      () => this.#streamOpened || undefined,
      timeoutMs,
      "wait for the stream header",
    );
    const features = await this.#next(timeoutMs, "stream features");
    if (!features.is("features", NS.STREAMS)) {
      throw new Error(`server sent <${features.name}/> instead of <stream:features/>`);
    }
    return features;
  }

  async #authenticate(
    mechanism: string,
    username: string,
    password: string,
    timeoutMs: number,
  ): Promise<void> {
    const auth = (data: Uint8Array) =>
      this.#write(el("auth", { xmlns: NS.SASL, mechanism }, encode(data)).toString());
    const respond = (data: Uint8Array) =>
      this.#write(el("response", { xmlns: NS.SASL }, encode(data)).toString());

    if (mechanism === "PLAIN") {
      auth(plainResponse(username, password));
      const answer = await this.#saslAnswer(timeoutMs);
      if (!answer.is("success", NS.SASL)) throw new Error(`server sent <${answer.name}/>`);
      return;
    }
    const scram = new ScramClient(
      mechanism === "SCRAM-SHA-256" ? "SHA-256" : "SHA-1",
      username,
      password,
    );
    auth(scram.first());
    const challenge = await this.#saslAnswer(timeoutMs);
    if (!challenge.is("challenge", NS.SASL)) {
      throw new Error(`server sent <${challenge.name}/> instead of a challenge`);
    }
    respond(await scram.final(decode(challenge.getText())));
    let outcome = await this.#saslAnswer(timeoutMs);
    const serverFinal = decode(outcome.getText());
    // RFC 6120 §6.3.10 lets the server send its final message as a challenge instead.
    if (outcome.is("challenge", NS.SASL)) {
      if (!(await scram.verify(serverFinal))) throw new Error("wrong server signature");
      respond(new Uint8Array());
      outcome = await this.#saslAnswer(timeoutMs);
      if (!outcome.is("success", NS.SASL)) throw new Error(`server sent <${outcome.name}/>`);
      return;
    }
    if (!outcome.is("success", NS.SASL)) throw new Error(`server sent <${outcome.name}/>`);
    if (serverFinal.length === 0) throw new Error("server sent no signature in <success/>");
    if (!(await scram.verify(serverFinal))) throw new Error("wrong server signature");
  }

  /** The next SASL answer; a `<failure/>` becomes an Error with its condition and text. */
  async #saslAnswer(timeoutMs: number): Promise<Element> {
    const answer = await this.#next(timeoutMs, "SASL answer");
    if (answer.is("failure", NS.SASL)) {
      const condition = answer.elements().find((e) => e.name !== "text")?.name ?? "no condition";
      const text = answer.getChildText("text", NS.SASL)?.trim();
      throw new Error(`server refused: ${condition}${text ? ` (${text})` : ""}`);
    }
    return answer;
  }

  async #bind(
    features: Element,
    resource: string | undefined,
    timeoutMs: number,
  ): Promise<string> {
    if (!features.getChild("bind", NS.BIND)) throw new Error("server offers no <bind/>");
    const reply = await this.#iq(
      el(
        "iq",
        { type: "set", id: this.#id("bind") },
        el(
          "bind",
          { xmlns: NS.BIND },
          resource === undefined ? null : el("resource", {}, resource),
        ),
      ),
      timeoutMs,
    );
    if (reply.attrs.type !== "result") throw new Error(`server answered ${describeError(reply)}`);
    const bound = reply.getChild("bind", NS.BIND)?.getChildText("jid")?.trim();
    if (!bound) throw new Error("the result has no <jid/>");
    return parseJid(bound).full;
  }

  /** Sends an iq and returns its answer, which is taken out of the queue. */
  async #iq(iq: Element, timeoutMs: number): Promise<Element> {
    const id = iq.attrs.id;
    this.send(iq);
    const { stanza } = await this.waitForStanza({
      timeoutMs,
      match: (s) =>
        s.is("iq", NS.CLIENT) && s.attrs.id === id &&
        (s.attrs.type === "result" || s.attrs.type === "error"),
    });
    return stanza;
  }

  /** The next element of the stream during negotiation, taken out of the queue. */
  async #next(timeoutMs: number, what: string): Promise<Element> {
    const received = await this.#wait(
      () => this.#queue.shift(),
      timeoutMs,
      `wait for the ${what}`,
    );
    return received.stanza;
  }

  #receive(stanza: Element): void {
    const at = now();
    if (stanza.is("error", NS.STREAMS)) {
      const condition = stanza.elements().find((e) =>
        e.attrs.xmlns === NS.STREAM_ERRORS &&
        e.name !== "text"
      )?.name ?? "undefined-condition";
      const text = stanza.getChildText("text", NS.STREAM_ERRORS)?.trim() || undefined;
      this.#streamError = { condition, text, element: stanza };
      this.#closeReason ??= `server sent stream error <${condition}/>${text ? ` (${text})` : ""}`;
      this.#notify();
      return;
    }
    const id = stanza.attrs.id;
    if (
      id !== undefined && stanza.is("iq", NS.CLIENT) && this.#pings.has(id) &&
      (stanza.attrs.type === "result" || stanza.attrs.type === "error")
    ) {
      this.#pings.get(id)!();
      this.#notify();
      return;
    }
    this.#queue.push({ stanza, at });
    this.#notify();
  }

  #fail(reason: string): void {
    this.#closeReason ??= reason;
    this.#socket?.destroy();
    this.#notify();
  }

  #write(text: string): void {
    const socket = this.#socket;
    if (socket !== undefined && !socket.destroyed) socket.write(text);
  }

  #id(prefix: string): string {
    return `${prefix}-${++this.#ids}-${crypto.randomUUID().slice(0, 8)}`;
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Resolves with `check()`'s first defined value, re-checked at every event. Rejects
   * after `timeoutMs`, or once the connection has ended (unless `evenIfClosed`).
   */
  #wait<T>(
    check: () => T | undefined,
    timeoutMs: number,
    what: string,
    evenIfClosed = false,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value !== undefined) {
          finish();
          resolve(value);
        } else if (!evenIfClosed && this.closed) {
          finish();
          reject(new Error(`Cannot ${what}: ${this.#closeReason}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`Cannot ${what}: nothing within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(attempt);
      };
      this.#waiters.add(attempt);
      attempt();
    });
  }
}

function encode(data: Uint8Array): string {
  // RFC 6120 §6.4.2: "=" stands for an empty response.
  return data.length === 0 ? "=" : Buffer.from(data).toString("base64");
}

function decode(text: string): Uint8Array {
  const trimmed = text.trim();
  return trimmed === "" || trimmed === "=" ? new Uint8Array() : Buffer.from(trimmed, "base64");
}

function describeError(stanza: Element): string {
  const error = stanza.getChild("error");
  if (error === undefined) return `type '${stanza.attrs.type ?? ""}'`;
  const condition = error.elements().find((e) =>
    e.attrs.xmlns === NS.STANZA_ERRORS &&
    e.name !== "text"
  )?.name ?? "undefined-condition";
  const text = error.getChildText("text", NS.STANZA_ERRORS)?.trim();
  return `error ${condition}${text ? ` (${text})` : ""}`;
}
