// External Service Discovery (XEP-0215) on the server's domain: §3.1 all services, §3.2 services
// of one type, §3.3 credentials for one service, §5 the disco#info feature; no pushes (§3.2 MAY),
// since the list only changes with the configuration. Both urn:xmpp:extdisco:2 and the
// namespace of version 0.6, urn:xmpp:extdisco:1, are answered, each in its own namespace, as
// Prosody does: clients written against 0.6 (older Jitsi Meet) ask with :1.
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import { type TurnCredentials, turnCredentials } from "./credentials.ts";
import type { ExternalService } from "./_options.ts";

/** Options for {@linkcode externalServicesModule}. */
export interface ExternalServicesModuleOptions {
  /** coturn's static-auth-secret; restricted services need it. */
  secret: string;
  /** Lifetime of the credentials given, in seconds. */
  ttlSeconds: number;
  /** The clock, in Unix milliseconds (tests). */
  now?: () => number;
}

const NAMESPACES = [NS.EXTDISCO, NS.EXTDISCO_1] as const;

/**
 * Answers `<services/>` and `<credentials/>` on the server's domain with `services`. With no
 * services it registers nothing: no feature in disco#info, and both requests are answered
 * service-unavailable, as §2 allows for a server that "does not support this protocol".
 */
export function externalServicesModule(
  router: Router,
  services: readonly ExternalService[],
  options: ExternalServicesModuleOptions,
): void {
  if (services.length === 0) return;
  const now = options.now ?? Date.now;
  // One set of credentials per answer, made from the clock and the secret alone (no state);
  // every restricted service of the answer shares it, as they share the secret.
  const answer = (origin: BoundSession, found: readonly ExternalService[]) => {
    const given = found.some((s) => s.restricted)
      ? turnCredentials(options.secret, {
        user: origin.jid.bare,
        expires: Math.floor(now() / 1000) + options.ttlSeconds,
      })
      : undefined;
    return found.map((service) => serviceElement(service, given));
  };

  for (const ns of NAMESPACES) {
    router.iq.on("server", "services", ns, (stanza, { origin }) => {
      const user = localUser(stanza, origin);
      const request = stanza.getChild("services", ns)!;
      const type = request.attrs.type;
      const found = type === undefined ? services : services.filter((s) => s.type === type);
      return reply(stanza).append(
        el(
          "services",
          type === undefined ? { xmlns: ns } : { xmlns: ns, type },
          ...answer(user, found),
        ),
      );
    });

    router.iq.on("server", "credentials", ns, (stanza, { origin }) => {
      const user = localUser(stanza, origin);
      const wanted = stanza.getChild("credentials", ns)!.getChildren("service", ns)
        .map(readWanted);
      if (wanted.length === 0) {
        throw new StanzaError("modify", "bad-request", {
          text: "Name the service: <service type='...' host='...'/>",
        });
      }
      // Only restricted services have credentials; each matching one once, in configured order.
      const found = services.filter((s) =>
        s.restricted &&
        wanted.some((w) =>
          w.type === s.type && w.host === s.host && (w.port === undefined || w.port === s.port)
        )
      );
      // §3.3: "If the server cannot obtain credentials ... it returns an appropriate stanza
      // error, such as <item-not-found/>".
      if (found.length === 0) {
        throw new StanzaError("cancel", "item-not-found", {
          text: "No service here needs credentials by that type, host and port",
        });
      }
      return reply(stanza).append(
        el("credentials", { xmlns: ns }, ...answer(user, found)),
      );
    });
  }
}

/** Refuses what is not a get from an authenticated local user (the only ones given credentials). */
function localUser(stanza: Element, origin: BoundSession | undefined): BoundSession {
  if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
  if (origin === undefined) {
    throw new StanzaError("auth", "forbidden", {
      text: "External services are for this server's users",
    });
  }
  return origin;
}

/** A `<service/>` of a §3.3 request: type and host are required, port optional. */
function readWanted(service: Element): { type: string; host: string; port?: number } {
  const { type, host, port } = service.attrs;
  if (!type || !host) {
    throw new StanzaError("modify", "bad-request", {
      text: "A <service/> needs its 'type' and 'host' attributes",
    });
  }
  if (port === undefined) return { type, host };
  const number = Number(port);
  if (!/^\d{1,5}$/.test(port) || number < 1 || number > 65535) {
    throw new StanzaError("modify", "bad-request", { text: "'port' must be from 1 to 65535" });
  }
  return { type, host, port: number };
}

/** A `<service/>` (XEP-0215 §2), with `given` if it is restricted. */
function serviceElement(service: ExternalService, given: TurnCredentials | undefined): Element {
  const attrs: Record<string, string> = {
    type: service.type,
    host: service.host,
    port: String(service.port),
    transport: service.transport,
  };
  if (service.name !== undefined) attrs.name = service.name;
  if (service.restricted && given !== undefined) {
    attrs.restricted = "true";
    attrs.username = given.username;
    attrs.password = given.password;
    attrs.expires = dateTime(given.expires);
  }
  return el("service", attrs);
}

/** XEP-0082 date-time in UTC, to the second: `2026-01-01T00:00:00Z`. */
function dateTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
