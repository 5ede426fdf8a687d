// Discovering alternative connection methods, XEP-0156 §3 (HTTP lookup): the Web Host Metadata
// of RFC 6415 as XRD (`/.well-known/host-meta`, §3: MUST) and JRD (`/.well-known/host-meta.json`,
// SHOULD), readable from any origin (§4, CORS), so that web clients hosted elsewhere find the
// WebSocket endpoint from the domain alone.
import { corsHeaders, type HttpHandler, preflight } from "../http/mod.ts";
import { escapeAttr } from "../xml/escape.ts";

/** RFC 6415 §3: the XRD namespace. */
export const NS_XRD = "http://docs.oasis-open.org/ns/xri/xrd-1.0";
/** XEP-0156 §3.1: link relations. */
export const REL_WEBSOCKET = "urn:xmpp:alt-connections:websocket";
export const REL_BOSH = "urn:xmpp:alt-connections:xbosh";

/** One link of the host's metadata. */
export interface HostMetaLink {
  rel: string;
  href: string;
}

/** The paths served. */
export const HOST_META_PATH = "/.well-known/host-meta";
export const HOST_META_JSON_PATH = "/.well-known/host-meta.json";

/**
 * The XRD document.
 *
 * @example
 * ```ts
 * hostMetaXrd([{ rel: REL_WEBSOCKET, href: "wss://example.org:5281/xmpp-websocket" }]);
 * ```
 */
export function hostMetaXrd(links: readonly HostMetaLink[]): string {
  return `<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='${NS_XRD}'>\n` +
    links.map(({ rel, href }) => `  <Link rel='${escapeAttr(rel)}' href='${escapeAttr(href)}'/>\n`)
      .join("") +
    "</XRD>\n";
}

/** The JRD document (RFC 6415 Appendix A). */
export function hostMetaJson(links: readonly HostMetaLink[]): string {
  return JSON.stringify({ links: links.map(({ rel, href }) => ({ rel, href })) }, null, 2) + "\n";
}

const METHODS = ["GET", "HEAD", "OPTIONS"];

/**
 * The handler of both paths (routed at each). `links()` is asked at each request, so links that
 * appear later (a module started after this one) are listed.
 */
export function hostMetaHandler(links: () => readonly HostMetaLink[]): HttpHandler {
  return (request, { url }) => {
    if (request.method === "OPTIONS") return preflight(METHODS);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed\n", {
        status: 405,
        headers: { allow: METHODS.join(", "), ...corsHeaders(METHODS) },
      });
    }
    const json = url.pathname === HOST_META_JSON_PATH;
    const body = json ? hostMetaJson(links()) : hostMetaXrd(links());
    return new Response(request.method === "HEAD" ? null : body, {
      headers: {
        "content-type": json ? "application/json" : "application/xrd+xml; charset=utf-8",
        "cache-control": "max-age=300",
        ...corsHeaders(METHODS),
      },
    });
  };
}
