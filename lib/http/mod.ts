// The HTTP(S) server as a module: `[http]` chooses its ports, bind address and public URL, and
// every module that serves HTTP (upload, WebSocket, host-meta, metrics) depends on it and adds
// its routes through the API.
/**
 * On by default, as in ejabberd: the services browsers and phones expect (file upload, the
 * WebSocket endpoint and its discovery) live here. The TLS port uses the c2s certificate.
 *
 * @module
 */
import { address, integer, invalid, portOrOff } from "../config/values.ts";
import type { NamedModule } from "../modules/module.ts";
import { type HttpHandler, type HttpListenerOptions, HttpServer } from "./server.ts";

export { type HttpHandler, type HttpRequestInfo, HttpServer } from "./server.ts";
export { corsHeaders, preflight } from "./cors.ts";

/** `[http]` options. */
export interface HttpConfig {
  /** Plain HTTP port (for a reverse proxy in front, or local use); null: none. 0: a free one. */
  port: number | null;
  /** HTTPS port, with the server's certificate; null: none. 0: a free one. */
  httpsPort: number | null;
  bind: string;
  /**
   * The public base URL of the HTTP services (links in upload slots, host-meta), without a
   * trailing slash; "" derives it: https://<domain>:<https_port>, or http:// when only plain.
   */
  externalUrl: string;
  /** Requests per second one address may make, and its burst. */
  requestsPerSecond: number;
  requestBurst: number;
}

/** What the module offers the modules that serve HTTP. */
export interface HttpApi {
  /** Adds a handler for a path prefix (see {@linkcode HttpServer.route}). */
  route(prefix: string, handler: HttpHandler): void;
  /** The public URL of a path (`/upload/x` → `https://example.org:5281/upload/x`). */
  url(path: string): string;
  /** The bound ports (the configured ones, or those picked for 0). */
  readonly port: number | null;
  readonly securePort: number | null;
}

/** The module. */
export const HTTP_MODULE: NamedModule<"http", HttpConfig, HttpApi> = {
  name: "http",
  description: "The built-in HTTP(S) server for upload, WebSocket, host-meta and metrics",
  dependsOn: [],
  options: {
    port: { default: 5280, read: portOrOff },
    httpsPort: { default: 5281, read: portOrOff },
    bind: { default: "0.0.0.0", read: address },
    externalUrl: {
      default: "",
      read: (key, value) => {
        if (
          typeof value !== "string" || (value !== "" && !/^https?:\/\/[^/]+(\/.*)?$/.test(value))
        ) {
          invalid(key, "an http:// or https:// URL", value);
        }
        return value.replace(/\/+$/, "");
      },
    },
    requestsPerSecond: { default: 50, read: (key, value) => integer(key, value, 1, 1_000_000) },
    requestBurst: { default: 200, read: (key, value) => integer(key, value, 1, 1_000_000) },
  },
  async start({ config, server, log, metrics }) {
    const listeners: HttpListenerOptions[] = [];
    if (config.port !== null) listeners.push({ port: config.port });
    if (config.httpsPort !== null) {
      if (server.certificate === undefined) throw new Error("http: HTTPS needs the certificate");
      listeners.push({ port: config.httpsPort, tls: server.certificate });
    }
    const http = await HttpServer.listen({
      hostname: config.bind,
      listeners,
      requestRate: { perSecond: config.requestsPerSecond, burst: config.requestBurst },
      log,
      requests: metrics.counter("verona_http_requests", "HTTP requests answered, by status code", [
        "status",
      ]),
    });
    // Without any listener here, only an external URL (a proxy elsewhere) can reach the routes.
    const base = config.externalUrl ||
      (http.securePort !== null
        ? `https://${server.domain}:${http.securePort}`
        : http.port !== null
        ? `http://${server.domain}:${http.port}`
        : `https://${server.domain}`);
    const ports = [
      http.port === null ? "" : `http ${config.bind}:${http.port}`,
      http.securePort === null ? "" : `https ${config.bind}:${http.securePort}`,
    ].filter(Boolean);
    log(
      ports.length > 0
        ? `http: ${ports.join(", ")} (public URL ${base})`
        : `http: no listener (port and https_port are off)`,
    );
    return {
      api: {
        route: (prefix, handler) => http.route(prefix, handler),
        url: (path) => base + (path.startsWith("/") ? path : "/" + path),
        port: http.port,
        securePort: http.securePort,
      },
      stop: () => http.close(),
    };
  },
};
