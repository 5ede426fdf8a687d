// A raw XMPP connection for tests that must send what no well-behaved client would.
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { pauseReading, resumeReading } from "../lib/net/socket_reading.ts";

/** A socket that collects everything the server sends as text. */
export class RawClient {
  #socket: Socket | TLSSocket;
  #received = "";
  #closed = false;
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#listen(socket);
  }

  static connect(port: number, localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port, host: "127.0.0.1", noDelay: true, localAddress });
      socket.once("error", reject);
      socket.once("connect", () => resolve(new RawClient(socket)));
    });
  }

  /**
   * Opens a connection that is TLS from the first byte (XEP-0368) for `localhost`, offering
   * `alpn` (default `xmpp-client`; none when empty); rejects if the handshake fails. The
   * certificate is verified against `ca` (PEM) when given.
   */
  static connectDirectTls(
    port: number,
    options: { alpn?: string[]; ca?: string } = {},
  ): Promise<RawClient> {
    const alpn = options.alpn ?? ["xmpp-client"];
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({
        port,
        host: "127.0.0.1",
        servername: "localhost",
        ca: options.ca,
        rejectUnauthorized: options.ca !== undefined,
        ALPNProtocols: alpn.length > 0 ? alpn : undefined,
      });
      socket.once("error", reject);
      socket.once("secureConnect", () => resolve(new RawClient(socket)));
    });
  }

  /** The ALPN protocol the server chose, if any (false on a plain connection). */
  get alpnProtocol(): string | false | null {
    return "alpnProtocol" in this.#socket ? this.#socket.alpnProtocol : false;
  }

  /** Everything received so far. */
  get text(): string {
    return this.#received;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(text: string | Uint8Array): void {
    this.#socket.write(text);
  }

  /** Waits until the received text matches, or throws after `ms`. */
  async waitFor(pattern: RegExp | string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    const found = () =>
      typeof pattern === "string" ? this.#received.includes(pattern) : pattern.test(this.#received);
    while (!found()) {
      if (this.#closed) {
        throw new Error(`connection closed before ${pattern}; got: ${this.#received}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}; got: ${this.#received}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the server to close the connection. */
  async waitClosed(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.#closed) {
      if (Date.now() > deadline) throw new Error(`server did not close; got: ${this.#received}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Opens a stream, negotiates STARTTLS and opens the stream again over TLS. */
  async startTls(domain = "localhost"): Promise<void> {
    this.send(openStream(domain));
    await this.waitFor("<starttls");
    this.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await this.waitFor("<proceed");
    await this.upgradeToTls(domain);
  }

  /** After `<proceed/>`: the TLS handshake, then a new stream up to its features. */
  async upgradeToTls(domain = "localhost"): Promise<void> {
    const plain = this.#socket as Socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("end");
    const secure = tlsConnect({ socket: plain, servername: domain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    this.#socket = secure;
    this.#received = "";
    this.#listen(secure);
    this.send(openStream(domain));
    await this.waitFor("</stream:features>");
  }

  /** Logs in with SASL PLAIN (after `startTls`), restarts the stream and binds `resource`. */
  async login(username: string, password: string, resource = "raw"): Promise<void> {
    this.send(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${
        btoa(`\0${username}\0${password}`)
      }</auth>`,
    );
    await this.waitFor("<success");
    this.#received = "";
    this.send(openStream());
    await this.waitFor("</stream:features>");
    this.send(
      `<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>` +
        `<resource>${resource}</resource></bind></iq>`,
    );
    await this.waitFor("</iq>");
    this.#received = "";
  }

  /** Forgets what was received so far. */
  discard(): void {
    this.#received = "";
  }

  /** Sends, then resolves once the socket has taken it (waits for 'drain' when it is full). */
  sendPaced(text: string): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    if (this.#socket.write(text)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#socket.off("drain", done);
        this.#socket.off("close", done);
        resolve();
      };
      this.#socket.once("drain", done);
      this.#socket.once("close", done);
    });
  }

  /** Stops reading from the socket (the server's writes then pile up), or reads again. */
  pause(): void {
    pauseReading(this.#socket);
  }

  resume(): void {
    resumeReading(this.#socket);
  }

  close(): void {
    this.#socket.destroy();
  }

  #listen(socket: Socket | TLSSocket): void {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.#received += chunk;
      this.#wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** A client stream header. */
export function openStream(domain = "localhost"): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' ` +
    `xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;
}
