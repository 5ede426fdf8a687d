// The [external_services] section: services listed one table each, the shortcut for a single
// coturn, and the checks that bound them (after Prosody's mod_external_services and
// mod_turn_external, whose options these are, renamed for one section).
import {
  boolean,
  integer,
  invalid,
  InvalidValue,
  isDomainName,
  nonEmptyString,
  subTable,
} from "../config/values.ts";

/** The service types this server announces (XEP-0215 §7.3 registry: stun, turn; RFC 7065 turns). */
export const SERVICE_TYPES = ["stun", "turn", "turns"] as const;
/** A service type. */
export type ServiceType = typeof SERVICE_TYPES[number];
/** The transports (XEP-0215 §2 'transport'); turns over udp is TURN over DTLS. */
export const TRANSPORTS = ["udp", "tcp"] as const;
/** A transport. */
export type Transport = typeof TRANSPORTS[number];

/** Most services, the shortcut's included: a reply stays small and is built without limits. */
export const MAX_SERVICES = 32;

/** One external service as announced (XEP-0215 §2). */
export interface ExternalService {
  type: ServiceType;
  /** A DNS name or an IP address. */
  host: string;
  port: number;
  transport: Transport;
  /** Credentials from the secret are needed (and given with the service). */
  restricted: boolean;
  /** A human-readable label. */
  name?: string;
}

/** The options of the external_services module. */
export interface ExternalServicesOptions {
  /** The services listed as `[[external_services.services]]` tables. */
  services: ExternalService[];
  /** coturn's `static-auth-secret`; "" for none. */
  secret: string;
  /** Lifetime of the credentials given, in seconds. */
  ttlSeconds: number;
  /** The shortcut: one coturn at this host ("" for none). */
  turnHost: string;
  turnPort: number;
  /** The shortcut also announces STUN and TURN over TCP. */
  turnTcp: boolean;
  /** The shortcut also announces TURN over TLS on this port (0: not). */
  turnTlsPort: number;
}

const DEFAULT_PORT: Record<ServiceType, number> = { stun: 3478, turn: 3478, turns: 5349 };
const SERVICE_KEYS = ["type", "host", "port", "transport", "restricted", "name"];
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Whether `value` is a DNS name, an IPv4 address or an IPv6 address (XEP-0215 §2 'host'). */
export function isServiceHost(value: string): boolean {
  if (isDomainName(value) || IPV4.test(value)) return true;
  if (!/^[0-9a-fA-F:.]+$/.test(value) || !value.includes(":")) return false;
  try {
    new URL(`http://[${value}]/`);
    return true;
  } catch {
    return false;
  }
}

function oneOf<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    invalid(
      key,
      allowed.map((a) => JSON.stringify(a)).join(", ").replace(/, ([^,]*)$/, " or $1"),
      value,
    );
  }
  return value as T;
}

/** Reads `[[external_services.services]]`: an array of tables, each one service. */
export function readServices(key: string, value: unknown): ExternalService[] {
  if (!Array.isArray(value)) invalid(key, `an array of tables ([[${key}]])`, value);
  if (value.length > MAX_SERVICES) {
    throw new InvalidValue(
      `${key} must have at most ${MAX_SERVICES} services, got ${value.length}`,
    );
  }
  return value.map((item: unknown, i) => readService(`${key}[${i}]`, item));
}

function readService(key: string, value: unknown): ExternalService {
  const table = subTable(key, value);
  for (const k of Object.keys(table)) {
    if (!SERVICE_KEYS.includes(k)) throw new InvalidValue(`unknown key "${key}.${k}"`);
  }
  if (!Object.hasOwn(table, "type")) throw new InvalidValue(`${key}.type is required`);
  if (!Object.hasOwn(table, "host")) throw new InvalidValue(`${key}.host is required`);
  const type = oneOf(`${key}.type`, table.type, SERVICE_TYPES);
  const host = table.host;
  if (typeof host !== "string" || !isServiceHost(host)) {
    invalid(`${key}.host`, 'a DNS name or an IP address such as "turn.example.org"', host);
  }
  const service: ExternalService = {
    type,
    host,
    port: Object.hasOwn(table, "port")
      ? integer(`${key}.port`, table.port, 1, 65535)
      : DEFAULT_PORT[type],
    transport: Object.hasOwn(table, "transport")
      ? oneOf(`${key}.transport`, table.transport, TRANSPORTS)
      : type === "turns"
      ? "tcp"
      : "udp",
    restricted: Object.hasOwn(table, "restricted")
      ? boolean(`${key}.restricted`, table.restricted)
      : type !== "stun",
  };
  if (Object.hasOwn(table, "name")) {
    const name = nonEmptyString(`${key}.name`, table.name);
    if (name.length > 100) invalid(`${key}.name`, "at most 100 characters", name);
    service.name = name;
  }
  return service;
}

/** The shortcut's host: "" or a service host. */
export function readHost(key: string, value: unknown): string {
  if (value === "") return "";
  if (typeof value !== "string" || !isServiceHost(value)) {
    invalid(key, 'a DNS name or an IP address such as "turn.example.org", or ""', value);
  }
  return value;
}

/** Every service announced: the shortcut's (STUN before TURN, UDP before TCP), then the list. */
export function configuredServices(options: Readonly<ExternalServicesOptions>): ExternalService[] {
  const shortcut: ExternalService[] = [];
  const host = options.turnHost;
  if (host !== "") {
    const port = options.turnPort;
    shortcut.push({ type: "stun", host, port, transport: "udp", restricted: false });
    if (options.turnTcp) {
      shortcut.push({ type: "stun", host, port, transport: "tcp", restricted: false });
    }
    shortcut.push({ type: "turn", host, port, transport: "udp", restricted: true });
    if (options.turnTcp) {
      shortcut.push({ type: "turn", host, port, transport: "tcp", restricted: true });
    }
    if (options.turnTlsPort !== 0) {
      shortcut.push({
        type: "turns",
        host,
        port: options.turnTlsPort,
        transport: "tcp",
        restricted: true,
      });
    }
  }
  return [...shortcut, ...options.services];
}

/** The cross-checks: few enough services, and a secret for every restricted one. */
export function checkOptions(options: Readonly<ExternalServicesOptions>): void {
  const all = configuredServices(options);
  if (all.length > MAX_SERVICES) {
    throw new InvalidValue(
      `external_services: at most ${MAX_SERVICES} services, the turn_host shortcut's included, got ${all.length}`,
    );
  }
  if (options.secret !== "") return;
  if (options.turnHost !== "") {
    throw new InvalidValue(
      "external_services.secret must be set with turn_host (coturn's static-auth-secret)",
    );
  }
  const i = options.services.findIndex((s) => s.restricted);
  if (i >= 0) {
    throw new InvalidValue(
      `external_services.services[${i}] is restricted (the default for turn and turns) but external_services.secret is not set; set it, or restricted = false`,
    );
  }
}
