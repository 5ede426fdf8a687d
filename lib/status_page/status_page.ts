// The admin status page: `GET /admin/` and its style sheet, script and JSON, behind the same
// admin login as `/metrics` (lib/metrics/admin_auth.ts). The script polls /admin/status.json
// every second and plots the stanza rates of lib/status_page/history.ts on a canvas.
//
// Everything is same-origin and static except the JSON: `Content-Security-Policy:
// default-src 'self'` with nothing inline, no framing (X-Frame-Options, frame-ancestors), no
// sniffing, no caching of what an admin saw.
import type { HttpHandler } from "../http/server.ts";
import type { AdminAuth } from "../metrics/admin_auth.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from "./_assets.ts";
import type { RateHistory } from "./history.ts";

/** Headers of every answer under /admin/. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
};

/** What the page polls. */
export interface StatusJson {
  domain: string;
  /** The bare JID logged in. */
  admin: string;
  /** When the values were read, ms since the epoch. */
  time: number;
  /** Every metric by name ({@linkcode Metrics.snapshot}). */
  metrics: ReturnType<Metrics["snapshot"]>;
  /** Stanzas per second, one point a second, oldest first. */
  rates: { t: number; in: number; out: number }[];
  /** The span the plot shows, in seconds. */
  windowSeconds: number;
}

/** Options of {@linkcode statusPageHandler}. */
export interface StatusPageOptions {
  domain: string;
  metrics: Metrics;
  history: RateHistory;
  /** The points the history keeps (its span, in seconds). */
  windowSeconds: number;
  auth: AdminAuth;
  /** The HTTPS URL of the page, for those who come over plain HTTP. */
  httpsUrl?: string;
}

const FILES: Record<string, { type: string; body: string }> = {
  "/admin/": { type: "text/html; charset=utf-8", body: STATUS_HTML },
  "/admin/status.css": { type: "text/css; charset=utf-8", body: STATUS_CSS },
  "/admin/status.js": { type: "text/javascript; charset=utf-8", body: STATUS_JS },
};

/** The handler for the `/admin` prefix. */
export function statusPageHandler(options: StatusPageOptions): HttpHandler {
  return async (request, info) => {
    const path = info.url.pathname;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return answer(405, "text/plain; charset=utf-8", "Method Not Allowed\n", {
        allow: "GET, HEAD",
      });
    }
    if (path === "/admin") {
      return new Response(null, {
        status: 308,
        headers: { ...SECURITY_HEADERS, location: "/admin/" },
      });
    }
    const file = FILES[path];
    if (file === undefined && path !== "/admin/status.json") {
      return answer(404, "text/plain; charset=utf-8", "Not Found\n");
    }
    const check = await options.auth.check(request, info, options.httpsUrl);
    if (!check.ok) {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        check.response.headers.set(name, value);
      }
      return check.response;
    }
    if (file !== undefined) return answer(200, file.type, file.body);
    const status: StatusJson = {
      domain: options.domain,
      admin: check.jid,
      time: Date.now(),
      metrics: options.metrics.snapshot(),
      rates: [...options.history.points()],
      windowSeconds: options.windowSeconds,
    };
    return answer(200, "application/json; charset=utf-8", JSON.stringify(status));
  };
}

function answer(
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": type, ...headers },
  });
}
