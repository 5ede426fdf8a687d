// A lean XMPP client for load generation. RFC 6120 §4 (stream), §5 (STARTTLS), §6 (SASL), §7
// (resource binding); XEP-0199 (ping, to know the server has processed what was sent); XEP-0368
// (direct TLS, on request).
//
// The login is parsed with the project's StreamParser; once bound, the stream is only cut into
// raw stanza strings (StanzaSplitter) and handed to `onStanza`, so that counting hundreds of
// thousands of deliveries costs the generator far less than it costs the server.
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Buffer } from "node:buffer";
import { openDirectTls, openTcp, upgradeToTls } from "../../lib/net/client_socket.ts";
import { plainResponse, ScramClient } from "../../lib/sasl/client.ts";
import { NS } from "../../lib/stanza/ns.ts";
import { el, type Element, escapeAttr, StreamParser } from "../../lib/xml/mod.ts";
import { attribute, elementName, StanzaSplitter } from "./_stanza_splitter.ts";

/** SASL mechanisms the bench client speaks. */
export const BENCH_MECHANISMS = ["SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"] as const;
export type BenchMechanism = typeof BENCH_MECHANISMS[number];

/** Whom to log in as, where. */
export interface BenchLogin {
  host: string;
  port: number;
  /** XMPP domain (stream `to`). */
  domain: string;
  username: string;
  password: string;
  mechanism: BenchMechanism;
  resource: string;
  /** Longest wait for each answer during the login. */
  timeoutMs: number;
  /** Local address to connect from (another loopback address, say); default: the system's. */
  localAddress?: string;
  /** The port speaks TLS from the first byte (XEP-0368): no STARTTLS. */
  directTls?: boolean;
  /**
   * Enable resumable Stream Management (XEP-0198 §3) after bind, before the presence; the
   * server's ack requests (`<r/>`) are then answered (§4).
   */
  streamManagement?: boolean;
  /** A TLS session of an earlier login ({@linkcode BenchClient.tlsSession}) to resume. */
  tlsSession?: Uint8Array;
}

/** A stanza predicate for {@linkcode BenchClient.waitFor}: true to finish, an Error to fail. */
export type RawMatcher = (raw: string) => boolean | Error;

interface Waiter {
  match: RawMatcher;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** One logged-in connection. */
export class BenchClient {
  /** Called with every stanza after login (raw text), before the waiters see it. */
  onStanza: (raw: string) => void = () => {};
  #socket: Socket | TLSSocket | undefined;
  #fullJid = "";
  #closeReason: string | undefined;
  #waiters: Waiter[] = [];
  #ids = 0;
  // Login only: parsed elements and whoever waits for the next one.
  #parser: StreamParser;
  #elements: Element[] = [];
  #wake: (() => void) | undefined;
  #streamOpened = false;
  #tlsSession: Uint8Array | undefined;
  #tlsResumed = false;
  /** Stanzas handled since SM was enabled ('h', XEP-0198 §4); null without SM. */
  #smHandled: number | null = null;

  constructor() {
    this.#parser = new StreamParser({
      streamOpen: () => {
        this.#streamOpened = true;
        this.#wake?.();
      },
      stanza: (stanza) => {
        this.#elements.push(stanza);
        this.#wake?.();
      },
      streamClose: () => this.#fail("server closed the stream during login"),
      error: (condition, text) => this.#fail(`server sent bad XML (${condition}): ${text}`),
    });
  }

  /** The TLS session the server gave last (a TLS 1.3 ticket arrives after the handshake). */
  get tlsSession(): Uint8Array | undefined {
    return this.#tlsSession;
  }

  /** Whether the TLS handshake resumed the session given as {@linkcode BenchLogin.tlsSession}. */
  get tlsResumed(): boolean {
    return this.#tlsResumed;
  }

  get fullJid(): string {
    return this.#fullJid;
  }

  /** Why the connection ended, or undefined while it is up. */
  get closeReason(): string | undefined {
    return this.#closeReason;
  }

  /**
   * TCP, STARTTLS or direct TLS (certificate not verified: bench servers use self-signed ones),
   * SASL, bind, then `<presence/>` and a ping whose answer shows the server has handled the
   * presence. Throws an Error naming the failed stage.
   */
  async login(options: BenchLogin): Promise<void> {
    let stage = "TCP";
    try {
      let raw: Socket;
      if (options.directTls) {
        stage = "direct TLS";
        raw = await openDirectTls(options.host, options.port, {
          servername: options.domain,
          timeoutMs: options.timeoutMs,
          localAddress: options.localAddress,
          session: options.tlsSession,
        });
        this.#keepTlsSession(raw as TLSSocket);
      } else {
        raw = await openTcp(options.host, options.port, options.timeoutMs, options.localAddress);
        raw.setNoDelay(true);
      }
      this.#attachParser(raw);
      stage = "stream";
      let features = await this.#openStream(options, false);
      if (!options.directTls && features.getChild("starttls", NS.TLS) !== undefined) {
        stage = "STARTTLS";
        this.#write(el("starttls", { xmlns: NS.TLS }).toString());
        const answer = await this.#next(options.timeoutMs);
        if (!answer.is("proceed", NS.TLS)) throw new Error(`got <${answer.name}/>`);
        await this.#startTls(raw, options);
        features = await this.#openStream(options, true);
      }
      stage = `SASL ${options.mechanism}`;
      const offered = features.getChild("mechanisms", NS.SASL)?.getChildren("mechanism", NS.SASL)
        .map((m) => m.getText().trim()) ?? [];
      if (!offered.includes(options.mechanism)) {
        throw new Error(`not offered (server offers ${offered.join(", ") || "none"})`);
      }
      await this.#authenticate(options);
      stage = "stream after SASL";
      features = await this.#openStream(options, true);
      stage = "bind";
      const id = this.#id("bind");
      this.#write(
        el(
          "iq",
          { type: "set", id },
          el("bind", { xmlns: NS.BIND }, el("resource", {}, options.resource)),
        ).toString(NS.CLIENT),
      );
      const bound = await this.#next(options.timeoutMs);
      if (!bound.is("iq", NS.CLIENT) || bound.attrs.id !== id || bound.attrs.type !== "result") {
        throw new Error(`unexpected answer ${bound.toString()}`);
      }
      this.#fullJid = bound.getChild("bind", NS.BIND)?.getChildText("jid")?.trim() ?? "";
      if (this.#fullJid === "") throw new Error("no <jid/> in the result");
      const session = features.getChild("session", NS.SESSION);
      if (session !== undefined && session.getChild("optional", NS.SESSION) === undefined) {
        stage = "session";
        const sid = this.#id("sess");
        this.#write(
          `<iq type='set' id='${sid}'><session xmlns='${NS.SESSION}'/></iq>`,
        );
        const answer = await this.#next(options.timeoutMs);
        if (answer.attrs.type !== "result") throw new Error(`got ${answer.toString()}`);
      }
      if (options.streamManagement) {
        stage = "stream management";
        this.#write(`<enable xmlns='${NS.SM}' resume='true'/>`);
        const answer = await this.#next(options.timeoutMs);
        if (!answer.is("enabled", NS.SM)) throw new Error(`got ${answer.toString()}`);
        this.#smHandled = 0;
      }
      stage = "presence";
      this.#switchToRaw();
      this.send("<presence/>");
      await this.ping(options.domain, options.timeoutMs);
    } catch (error) {
      this.close();
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot log in ${options.username}@${options.domain}: ${stage}: ${why}`);
    }
  }

  /** Writes raw XML. Throws if the connection is gone. */
  send(xml: string): void {
    if (this.#closeReason !== undefined) throw new Error(`Cannot send: ${this.#closeReason}`);
    this.#write(xml);
  }

  /** Sends a ping to `to` and waits for its answer. */
  ping(to: string, timeoutMs: number): Promise<void> {
    const id = this.#id("ping");
    const done = this.waitFor(
      (raw) => {
        if (raw.startsWith("<iq") && attribute(raw, "id") === id) return true;
        return false;
      },
      timeoutMs,
      `answer to ping ${id}`,
    );
    this.send(`<iq type='get' id='${id}' to='${escapeAttr(to)}'><ping xmlns='${NS.PING}'/></iq>`);
    return done;
  }

  /**
   * Resolves when `match` returns true for a stanza received from now on, rejects when it returns
   * an Error, after `timeoutMs`, or when the connection ends.
   */
  waitFor(match: RawMatcher, timeoutMs: number, what: string): Promise<void> {
    if (this.#closeReason !== undefined) {
      return Promise.reject(new Error(`Cannot wait for ${what}: ${this.#closeReason}`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`Cannot wait for ${what}: nothing within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** A fresh stanza id. */
  nextId(prefix: string): string {
    return this.#id(prefix);
  }

  /** Drops the connection at once. */
  close(reason = "closed by the bench"): void {
    this.#fail(reason);
  }

  #attachParser(socket: Socket | TLSSocket): void {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#parser.write(chunk));
    this.#watch(socket);
  }

  #watch(socket: Socket | TLSSocket): void {
    socket.on("error", (error: Error) => this.#fail(`connection error: ${error.message}`));
    socket.on("close", () => this.#fail("server closed the connection"));
  }

  async #startTls(raw: Socket, options: BenchLogin): Promise<void> {
    const tls = await upgradeToTls(raw, options.domain, options.timeoutMs, options.tlsSession);
    this.#keepTlsSession(tls);
    this.#attachParser(tls);
  }

  #keepTlsSession(tls: TLSSocket): void {
    this.#tlsResumed = tls.isSessionReused();
    // TLS 1.2 settles the session in the handshake, TLS 1.3 sends tickets after it.
    this.#tlsSession = tls.getSession() ?? undefined;
    tls.on("session", (session: Uint8Array) => this.#tlsSession = session);
  }

  async #openStream(options: BenchLogin, restart: boolean): Promise<Element> {
    if (restart) this.#parser.reset();
    this.#streamOpened = false;
    this.#write(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAMS}' ` +
        `to='${escapeAttr(options.domain)}' version='1.0' xml:lang='en'>`,
    );
    await this.#until(() => this.#streamOpened, options.timeoutMs, "stream header");
    const features = await this.#next(options.timeoutMs);
    if (!features.is("features", NS.STREAMS)) {
      throw new Error(`got <${features.name}/> instead of <stream:features/>`);
    }
    return features;
  }

  async #authenticate(options: BenchLogin): Promise<void> {
    const mechanism = options.mechanism;
    const auth = (data: Uint8Array) =>
      this.#write(el("auth", { xmlns: NS.SASL, mechanism }, encode(data)).toString());
    const respond = (data: Uint8Array) =>
      this.#write(el("response", { xmlns: NS.SASL }, encode(data)).toString());
    const answer = async () => {
      const got = await this.#next(options.timeoutMs);
      if (got.is("failure", NS.SASL)) {
        const condition = got.elements().find((e) => e.name !== "text")?.name ?? "no condition";
        throw new Error(`server refused: ${condition}`);
      }
      return got;
    };
    if (mechanism === "PLAIN") {
      auth(plainResponse(options.username, options.password));
      const outcome = await answer();
      if (!outcome.is("success", NS.SASL)) throw new Error(`got <${outcome.name}/>`);
      return;
    }
    const scram = new ScramClient(
      mechanism === "SCRAM-SHA-256" ? "SHA-256" : "SHA-1",
      options.username,
      options.password,
    );
    auth(scram.first());
    const challenge = await answer();
    if (!challenge.is("challenge", NS.SASL)) throw new Error(`got <${challenge.name}/>`);
    respond(await scram.final(decode(challenge.getText())));
    let outcome = await answer();
    const serverFinal = decode(outcome.getText());
    if (outcome.is("challenge", NS.SASL)) {
      if (!(await scram.verify(serverFinal))) throw new Error("wrong server signature");
      respond(new Uint8Array());
      outcome = await answer();
      if (!outcome.is("success", NS.SASL)) throw new Error(`got <${outcome.name}/>`);
      return;
    }
    if (!outcome.is("success", NS.SASL)) throw new Error(`got <${outcome.name}/>`);
    if (!(await scram.verify(serverFinal))) throw new Error("wrong server signature");
  }

  /** From now on the stream is only split, not parsed. */
  #switchToRaw(): void {
    const socket = this.#socket!;
    socket.removeAllListeners("data");
    const decoder = new TextDecoder();
    const splitter = new StanzaSplitter({
      stanza: (raw) => this.#received(raw),
      streamClose: () => this.#fail("server closed the stream"),
    });
    socket.on("data", (chunk: Buffer) => splitter.write(decoder.decode(chunk, { stream: true })));
  }

  #received(raw: string): void {
    if (raw.startsWith("<stream:error")) {
      const condition = raw.match(/<([a-z-]+) xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams/)
        ?.[1];
      this.#fail(`server sent stream error <${condition ?? elementName(raw)}/>`);
      return;
    }
    if (this.#smHandled !== null && this.#smNonza(raw)) return;
    this.onStanza(raw);
    if (this.#waiters.length === 0) return;
    for (const waiter of [...this.#waiters]) {
      const outcome = waiter.match(raw);
      if (outcome === false) continue;
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      if (outcome === true) waiter.resolve();
      else waiter.reject(outcome);
    }
  }

  /** Counts a stanza for SM or answers an ack request; true for a nonza (r, a). */
  #smNonza(raw: string): boolean {
    const name = elementName(raw);
    if (name === "r") {
      this.#write(`<a xmlns='${NS.SM}' h='${this.#smHandled}'/>`);
      return true;
    }
    if (name === "a") return true;
    this.#smHandled = (this.#smHandled! + 1) % 2 ** 32;
    return false;
  }

  async #next(timeoutMs: number): Promise<Element> {
    await this.#until(() => this.#elements.length > 0, timeoutMs, "answer");
    return this.#elements.shift()!;
  }

  #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (done()) {
          finish();
          resolve();
        } else if (this.#closeReason !== undefined) {
          finish();
          reject(new Error(this.#closeReason));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#wake = undefined;
      };
      this.#wake = check;
      check();
    });
  }

  #fail(reason: string): void {
    if (this.#closeReason !== undefined) return;
    this.#closeReason = reason;
    this.#socket?.destroy();
    this.#wake?.();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(new Error(reason));
  }

  #write(text: string): void {
    const socket = this.#socket;
    if (socket !== undefined && !socket.destroyed) socket.write(text);
  }

  #id(prefix: string): string {
    return `${prefix}${++this.#ids}`;
  }
}

function encode(data: Uint8Array): string {
  return data.length === 0 ? "=" : Buffer.from(data).toString("base64");
}

function decode(text: string): Uint8Array {
  const trimmed = text.trim();
  return trimmed === "" || trimmed === "=" ? new Uint8Array() : Buffer.from(trimmed, "base64");
}
