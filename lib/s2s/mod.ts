// Federation (RFC 6120 server-to-server) as a module: `[s2s]` chooses the port, the trust policy
// (certificates, dialback), static routes and limits; the module listens for other servers,
// and the router hands it every stanza for a domain that is not served here.
/**
 * On by default, as in Prosody and ejabberd. Peers must have a certificate good for their
 * domain (`secure_auth`), except the domains listed in `insecure_domains`, which may prove
 * themselves with dialback alone (self-signed certificates).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import {
  address,
  boolean,
  integer,
  invalid,
  isDomainName,
  portOrOff,
  subTable,
} from "../config/values.ts";
import type { NamedModule } from "../modules/module.ts";
import { Listener } from "../net/listener.ts";
import { TrustStore } from "./certificates.ts";
import { DialbackKeys, loadDialbackSecret } from "./dialback.ts";
import { S2sService } from "./service.ts";
import { ALPN_XMPP_SERVER } from "./outbound.ts";

export { S2sService } from "./service.ts";

/** `[s2s]` options. */
export interface S2sConfig {
  /** Port for other servers; null: none (we still connect out). 0: a free one. */
  port: number | null;
  /** Port for servers over direct TLS (XEP-0368, ALPN xmpp-server); null: none. 0: a free one. */
  directTlsPort: number | null;
  bind: string;
  requireEncryption: boolean;
  secureAuth: boolean;
  insecureDomains: string[];
  /** PEM file of the roots peers' certificates must chain to; "" for the system's. */
  caFile: string;
  /** `domain → "host:port"`, instead of DNS. */
  staticRoutes: Map<string, { host: string; port: number }>;
  /** A DNS server to ask instead of the system's, "ip:port"; "" for the system's. */
  dnsServer: string;
  /** XEP-0288: offer and use bidirectional streams. */
  bidirectional: boolean;
  connectTimeoutS: number;
  negotiationTimeoutS: number;
  idleTimeoutS: number;
  retryAfterS: number;
  maxQueueStanzas: number;
  maxQueueBytes: number;
  /** Bytes waiting for all remote domains together. */
  maxTotalQueueBytes: number;
  /** Outgoing streams open or being set up at once (each a DNS lookup and a connection). */
  maxOutgoingConnections: number;
  maxStanzaBytes: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxSendQueueBytes: number;
  /** Input rate of a peer before it has authenticated, and after. */
  preauthRateBytes: number;
  rateBytes: number;
  burstBytes: number;
}

/** What the module offers: the running service (for status and tests). */
export type S2sApi = S2sService & {
  readonly port: number | null;
  readonly directTlsPort: number | null;
};

function hostPort(key: string, value: unknown): { host: string; port: number } {
  const match = typeof value === "string"
    ? /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(value)
    : null;
  if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535) {
    invalid(key, 'a "host:port" such as "10.0.0.2:5269"', value);
  }
  return { host: match[1].replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

function domains(key: string, value: unknown): string[] {
  if (!Array.isArray(value)) invalid(key, 'an array of domains such as ["example.org"]', value);
  return value.map((item: unknown, i) => {
    if (typeof item !== "string" || (item !== "*" && !isDomainName(item))) {
      invalid(`${key}[${i}]`, 'a lowercase domain, or "*"', item);
    }
    return item;
  });
}

const seconds = (max: number) => (key: string, value: unknown) => integer(key, value, 1, max);
const count = (key: string, value: unknown) => integer(key, value, 1, 1_000_000_000);

/** The module. */
export const S2S_MODULE: NamedModule<"s2s", S2sConfig, S2sApi | null> = {
  name: "s2s",
  description:
    "Federation with other XMPP servers (RFC 6120 s2s, XEP-0220 dialback, XEP-0178, XEP-0288)",
  dependsOn: [],
  options: {
    port: { default: 5269, read: portOrOff },
    directTlsPort: { default: null, read: portOrOff },
    bind: { default: "0.0.0.0", read: address },
    requireEncryption: { default: true, read: boolean },
    secureAuth: { default: true, read: boolean },
    insecureDomains: { default: [], read: domains },
    caFile: {
      default: "",
      read: (key, value) => typeof value === "string" ? value : invalid(key, "a file path", value),
    },
    staticRoutes: {
      default: new Map(),
      read: (key, value) => {
        const routes = new Map<string, { host: string; port: number }>();
        for (const [domain, target] of Object.entries(subTable(key, value))) {
          if (!isDomainName(domain)) invalid(`${key}.${domain}`, "a lowercase domain", domain);
          routes.set(domain, hostPort(`${key}.${domain}`, target));
        }
        return routes;
      },
    },
    dnsServer: {
      default: "",
      read: (key, value) => value === "" ? "" : (hostPort(key, value), value as string),
    },
    bidirectional: { default: true, read: boolean },
    connectTimeoutS: { default: 10, read: seconds(600) },
    negotiationTimeoutS: { default: 30, read: seconds(600) },
    idleTimeoutS: { default: 300, read: seconds(86_400) },
    retryAfterS: { default: 5, read: (key, value) => integer(key, value, 0, 3600) },
    maxQueueStanzas: { default: 1000, read: count },
    maxQueueBytes: { default: 1024 * 1024, read: count },
    maxTotalQueueBytes: { default: 16 * 1024 * 1024, read: count },
    maxOutgoingConnections: { default: 1000, read: count },
    maxStanzaBytes: {
      default: 512 * 1024,
      read: (key, value) => integer(key, value, 10_000, 16 * 1024 * 1024),
    },
    maxConnections: { default: 1000, read: count },
    maxConnectionsPerIp: { default: 50, read: count },
    maxSendQueueBytes: { default: 8 * 1024 * 1024, read: count },
    preauthRateBytes: { default: 16 * 1024, read: count },
    rateBytes: { default: 4 * 1024 * 1024, read: count },
    burstBytes: { default: 8 * 1024 * 1024, read: count },
  },
  async start({ config, server, router, log, metrics }) {
    if (server.certificate === undefined) {
      log("s2s: off, since there is no certificate (unit tests)");
      return { api: null };
    }
    const trust = new TrustStore(
      config.caFile === "" ? undefined : readFileSync(config.caFile, "utf8"),
    );
    const keys = new DialbackKeys(await loadDialbackSecret(server.dataDir));
    const nameServer = config.dnsServer === "" ? null : (() => {
      const { host, port } = hostPort("s2s.dns_server", config.dnsServer);
      return { ipAddr: host, port };
    })();
    const secureContext = createSecureContext({
      cert: server.certificate.certPem,
      key: server.certificate.keyPem,
    });
    const service = new S2sService({
      router,
      settings: {
        requireEncryption: config.requireEncryption,
        secureAuth: config.secureAuth,
        insecureDomains: config.insecureDomains,
        connectTimeoutMs: config.connectTimeoutS * 1000,
        idleTimeoutMs: config.idleTimeoutS * 1000,
        negotiationTimeoutMs: config.negotiationTimeoutS * 1000,
        maxQueueStanzas: config.maxQueueStanzas,
        maxQueueBytes: config.maxQueueBytes,
        maxTotalQueueBytes: config.maxTotalQueueBytes,
        maxOutgoingConnections: config.maxOutgoingConnections,
        retryAfterMs: config.retryAfterS * 1000,
        bidirectional: config.bidirectional,
        limits: { maxStanzaBytes: config.maxStanzaBytes, maxDepth: 64 },
        transportLimits: {
          maxSendQueueBytes: config.maxSendQueueBytes,
          inputRate: { perSecond: config.preauthRateBytes, burst: config.preauthRateBytes * 4 },
        },
        authenticatedRate: { perSecond: config.rateBytes, burst: config.burstBytes },
      },
      resolver: { staticRoutes: config.staticRoutes, nameServer },
      secureContext,
      certificate: server.certificate,
      trust,
      keys,
      log,
      counters: {
        stanzasIn: metrics.counter("verona_s2s_stanzas_in", "Stanzas received from other servers"),
        stanzasOut: metrics.counter(
          "verona_s2s_stanzas_out",
          "Stanzas for other servers (sent, queued or bounced)",
        ),
      },
    });
    metrics.gauge({
      name: "verona_s2s_incoming_streams",
      help: "Streams other servers opened to this one",
      read: () => service.counts.inbound,
    });
    metrics.gauge({
      name: "verona_s2s_outgoing_streams",
      help: "Streams this server opened to others",
      read: () => service.counts.outbound,
    });
    metrics.gauge({
      name: "verona_s2s_queued_stanzas",
      help: "Stanzas waiting for a stream to another server to be set up",
      read: () => service.counts.queued,
    });
    let listener: Listener | null = null;
    if (config.port !== null) {
      listener = await Listener.listen({
        what: "servers",
        hostname: config.bind,
        port: config.port,
        directTls: config.directTlsPort === null ? undefined : {
          port: config.directTlsPort,
          secureContext,
          alpn: ALPN_XMPP_SERVER,
          requestCert: true,
        },
        maxConnections: config.maxConnections,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        transportLimits: {
          maxSendQueueBytes: config.maxSendQueueBytes,
          inputRate: { perSecond: config.preauthRateBytes, burst: config.preauthRateBytes * 4 },
        },
        refused: (from, reason) => log(`s2s: refused connection from ${from}: ${reason}`),
        accept: (transport) => service.accept(transport),
      });
    }
    router.setRemote(service);
    const port = listener?.port ?? null;
    const directTlsPort = listener?.directTlsPort ?? null;
    log(
      `s2s: ${port === null ? "no listener (outgoing only)" : `${config.bind}:${port}`}, ` +
        (directTlsPort === null ? "" : `direct TLS on ${config.bind}:${directTlsPort}, `) +
        `${config.secureAuth ? "certificates required" : "dialback accepted"}` +
        (config.insecureDomains.length > 0
          ? ` (dialback only: ${config.insecureDomains.join(", ")})`
          : "") +
        (config.staticRoutes.size > 0 ? `, ${config.staticRoutes.size} static route(s)` : ""),
    );
    const api = Object.assign(service, { port, directTlsPort }) as S2sApi;
    return {
      api,
      stop: async () => {
        router.setRemote(null);
        service.stop();
        await listener?.close();
        // Streams closed above had their chance to flush.
        await new Promise((resolve) => setTimeout(resolve, 100));
        listener?.destroyAll();
      },
    };
  },
};
