// The built-in HTTP(S) server: Deno's own `Deno.serve` on a plain port and a TLS port, with the
// server's certificate. Modules add handlers under path prefixes (upload, WebSocket, host-meta,
// metrics); the longest matching prefix answers. Every request is counted against a per-address
// rate, so one client cannot keep the others (or the XMPP side) from being served.
import type { Counter } from "../metrics/metrics.ts";
import { KeyedBuckets, type Rate } from "../net/token_bucket.ts";

/** What a handler learns about the request besides the Request itself. */
export interface HttpRequestInfo {
  /** The client's IP address. */
  readonly remoteAddress: string;
  /** Whether it came over TLS. */
  readonly secure: boolean;
  readonly url: URL;
}

/** A route's handler; an exception becomes a 500 (and a log line). */
export type HttpHandler = (
  request: Request,
  info: HttpRequestInfo,
) => Response | Promise<Response>;

/** One listener: its port (0 picks a free one) and, for HTTPS, the certificate. */
export interface HttpListenerOptions {
  port: number;
  tls?: { certPem: string; keyPem: string };
}

export interface HttpServerOptions {
  hostname: string;
  listeners: readonly HttpListenerOptions[];
  /** Requests one address may make, per second and in a burst; past it, 429. */
  requestRate: Rate;
  log(line: string): void;
  /** Counts the answers by status code (label `status`), when given. */
  requests?: Counter;
}

/** The HTTP(S) listeners and their routes. */
export class HttpServer {
  #routes: { prefix: string; handler: HttpHandler }[] = [];
  #servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  #ports: { port: number; secure: boolean }[] = [];
  #rate: KeyedBuckets;
  #log: (line: string) => void;
  #requests: Counter | undefined;
  #statusLabels = new Map<number, readonly string[]>();

  private constructor(options: HttpServerOptions) {
    this.#rate = new KeyedBuckets(options.requestRate);
    this.#log = options.log;
    this.#requests = options.requests;
  }

  /** Starts every listener; resolves once all are bound. */
  static async listen(options: HttpServerOptions): Promise<HttpServer> {
    const server = new HttpServer(options);
    try {
      for (const listener of options.listeners) {
        const secure = listener.tls !== undefined;
        const { promise, resolve } = Promise.withResolvers<number>();
        const served = Deno.serve({
          hostname: options.hostname,
          port: listener.port,
          ...(listener.tls ? { cert: listener.tls.certPem, key: listener.tls.keyPem } : {}),
          onListen: (address) => resolve(address.port),
          onError: (error) => {
            server.#log(`http: ${error instanceof Error ? error.stack : error}`);
            return new Response("Internal Server Error", { status: 500 });
          },
          handler: (request, info) =>
            server.#count(server.#handle(request, info.remoteAddr.hostname, secure)),
        });
        server.#servers.push(served);
        server.#ports.push({ port: await promise, secure });
      }
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  /** The bound plain port, or null without one. */
  get port(): number | null {
    return this.#ports.find((listener) => !listener.secure)?.port ?? null;
  }

  /** The bound TLS port, or null without one. */
  get securePort(): number | null {
    return this.#ports.find((listener) => listener.secure)?.port ?? null;
  }

  /**
   * Answers requests whose path is `prefix` or starts with it followed by `/` (a prefix ending
   * in `/` matches anything under it).
   */
  route(prefix: string, handler: HttpHandler): void {
    this.#routes.push({ prefix, handler });
    this.#routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  async #count(answer: Promise<Response>): Promise<Response> {
    const response = await answer;
    if (this.#requests !== undefined) {
      let labels = this.#statusLabels.get(response.status);
      if (labels === undefined) {
        this.#statusLabels.set(response.status, labels = [String(response.status)]);
      }
      this.#requests.inc(labels);
    }
    return response;
  }

  async #handle(request: Request, remoteAddress: string, secure: boolean): Promise<Response> {
    if (!this.#rate.tryTake(remoteAddress)) {
      return new Response("Too Many Requests\n", {
        status: 429,
        headers: { "retry-after": "1" },
      });
    }
    const url = new URL(request.url);
    const path = url.pathname;
    const route = this.#routes.find(({ prefix }) =>
      path === prefix || path.startsWith(prefix.endsWith("/") ? prefix : prefix + "/")
    );
    if (route === undefined) return new Response("Not Found\n", { status: 404 });
    try {
      return await route.handler(request, { remoteAddress, secure, url });
    } catch (error) {
      this.#log(
        `http: ${request.method} ${path}: ${error instanceof Error ? error.stack : error}`,
      );
      return new Response("Internal Server Error\n", { status: 500 });
    }
  }

  /** Stops listening; requests in progress are let finish (WebSockets are the routes' job). */
  async close(): Promise<void> {
    await Promise.all(this.#servers.map((server) => server.shutdown().catch(() => {})));
    this.#servers = [];
  }
}
