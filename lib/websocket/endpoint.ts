// The HTTP side of XMPP over WebSocket: RFC 7395 §3.1 (the handshake with subprotocol "xmpp"),
// RFC 6455 §4.2.2 (refusing it), and the connection counts, in all and per address, checked
// before a socket is upgraded.
import type { HttpHandler } from "../http/mod.ts";
import type { ClientTransport } from "../net/transport.ts";
import { forwardedClient } from "./forwarded.ts";
import { type WebSocketLimits, WebSocketTransport } from "./transport.ts";

/** RFC 7395 §3.1: the WebSocket subprotocol of XMPP. */
export const SUBPROTOCOL = "xmpp";

export interface EndpointOptions {
  limits: WebSocketLimits;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Seconds between the server's pings; a client that does not answer one is dropped. */
  idleTimeoutSeconds: number;
  /** Count every connection as confidential (a TLS-terminating proxy in front). */
  considerSecure: boolean;
  /** Addresses whose X-Forwarded-For and X-Forwarded-Proto are believed. */
  trustedProxies: ReadonlySet<string>;
  /** Hands a connection to the server (ServerInfo.acceptClient). */
  accept: ((transport: ClientTransport) => void) | undefined;
  log(line: string): void;
}

/** The open WebSocket connections of one endpoint, with the handler that opens them. */
export class WebSocketEndpoint {
  #options: EndpointOptions;
  #open = new Set<WebSocketTransport>();
  #perAddress = new Map<string, number>();
  #stopped = false;

  constructor(options: EndpointOptions) {
    this.#options = options;
  }

  /** Open connections. */
  get connections(): number {
    return this.#open.size;
  }

  /** The route's handler. */
  readonly handle: HttpHandler = (request, info) => {
    const options = this.#options;
    const client = forwardedClient(
      request.headers,
      { address: info.remoteAddress, secure: info.secure },
      options.trustedProxies,
    );
    const secure = client.secure || options.considerSecure;
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return text(405, "Method Not Allowed\n", { allow: "GET" });
      }
      // As Prosody does: a person opening the URL learns what it is (and a proxy's admin that
      // it is reached).
      return text(
        200,
        'XMPP over WebSocket (RFC 7395): connect a WebSocket client with subprotocol "xmpp".\n' +
          (secure ? "" : "This connection is not considered secure: PLAIN is not offered.\n"),
      );
    }
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",")
      .map((token) => token.trim());
    if (!offered.includes(SUBPROTOCOL)) {
      // RFC 6455 §4.2.2: a server that does not accept the connection answers with an HTTP
      // error; RFC 7395 §3.1 has clients give up on a handshake without "xmpp" anyway.
      return text(400, `Bad Request: offer the WebSocket subprotocol "${SUBPROTOCOL}"\n`);
    }
    if (this.#stopped || options.accept === undefined) {
      return text(503, "Service Unavailable: the server is not accepting connections\n");
    }
    if (this.#open.size >= options.maxConnections) {
      options.log(`websocket: refused ${client.address}: max_connections reached`);
      return text(503, "Service Unavailable: too many connections\n", { "retry-after": "10" });
    }
    const count = this.#perAddress.get(client.address) ?? 0;
    if (count >= options.maxConnectionsPerIp) {
      options.log(`websocket: refused ${client.address}: max_connections_per_ip reached`);
      return text(429, "Too Many Requests: too many connections from your address\n", {
        "retry-after": "10",
      });
    }
    let upgraded;
    try {
      upgraded = Deno.upgradeWebSocket(request, {
        protocol: SUBPROTOCOL,
        idleTimeout: options.idleTimeoutSeconds,
      });
    } catch (error) {
      return text(400, `Bad Request: ${error instanceof Error ? error.message : error}\n`);
    }
    const { socket, response } = upgraded;
    this.#perAddress.set(client.address, count + 1);
    const transport: WebSocketTransport = new WebSocketTransport(socket, {
      remoteAddress: client.address,
      encrypted: secure,
      limits: options.limits,
      released: () => {
        this.#open.delete(transport);
        const left = (this.#perAddress.get(client.address) ?? 1) - 1;
        if (left > 0) this.#perAddress.set(client.address, left);
        else this.#perAddress.delete(client.address);
      },
    });
    this.#open.add(transport);
    options.accept(transport);
    return response;
  };

  /** Refuses new connections and closes the open ones (their streams see them close). */
  stop(): void {
    this.#stopped = true;
    for (const transport of [...this.#open]) transport.destroy();
  }
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}
