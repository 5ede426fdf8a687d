// Web Host Metadata (XEP-0156 §3) as a server module, section [host_meta]: the WebSocket
// endpoint of the `websocket` module when it runs, and the links the configuration adds.
/**
 * Its own module, not part of `websocket`: host-meta lists every alternative connection method
 * (BOSH, another WebSocket endpoint behind a proxy), and a deployment may want one without the
 * other (a web client served elsewhere that is given its URL, or a proxy that answers
 * host-meta itself).
 *
 * @module
 */
import { boolean, invalid, subTable } from "../config/values.ts";
import type { HttpApi } from "../http/mod.ts";
import type { NamedModule } from "../modules/module.ts";
import type { WebSocketApi } from "../websocket/mod.ts";
import {
  HOST_META_JSON_PATH,
  HOST_META_PATH,
  hostMetaHandler,
  type HostMetaLink,
  REL_WEBSOCKET,
} from "./host_meta.ts";

export * from "./host_meta.ts";

/** `[host_meta]` options. */
export interface HostMetaConfig {
  /** Listed besides the WebSocket endpoint (e.g. BOSH, or a proxy's own URL). */
  links: HostMetaLink[];
  /** List the `websocket` module's endpoint (when it runs). */
  websocket: boolean;
}

function readLinks(key: string, value: unknown): HostMetaLink[] {
  if (!Array.isArray(value)) {
    invalid(key, 'an array of tables such as [{ rel = "…", href = "https://…" }]', value);
  }
  return value.map((item: unknown, i) => {
    const entry = subTable(`${key}[${i}]`, item);
    for (const name of Object.keys(entry)) {
      if (name !== "rel" && name !== "href") invalid(`${key}[${i}].${name}`, "rel or href", name);
    }
    if (typeof entry.rel !== "string" || !/^\S+$/.test(entry.rel)) {
      invalid(
        `${key}[${i}].rel`,
        'a link relation such as "urn:xmpp:alt-connections:xbosh"',
        entry.rel,
      );
    }
    if (typeof entry.href !== "string" || !/^(https|wss):\/\/[^\s/]+/.test(entry.href)) {
      // XEP-0156 §3.2: only URLs protected by TLS.
      invalid(`${key}[${i}].href`, "an https:// or wss:// URL", entry.href);
    }
    return { rel: entry.rel, href: entry.href };
  });
}

/** The module. */
export const HOST_META_MODULE: NamedModule<
  "host_meta",
  HostMetaConfig,
  void,
  { http: HttpApi; websocket: WebSocketApi | undefined }
> = {
  name: "host_meta",
  description: "Web Host Metadata (XEP-0156): where web clients find the WebSocket endpoint",
  dependsOn: ["http"],
  uses: ["websocket"],
  options: {
    links: { default: [], read: readLinks },
    websocket: { default: true, read: boolean },
  },
  start({ config, modules, log }) {
    const links: HostMetaLink[] = [];
    const websocket = modules.websocket?.url;
    if (config.websocket && websocket !== undefined) {
      // XEP-0156 §3.2: clients use only wss:// URLs, so a plain one is not listed.
      if (websocket.startsWith("wss://")) links.push({ rel: REL_WEBSOCKET, href: websocket });
      else log(`host_meta: not listing ${websocket} (XEP-0156 lists only wss:// URLs)`);
    }
    links.push(...config.links);
    const handler = hostMetaHandler(() => links);
    modules.http.route(HOST_META_PATH, handler);
    modules.http.route(HOST_META_JSON_PATH, handler);
  },
};
