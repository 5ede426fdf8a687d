// The c2s accept loop (RFC 6120 §3) with connection limits, on node:net.
//
// The listener owns its counters: a connection is counted when accepted and
// uncounted when its Transport reports it released, which the transport does
// exactly once whatever ends the connection.
import { createServer, type Server, type Socket } from "node:net";
import { Transport, type TransportLimits } from "./transport.ts";

export interface ListenerOptions {
  hostname: string;
  port: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Bounds of each accepted connection (input shaping, send queue). */
  transportLimits: TransportLimits;
  /** Takes over an accepted connection. */
  accept(transport: Transport): void;
  /** Called when a connection is refused by a limit. */
  refused(address: string, reason: string): void;
}

/** A listening TCP socket that hands each connection to `accept`. */
export class Listener {
  #server: Server;
  #perIp = new Map<string, number>();
  #open = new Set<Transport>();

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Starts listening; resolves once the port is bound. */
  static listen(options: ListenerOptions): Promise<Listener> {
    const server = createServer({ noDelay: true, pauseOnConnect: false });
    const listener = new Listener(server);
    server.on("connection", (socket: Socket) => listener.#connected(socket, options));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.hostname, () => {
        server.off("error", reject);
        resolve(listener);
      });
    });
  }

  /** The bound port (useful when listening on port 0). */
  get port(): number {
    const address = this.#server.address();
    return typeof address === "object" && address ? address.port : 0;
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
  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Drops every connection still open (after their owners had their chance to close). */
  destroyAll(): void {
    for (const transport of [...this.#open]) transport.destroy();
  }

  #connected(socket: Socket, options: ListenerOptions): void {
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
    });
    this.#open.add(transport);
    try {
      options.accept(transport);
    } catch (error) {
      transport.destroy();
      throw error;
    }
  }
}
