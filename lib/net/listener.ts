// The c2s accept loop (RFC 6120 §3) with connection limits, on node:net: the c2s port, and
// optionally a second port for XMPP over direct TLS (XEP-0368).
//
// The listener owns its counters, shared by both ports: a connection is counted when accepted
// and uncounted when its Transport reports it released, which the transport does exactly once
// whatever ends the connection.
import { createServer, type Server, type Socket } from "node:net";
import { type DirectTls, Transport, type TransportLimits } from "./transport.ts";

export interface ListenerOptions {
  /** Who connects here, for error messages (default "clients"). */
  what?: string;
  hostname: string;
  port: number;
  /**
   * A second port, on the same address, whose connections are TLS from the first byte
   * (XEP-0368) with `secureContext`; they count against the same limits.
   */
  directTls?: { port: number } & DirectTls;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Bounds of each accepted connection (input shaping, send queue). */
  transportLimits: TransportLimits;
  /** Takes over an accepted connection. */
  accept(transport: Transport): void;
  /** Called when a connection is refused by a limit. */
  refused(address: string, reason: string): void;
}

/** Listening TCP sockets that hand each connection to `accept`. */
export class Listener {
  #servers: Server[] = [];
  #directTls: Server | undefined;
  #perIp = new Map<string, number>();
  #open = new Set<Transport>();

  private constructor() {}

  /** Starts listening; resolves once the port (and the direct-TLS port) is bound. */
  static async listen(options: ListenerOptions): Promise<Listener> {
    const listener = new Listener();
    const { hostname, directTls } = options;
    listener.#servers.push(
      await listenOn(options.what ?? "clients", { hostname, port: options.port }, (socket) => {
        listener.#connected(socket, options);
      }),
    );
    if (directTls === undefined) return listener;
    try {
      listener.#directTls = await listenOn(
        `${options.what ?? "clients"} over direct TLS (XEP-0368)`,
        // Not read from until the TLS socket is layered on, so no ClientHello is lost.
        { hostname, port: directTls.port, pauseOnConnect: true },
        (socket) => listener.#connected(socket, options, directTls),
      );
    } catch (error) {
      await listener.close();
      throw error;
    }
    listener.#servers.push(listener.#directTls);
    return listener;
  }

  /** The bound c2s port (useful when listening on port 0). */
  get port(): number {
    return boundPort(this.#servers[0]);
  }

  /** The bound direct-TLS port, or null without one. */
  get directTlsPort(): number | null {
    return this.#directTls === undefined ? null : boundPort(this.#directTls);
  }

  /** Open connections. */
  get connections(): number {
    return this.#open.size;
  }

  /** Open connections per remote address (only addresses with one or more). */
  get connectionsPerAddress(): ReadonlyMap<string, number> {
    return this.#perIp;
  }

  /** Stops accepting; existing connections are left to their owners. */
  async close(): Promise<void> {
    await Promise.all(
      this.#servers.map((server) => new Promise((resolve) => server.close(resolve))),
    );
  }

  /** Drops every connection still open (after their owners had their chance to close). */
  destroyAll(): void {
    for (const transport of [...this.#open]) transport.destroy();
  }

  #connected(socket: Socket, options: ListenerOptions, directTls?: DirectTls): void {
    const ip = socket.remoteAddress ?? "unknown";
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (this.#open.size >= options.maxConnections || fromIp >= options.maxConnectionsPerIp) {
      options.refused(
        ip,
        this.#open.size >= options.maxConnections ? "server full" : "too many from address",
      );
      socket.destroy();
      return;
    }
    this.#perIp.set(ip, fromIp + 1);
    const transport: Transport = new Transport(socket, options.transportLimits, () => {
      this.#open.delete(transport);
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left === 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, left);
    }, directTls);
    this.#open.add(transport);
    try {
      options.accept(transport);
    } catch (error) {
      transport.destroy();
      throw error;
    }
  }
}

/** A TCP server with Nagle off, listening on `hostname:port`; the error names `what` it is for. */
function listenOn(
  what: string,
  options: { hostname: string; port: number; pauseOnConnect?: boolean },
  connected: (socket: Socket) => void,
): Promise<Server> {
  const pauseOnConnect = options.pauseOnConnect ?? false;
  const server = createServer({ noDelay: true, pauseOnConnect }, connected);
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      reject(new Error(`Cannot listen for ${what}: ${error.message}`, { cause: error }));
    };
    server.once("error", failed);
    server.listen(options.port, options.hostname, () => {
      server.off("error", failed);
      resolve(server);
    });
  });
}

function boundPort(server: Server | undefined): number {
  const address = server?.address();
  return typeof address === "object" && address ? address.port : 0;
}
