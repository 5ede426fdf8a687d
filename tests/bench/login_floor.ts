// The floor of a login in Deno: a server that does what a login costs the socket and TLS layers,
// and nothing of XMPP. It answers exactly the exchanges of tests/bench/_bench_client.ts (stream
// headers, STARTTLS, SCRAM-SHA-1, bind, presence, ping) with fixed replies, over the path Verona
// uses (node:net, STARTTLS into a node:tls TLSSocket with one shared secure context, Nagle off),
// with the project's SCRAM server (lib/sasl) and nothing else: no XML parser (the client's
// elements are found with indexOf), no router, no storage, no limits. Every account has the same
// password. What a login costs it is what any server in Deno pays before doing XMPP work:
// `deno task bench:compare --servers floor,verona,ejabberd` shows it beside the others.
//
//   deno run -A tests/bench/login_floor.ts --cert C --key K --password PW [--port 0]
//
// Prints "... listening on 127.0.0.1:PORT for localhost" when ready, as Verona's start line.
import { createServer, type Socket } from "node:net";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
import { deriveScramCredentials } from "../../lib/sasl/scram.ts";
import { createScramServer } from "../../lib/sasl/scram_server.ts";
import type { SaslServerMechanism } from "../../lib/sasl/mechanism.ts";
import type { ScramCredentials } from "../../lib/sasl/credentials.ts";

const DOMAIN = "localhost";
const STREAM_HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' ` +
  `xmlns:stream='http://etherx.jabber.org/streams' from='${DOMAIN}' version='1.0' xml:lang='en'`;
const FEATURES_TLS = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>" +
  "<required/></starttls></stream:features>";
const FEATURES_SASL = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
  "<mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
const FEATURES_BIND = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>" +
  "</stream:features>";
const SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl";

/** One connection: what has arrived and not been answered, and where the login stands. */
class FloorConnection {
  #socket: Socket | TLSSocket;
  #pending = "";
  #streams = 0;
  #scram: SaslServerMechanism | undefined;
  #username = "";
  #busy = false;

  constructor(
    socket: Socket,
    readonly context: SecureContext,
    readonly credentials: ScramCredentials,
  ) {
    this.#socket = socket;
    socket.setNoDelay(true);
    this.#listen(socket);
  }

  #listen(socket: Socket | TLSSocket): void {
    socket.on("data", (chunk: Buffer) => {
      this.#pending += chunk.toString("utf8");
      this.#drain();
    });
    socket.on("error", () => socket.destroy());
  }

  /** Answers every complete element that has arrived, one at a time (SCRAM awaits). */
  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#pending !== "") {
        const used = await this.#answer(this.#pending);
        if (used === 0) break;
        this.#pending = this.#pending.slice(used);
      }
    } catch {
      this.#socket.destroy();
    } finally {
      this.#busy = false;
    }
  }

  /** Handles the element at the start of `text`; returns its length, 0 if it is incomplete. */
  async #answer(text: string): Promise<number> {
    if (text.startsWith("<?xml") || text.startsWith("<stream:stream")) {
      const end = text.indexOf(">", text.indexOf("<stream:stream"));
      if (end < 0) return 0;
      this.#streams++;
      const features = this.#streams === 1
        ? FEATURES_TLS
        : this.#username === ""
        ? FEATURES_SASL
        : FEATURES_BIND;
      this.#write(`${STREAM_HEADER} id='f${this.#streams}'>${features}`);
      return end + 1;
    }
    const end = elementEnd(text);
    if (end === 0) return 0;
    const element = text.slice(0, end);
    if (element.startsWith("<starttls")) {
      this.#startTls();
      return end;
    }
    if (element.startsWith("<auth") || element.startsWith("<response")) {
      const payload = element.slice(element.indexOf(">") + 1, element.lastIndexOf("<"));
      this.#scram ??= createScramServer("SHA-1", {
        scram: (username) => {
          this.#username = username;
          return Promise.resolve(this.credentials);
        },
      });
      const step = await this.#scram.step(
        payload === "" || payload === "=" ? null : Buffer.from(payload, "base64"),
      );
      if (step.kind === "failure") {
        this.#write(`<failure xmlns='${SASL_NS}'><${step.condition}/></failure>`);
        this.#username = "";
      } else {
        const data = step.data === undefined ? "" : Buffer.from(step.data).toString("base64");
        this.#write(`<${step.kind} xmlns='${SASL_NS}'>${data}</${step.kind}>`);
      }
      return end;
    }
    if (element.startsWith("<iq")) {
      const id = /id='([^']*)'/.exec(element)?.[1] ?? "";
      const jid = `${this.#username}@${DOMAIN}/floor`;
      this.#write(
        element.includes("urn:ietf:params:xml:ns:xmpp-bind")
          ? `<iq type='result' id='${id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>` +
            `<jid>${jid}</jid></bind></iq>`
          : `<iq type='result' id='${id}' from='${DOMAIN}' to='${jid}'/>`,
      );
      return end;
    }
    if (element.startsWith("<presence")) {
      // As a server does with initial presence: back to the user's own resource (RFC 6121 §4.2.2).
      const jid = `${this.#username}@${DOMAIN}/floor`;
      this.#write(`<presence from='${jid}' to='${jid}'/>`);
      return end;
    }
    if (element.startsWith("</stream:stream")) {
      this.#socket.end("</stream:stream>");
      return end;
    }
    return end; // anything else is read and ignored
  }

  /** As lib/net/transport.ts: pause, answer, then wrap, so no ClientHello is read as text. */
  #startTls(): void {
    const plain = this.#socket as Socket;
    plain.removeAllListeners("data");
    plain.pause();
    plain.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", () => {
      const tls = new TLSSocket(plain, { isServer: true, secureContext: this.context });
      this.#socket = tls;
      this.#pending = "";
      this.#listen(tls);
      plain.resume();
    });
  }

  #write(text: string): void {
    if (!this.#socket.destroyed) this.#socket.write(text);
  }
}

/**
 * Where the element at the start of `text` ends: after `/>` of an empty element or after its
 * closing tag (the client's elements never nest one of the same name); 0 if not all there.
 */
function elementEnd(text: string): number {
  const open = text.indexOf(">");
  if (open < 0) return 0;
  if (text[open - 1] === "/") return open + 1;
  const name = /^<([^\s>/]+)/.exec(text)?.[1];
  if (name === undefined) return open + 1;
  const close = text.indexOf(`</${name}>`, open);
  return close < 0 ? 0 : close + name.length + 3;
}

/** A running floor server. */
export interface LoginFloor {
  port: number;
  close(): Promise<void>;
}

/** Starts the floor on 127.0.0.1 (`port` 0: any free one) with one password for every account. */
export async function startLoginFloor(
  options: { certPem: string; keyPem: string; password: string; port?: number },
): Promise<LoginFloor> {
  const context = createSecureContext({ cert: options.certPem, key: options.keyPem });
  const credentials = await deriveScramCredentials(options.password, { hash: "SHA-1" });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    new FloorConnection(socket, context, credentials);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : 0,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      cert: { type: "string" },
      key: { type: "string" },
      password: { type: "string" },
      port: { type: "string" },
    },
    strict: true,
  });
  if (values.cert === undefined || values.key === undefined || values.password === undefined) {
    throw new Error("login_floor.ts needs --cert, --key and --password");
  }
  const floor = await startLoginFloor({
    certPem: await Deno.readTextFile(values.cert),
    keyPem: await Deno.readTextFile(values.key),
    password: values.password,
    port: Number(values.port ?? 0),
  });
  console.log(`login floor listening on 127.0.0.1:${floor.port} for ${DOMAIN}`);
}

if (import.meta.main) await main(Deno.args);
