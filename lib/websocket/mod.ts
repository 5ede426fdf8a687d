// XMPP over WebSocket (RFC 7395) as a server module, section [websocket]: the endpoint
// (endpoint.ts) on the HTTP(S) server of the `http` module, connections (transport.ts) handed
// to the server's c2s streams, the framing of framing.ts.
/**
 * On by default, as the `http` module is: browser clients (Converse.js, Movim, any Strophe.js
 * client) reach the server only this way. Its URL is `http.url(path)` with `wss://`, which the
 * `host_meta` module publishes (XEP-0156).
 *
 * @module
 */
import { address, boolean, integer, invalid } from "../config/values.ts";
import type { HttpApi } from "../http/mod.ts";
import type { NamedModule } from "../modules/module.ts";
import { WebSocketEndpoint } from "./endpoint.ts";

export { NS_FRAMING, OutgoingFramer, translateIncoming } from "./framing.ts";
export { SUBPROTOCOL, WebSocketEndpoint } from "./endpoint.ts";
export { type WebSocketLimits, WebSocketTransport } from "./transport.ts";
export { forwardedClient } from "./forwarded.ts";

/** `[websocket]` options. */
export interface WebSocketConfig {
  /** The endpoint's path on the HTTP(S) server. */
  path: string;
  /** Count plain ws:// connections as confidential (a TLS-terminating proxy in front). */
  considerSecure: boolean;
  /** Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed. */
  trustedProxies: string[];
  maxMessageBytes: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxSendQueueBytes: number;
  /** Seconds between pings; 0: none. */
  idleTimeoutSeconds: number;
}

/** What the module offers: where it is reached, for host-meta. */
export interface WebSocketApi {
  /** The public URL, `wss://…/xmpp-websocket` (`ws://` when the public URL is plain http). */
  readonly url: string;
  /** Open connections. */
  readonly connections: number;
}

/**
 * Before authentication, the core's default pre-auth rate (`limits.preauth_rate_bytes`,
 * `preauth_burst_bytes`); the stream sets its own c2s rate once the client has logged in.
 */
const PREAUTH_RATE = { perSecond: 10 * 1024, burst: 64 * 1024 };

function path(key: string, value: unknown): string {
  if (typeof value !== "string" || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(value)) {
    invalid(key, 'a URL path such as "/xmpp-websocket"', value);
  }
  return value.length > 1 ? value.replace(/\/+$/, "") : value;
}

function addresses(key: string, value: unknown): string[] {
  if (!Array.isArray(value)) invalid(key, 'an array of IP addresses such as ["127.0.0.1"]', value);
  return value.map((item: unknown, i) => address(`${key}[${i}]`, item).toLowerCase());
}

/** The module. */
export const WEBSOCKET_MODULE: NamedModule<
  "websocket",
  WebSocketConfig,
  WebSocketApi,
  { http: HttpApi }
> = {
  name: "websocket",
  description: "XMPP over WebSocket (RFC 7395) for browser clients, on the HTTP(S) server",
  dependsOn: ["http"],
  options: {
    path: { default: "/xmpp-websocket", read: path },
    considerSecure: { default: false, read: boolean },
    trustedProxies: { default: ["127.0.0.1", "::1"], read: addresses },
    maxMessageBytes: {
      default: 262_144,
      read: (key, value) => integer(key, value, 1024, 2 ** 30),
    },
    maxConnections: { default: 10_000, read: (key, value) => integer(key, value, 1, 10_000_000) },
    maxConnectionsPerIp: {
      default: 200,
      read: (key, value) => integer(key, value, 1, 10_000_000),
    },
    maxSendQueueBytes: {
      default: 2 * 1024 * 1024,
      read: (key, value) => integer(key, value, 65_536, 2 ** 40),
    },
    idleTimeoutSeconds: { default: 60, read: (key, value) => integer(key, value, 0, 86_400) },
  },
  check(config) {
    if (config.maxConnectionsPerIp > config.maxConnections) {
      invalid(
        "websocket.max_connections_per_ip",
        `at most websocket.max_connections (${config.maxConnections})`,
        config.maxConnectionsPerIp,
      );
    }
  },
  start({ config, server, modules, log }) {
    const endpoint = new WebSocketEndpoint({
      limits: {
        maxMessageBytes: config.maxMessageBytes,
        // A few messages may wait for the input rate; more is a flood.
        maxBacklogBytes: Math.max(4 * config.maxMessageBytes, 1024 * 1024),
        maxSendQueueBytes: config.maxSendQueueBytes,
        inputRate: PREAUTH_RATE,
      },
      maxConnections: config.maxConnections,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      idleTimeoutSeconds: config.idleTimeoutSeconds,
      considerSecure: config.considerSecure,
      trustedProxies: new Set(config.trustedProxies),
      accept: server.acceptClient,
      log,
    });
    modules.http.route(config.path, endpoint.handle);
    const url = modules.http.url(config.path).replace(/^http/, "ws");
    log(`websocket: ${url}`);
    return {
      api: {
        url,
        get connections() {
          return endpoint.connections;
        },
      },
      stop: () => endpoint.stop(),
    };
  },
};
