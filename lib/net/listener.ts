// The c2s accept loop (RFC 6120 §3) with connection limits, on node:net.
import { createServer, type Server, type Socket } from "node:net";
import { Transport } from "./transport.ts";

export interface ListenerOptions {
  hostname: string;
  port: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Takes over an accepted connection. */
  accept(transport: Transport): void;
  /** Called when a connection is refused by a limit. */
  refused(address: string, reason: string): void;
}

/** A listening TCP socket that hands each connection to `accept`. */
export class Listener {
  #server: Server;
  #perIp = new Map<string, number>();
  #open = 0;

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
    return this.#open;
  }

  /** Stops accepting; existing connections are left to their owners. */
  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #connected(socket: Socket, options: ListenerOptions): void {
    const ip = socket.remoteAddress ?? "unknown";
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (this.#open >= options.maxConnections || fromIp >= options.maxConnectionsPerIp) {
      options.refused(
        ip,
        this.#open >= options.maxConnections ? "server full" : "too many from address",
      );
      socket.destroy();
      return;
    }
    this.#open++;
    this.#perIp.set(ip, fromIp + 1);
    socket.once("close", () => {
      this.#open--;
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left === 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, left);
    });
    options.accept(new Transport(socket));
  }
}
