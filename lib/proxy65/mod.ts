// SOCKS5 Bytestreams proxy (XEP-0065) as a server module: the component of service.ts at
// `domain` (proxy.<server domain> by default) and the SOCKS5 listener of relay.ts on `port`.
/**
 * Off by default, as Prosody ships mod_proxy65 (ejabberd turns it on): it opens a second public
 * port that a firewall must let through, it needs an address clients can reach (`host`; the
 * server's domain often resolves elsewhere), and it relays other people's bandwidth. Whoever
 * enables it decides those three things.
 *
 * @module
 */
import { address, domainName, integer } from "../config/values.ts";
import type { NamedModule } from "../modules/module.ts";
import { Relay } from "./relay.ts";
import { createProxy65Service } from "./service.ts";

export { type ActivationResult, Relay, type RelayLimits } from "./relay.ts";
export { BYTESTREAMS, createProxy65Service, type Proxy65ServiceOptions } from "./service.ts";
export { streamHash } from "./hash.ts";
export * from "./socks5.ts";

/** `[proxy65]` options. */
export interface Proxy65Config {
  /** The component's domain; "" for proxy.<domain>. */
  domain: string;
  /** SOCKS5 port; 0 picks a free one (advertised as bound). */
  port: number;
  /** Address the SOCKS5 listener binds. */
  bind: string;
  /** Address advertised in <streamhost host/>; "" for `bind` unless a wildcard, else `domain`. */
  host: string;
  maxPending: number;
  maxPendingPerAddress: number;
  maxActive: number;
  maxActivePerUser: number;
  rateBytes: number;
  burstBytes: number;
  pendingTimeoutMs: number;
  idleTimeoutMs: number;
  /** 0: no limit. */
  maxTransferBytes: number;
}

const count = (max: number) => ({
  read: (key: string, value: unknown) => integer(key, value, 1, max),
});
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

/** The module. */
export const PROXY65_MODULE: NamedModule<"proxy65", Proxy65Config> = {
  name: "proxy65",
  description: "SOCKS5 Bytestreams proxy (XEP-0065): a file-transfer relay at proxy.<domain>",
  dependsOn: [],
  enabledByDefault: false,
  options: {
    domain: { default: "", read: domainName },
    port: { default: 7777, read: (key, value) => integer(key, value, 0, 65535) },
    bind: { default: "0.0.0.0", read: address },
    host: { default: "", read: address },
    maxPending: { default: 200, ...count(1_000_000) },
    maxPendingPerAddress: { default: 20, ...count(1_000_000) },
    maxActive: { default: 100, ...count(1_000_000) },
    maxActivePerUser: { default: 5, ...count(1_000_000) },
    rateBytes: { default: 1_048_576, ...count(2 ** 32) },
    burstBytes: { default: 1_048_576, ...count(2 ** 32) },
    pendingTimeoutMs: { default: 60_000, read: (k, v) => integer(k, v, 100, 86_400_000) },
    idleTimeoutMs: { default: 300_000, read: (k, v) => integer(k, v, 100, 86_400_000) },
    maxTransferBytes: { default: 0, read: (k, v) => integer(k, v, 0, Number.MAX_SAFE_INTEGER) },
  },
  start({ router, server, config, log }) {
    const domain = config.domain || `proxy.${server.domain}`;
    const relay = Relay.listen({
      hostname: config.bind,
      port: config.port,
      log,
      limits: {
        maxPending: config.maxPending,
        maxPendingPerAddress: config.maxPendingPerAddress,
        maxActive: config.maxActive,
        maxActivePerUser: config.maxActivePerUser,
        rate: { perSecond: config.rateBytes, burst: config.burstBytes },
        pendingTimeoutMs: config.pendingTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
        maxTransferBytes: config.maxTransferBytes,
      },
    });
    const host = config.host || (WILDCARDS.has(config.bind) ? domain : config.bind);
    log(`proxy65: ${domain} relays SOCKS5 on ${config.bind}:${relay.port} (advertised ${host})`);
    router.addComponent(createProxy65Service({
      domain,
      serverDomain: server.domain,
      host,
      port: relay.port,
      activate: (hash, user) => relay.activate(hash, user),
      deliver: (stanza) => router.route(stanza),
      log,
    }));
    return { stop: () => relay.close() };
  },
};
