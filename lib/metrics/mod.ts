// Operations: `GET /metrics` in the OpenMetrics text format (or Prometheus 0.0.4 when asked)
// and the admin status page at /admin/, as a module on the built-in HTTP server. After
// Prosody's mod_http_openmetrics (open to `openmetrics_allow_ips`, loopback by default), with
// what it lacks: an admin's login from anywhere else, over HTTPS.
/**
 * On by default: from loopback `/metrics` answers anyone (a scraper on the same host); from
 * elsewhere it and the status page need an admin account's password (HTTP Basic, RFC 7617),
 * accepted only over TLS or from loopback. The module also times the database's commits
 * (`verona_sqlite_commit_seconds`).
 *
 * @module
 */
import { boolean, invalid } from "../config/values.ts";
import type { HttpApi } from "../http/mod.ts";
import type { HttpHandler } from "../http/server.ts";
import type { NamedModule } from "../modules/module.ts";
import { observeCommits } from "../storage/sql.ts";
import { RateHistory, statusPageHandler } from "../status_page/mod.ts";
import { AdminAuth, isForwarded } from "./admin_auth.ts";
import { AddressList, parsePrefix } from "./ip_allow.ts";
import { CONTENT_TYPES, type Metrics, negotiateFormat } from "./metrics.ts";

export {
  CONTENT_TYPES,
  Counter,
  type ExpositionFormat,
  type Gauge,
  type LabelValues,
  Metrics,
  negotiateFormat,
  type Sample,
  Timing,
} from "./metrics.ts";
export { AdminAuth, type AdminAuthOptions, type AdminCheck, decodeBasic } from "./admin_auth.ts";
export { AddressList, isLoopback, parsePrefix } from "./ip_allow.ts";

/** `[metrics]` options. */
export interface MetricsConfig {
  /** Addresses and CIDR prefixes that may read /metrics without logging in. */
  allowIps: string[];
  /** Whether /admin/ (the status page) is served. */
  statusPage: boolean;
}

/** Seconds of stanza rates the status page plots. */
export const STATUS_WINDOW_SECONDS = 300;

function addresses(key: string, value: unknown): string[] {
  if (!Array.isArray(value)) {
    invalid(key, 'an array of IP addresses or prefixes such as ["127.0.0.1", "10.0.0.0/8"]', value);
  }
  return value.map((item: unknown, i) => {
    if (typeof item !== "string" || parsePrefix(item) === null) {
      invalid(`${key}[${i}]`, 'an IP address or CIDR prefix such as "10.0.0.0/8"', item);
    }
    return item;
  });
}

/** The `/metrics` handler: open to `allow`, otherwise to admins. */
export function metricsHandler(
  options: { metrics: Metrics; allow: AddressList; auth: AdminAuth; httpsUrl?: string },
): HttpHandler {
  return async (request, info) => {
    const headers = { "cache-control": "no-store", "x-content-type-options": "nosniff" };
    if (info.url.pathname !== "/metrics") {
      return new Response("Not Found\n", { status: 404, headers });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed\n", {
        status: 405,
        headers: { ...headers, allow: "GET, HEAD" },
      });
    }
    // Through a proxy the peer is the proxy, not the client: its address proves nothing.
    if (!options.allow.has(info.remoteAddress) || isForwarded(request)) {
      const check = await options.auth.check(request, info, options.httpsUrl);
      if (!check.ok) return check.response;
    }
    const format = negotiateFormat(request.headers.get("accept"));
    return new Response(options.metrics.render(format), {
      headers: { ...headers, "content-type": CONTENT_TYPES[format], vary: "accept" },
    });
  };
}

/** The module. */
export const METRICS_MODULE: NamedModule<"metrics", MetricsConfig, void, { http: HttpApi }> = {
  name: "metrics",
  description: "OpenMetrics at /metrics (Prometheus) and the admin status page at /admin/",
  dependsOn: ["http"],
  enabledByDefault: true,
  options: {
    allowIps: { default: ["127.0.0.1", "::1"], read: addresses },
    statusPage: { default: true, read: boolean },
  },
  start({ config, server, accounts, metrics, modules, db, log }) {
    const http = modules.http;
    metrics.reportErrorsTo((name, error) =>
      log(`metrics: cannot read ${name}: ${error instanceof Error ? error.message : error}`)
    );
    const commits = metrics.timing(
      "verona_sqlite_commit_seconds",
      "Time spent in SQLite COMMIT (transactions of the stores, write batches included)",
    );
    observeCommits(db, (seconds) => commits.observe(seconds));
    const auth = new AdminAuth({ accounts, domain: server.domain, admins: server.admins });
    // Where to send someone who came over plain HTTP (when the public URL is an HTTPS one).
    const httpsUrl = (path: string) =>
      http.url(path).startsWith("https:") ? http.url(path) : undefined;
    http.route(
      "/metrics",
      metricsHandler({
        metrics,
        allow: new AddressList(config.allowIps),
        auth,
        httpsUrl: httpsUrl("/metrics"),
      }),
    );
    const history = new RateHistory(metrics, { length: STATUS_WINDOW_SECONDS });
    if (config.statusPage) {
      history.start();
      http.route(
        "/admin",
        statusPageHandler({
          domain: server.domain,
          metrics,
          history,
          windowSeconds: STATUS_WINDOW_SECONDS,
          auth,
          httpsUrl: httpsUrl("/admin/"),
        }),
      );
    }
    const open = config.allowIps.length > 0 ? ` (open to ${config.allowIps.join(", ")})` : "";
    log(
      `metrics: ${http.url("/metrics")}${open}${
        config.statusPage ? ", status page at /admin/" : ""
      }`,
    );
    return {
      stop: () => {
        history.stop();
        observeCommits(db, undefined);
      },
    };
  },
};
