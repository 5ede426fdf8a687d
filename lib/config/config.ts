// Server configuration: typed options with defaults, read from a TOML file and command-line flags.
import { parse as parseToml, TomlError } from "smol-toml";
import { dirname, isAbsolute, join } from "node:path";

/** Resource limits that keep one client or address from exhausting the server. */
export interface Limits {
  /** Largest stanza accepted, in bytes of XML; larger ones close the stream (RFC 6120 §4.9.3.12). */
  maxStanzaBytes: number;
  /** Deepest element nesting accepted inside a stanza. */
  maxDepth: number;
  /** Open client connections, all addresses together. */
  maxConnections: number;
  /** Open client connections from one IP address. */
  maxConnectionsPerIp: number;
  /** Failed SASL attempts allowed per stream before it is closed (RFC 6120 §6.4.5). */
  authAttempts: number;
  /** Pause before answering a failed authentication, in milliseconds, to slow guessing. */
  authFailureDelayMs: number;
  /** Time a client has from connecting to binding a resource, in milliseconds. */
  negotiationTimeoutMs: number;
  /** Bytes that may wait for a client that does not read before its stream is closed. */
  maxSendQueueBytes: number;
  /** Bytes per second a client may send before it authenticates (then it is read slower). */
  preauthRateBytes: number;
  /** Bytes a client may send at once before it authenticates, above the rate. */
  preauthBurstBytes: number;
  /** Bytes per second an authenticated client may send (then it is read slower). */
  c2sRateBytes: number;
  /** Bytes an authenticated client may send at once, above the rate. */
  c2sBurstBytes: number;
  /** Failed authentications one IP address may make in a row... */
  authFailuresPerIpBurst: number;
  /** ...and then per minute; past that its attempts get `temporary-auth-failure`. */
  authFailuresPerIpPerMinute: number;
  /** Unauthenticated connections are closed after this many milliseconds when the server is
   * under connection pressure (half of `maxConnections` open), instead of the full timeout. */
  pressureNegotiationTimeoutMs: number;
}

/** TLS settings for client connections (RFC 6120 §5). */
export interface TlsConfig {
  /** PEM certificate chain; null to use or generate a self-signed one in `dataDir`. */
  certFile: string | null;
  /** PEM private key for `certFile`; set both or neither. */
  keyFile: string | null;
  /** Whether STARTTLS must be negotiated before SASL is offered. */
  required: boolean;
}

/** In-band registration (XEP-0077) and what happens to the names of removed accounts. */
export interface RegistrationConfig {
  /** Whether clients may create accounts themselves, over TLS, before authenticating. */
  allow: boolean;
  /** Days the name of a removed account stays reserved; 0 frees it at once. */
  tombstoneDays: number;
  /**
   * Seconds an IP address must wait after an in-band registration before it may register another
   * account (Prosody's `min_seconds_between_registrations`); 0 disables the limit.
   */
  minSecondsBetween: number;
}

/** Contact addresses (XEP-0157) published in the server's disco#info, as URIs. */
export interface ContactAddresses {
  abuse: string[];
  admin: string[];
  feedback: string[];
  sales: string[];
  security: string[];
  support: string[];
}

/** The XEP-0157 address kinds, in the order they are published. */
export const CONTACT_KINDS: readonly (keyof ContactAddresses)[] = [
  "abuse",
  "admin",
  "feedback",
  "sales",
  "security",
  "support",
];

/** Offline message storage (XEP-0160). */
export interface OfflineConfig {
  /** Messages kept per offline user; more are refused with service-unavailable. 0 disables. */
  maxMessages: number;
}

/** Blocking Command (XEP-0191). */
export interface BlockingConfig {
  /**
   * Answer messages and iq requests from a blocked entity with service-unavailable (as for an
   * unavailable user; XEP-0191 §3.5) instead of dropping them silently. Presence is always dropped.
   */
  bounce: boolean;
}

/** Verona's whole configuration, validated and with every default filled in. */
export interface Config {
  /** The XMPP domain served, e.g. `example.org`. */
  domain: string;
  /** Domain of the multi-user chat service (XEP-0045); `conference.<domain>` unless set. */
  mucDomain: string;
  /** TCP port for client connections; 0 picks a free one (tests). */
  port: number;
  /** Address to listen on. */
  bind: string;
  /** Directory for runtime state: the database and generated certificates. */
  dataDir: string;
  /** SQLite database file; `<dataDir>/verona.sqlite` unless set. `:memory:` keeps nothing. */
  databasePath: string;
  /** Bare JIDs (`local@domain`) with administrative rights. */
  admins: string[];
  tls: TlsConfig;
  limits: Limits;
  registration: RegistrationConfig;
  contact: ContactAddresses;
  offline: OfflineConfig;
  blocking: BlockingConfig;
}

/** The options that command-line flags can override. */
export type ConfigOverrides = Partial<Pick<Config, "domain" | "port" | "dataDir" | "bind">>;

/** Thrown when a configuration cannot be read or is invalid; the message says where and why. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Default domain when none is configured. */
export const DEFAULT_DOMAIN = "localhost";
/** Default data directory, relative to the working directory. */
export const DEFAULT_DATA_DIR = "./data";
/** File name of the database inside the data directory. */
export const DATABASE_FILE = "verona.sqlite";

/** The configuration used when nothing is configured. */
export function defaultConfig(): Config {
  return build({}, null);
}

/** Options for {@linkcode parseConfigToml}. */
export interface ParseConfigOptions {
  /** Directory that relative paths in the file are resolved against; unset leaves them as given. */
  baseDir?: string;
  /** Values that win over the file's, e.g. from command-line flags. */
  overrides?: ConfigOverrides;
}

/**
 * Parses and validates a TOML configuration, filling in defaults. `origin` names the source in
 * error messages (usually the file path). Keys are snake_case; unknown keys are errors.
 *
 * @example
 * ```ts
 * const config = parseConfigToml('domain = "example.org"', "verona.toml");
 * config.mucDomain; // "conference.example.org"
 * ```
 * @throws {ConfigError} on a TOML syntax error, an unknown key, or an invalid value.
 */
export function parseConfigToml(
  text: string,
  origin: string,
  options: ParseConfigOptions = {},
): Config {
  let table: Record<string, unknown>;
  try {
    table = parseToml(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    throw new ConfigError(
      `Cannot load config "${origin}": invalid TOML at line ${error.line}, column ${error.column}: ${reason}`,
      { cause: error },
    );
  }
  const input = guard(origin, () => readTable(table, options.baseDir));
  return build(applyOverrides(input, options.overrides ?? {}), origin);
}

/** Options for {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** TOML file to read; without one, defaults apply. */
  file?: string;
  /** Values that win over the file's, e.g. from command-line flags. */
  overrides?: ConfigOverrides;
}

/**
 * Reads the configuration file, if any, then applies `overrides`. `mucDomain` and `databasePath`
 * are derived after the overrides unless the file sets them. Relative paths in the file resolve
 * against the file's directory; the default and overridden `dataDir` against the working directory.
 *
 * @throws {ConfigError} if the file cannot be read or is invalid, or an override is invalid.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const overrides = options.overrides ?? {};
  if (options.file === undefined) return build(applyOverrides({}, overrides), null);
  const file = options.file;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new ConfigError(`Cannot load config "${file}": ${reason}`, { cause: error });
  }
  return parseConfigToml(text, file, { baseDir: dirname(file), overrides });
}

// ---------------------------------------------------------------------------------------------
// Reading and validation

/** What the sources set, before defaults and derivation. */
interface Input {
  domain?: string;
  mucDomain?: string;
  port?: number;
  bind?: string;
  dataDir?: string;
  databasePath?: string;
  admins?: string[];
  tls?: Partial<TlsConfig>;
  limits?: Partial<Limits>;
  registration?: Partial<RegistrationConfig>;
  contact?: Partial<ContactAddresses>;
  offline?: Partial<OfflineConfig>;
  blocking?: Partial<BlockingConfig>;
}

/** A validation failure whose message still lacks the "Cannot load config" prefix. */
class Invalid extends Error {}

const LIMIT_KEYS: Record<string, { field: keyof Limits; min: number; max: number }> = {
  max_stanza_bytes: { field: "maxStanzaBytes", min: 1024, max: 2 ** 30 },
  max_depth: { field: "maxDepth", min: 2, max: 10_000 },
  max_connections: { field: "maxConnections", min: 1, max: 10_000_000 },
  max_connections_per_ip: { field: "maxConnectionsPerIp", min: 1, max: 10_000_000 },
  auth_attempts: { field: "authAttempts", min: 1, max: 100 },
  auth_failure_delay_ms: { field: "authFailureDelayMs", min: 0, max: 60_000 },
  negotiation_timeout_ms: { field: "negotiationTimeoutMs", min: 100, max: 3_600_000 },
  max_send_queue_bytes: { field: "maxSendQueueBytes", min: 65_536, max: 2 ** 40 },
  preauth_rate_bytes: { field: "preauthRateBytes", min: 1024, max: 2 ** 40 },
  preauth_burst_bytes: { field: "preauthBurstBytes", min: 4096, max: 2 ** 40 },
  c2s_rate_bytes: { field: "c2sRateBytes", min: 1024, max: 2 ** 40 },
  c2s_burst_bytes: { field: "c2sBurstBytes", min: 4096, max: 2 ** 40 },
  auth_failures_per_ip_burst: { field: "authFailuresPerIpBurst", min: 1, max: 1_000_000 },
  auth_failures_per_ip_per_minute: {
    field: "authFailuresPerIpPerMinute",
    min: 1,
    max: 1_000_000,
  },
  pressure_negotiation_timeout_ms: {
    field: "pressureNegotiationTimeoutMs",
    min: 100,
    max: 3_600_000,
  },
};

/** Default resource limits. */
export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxStanzaBytes: 262_144,
  maxDepth: 32,
  maxConnections: 10_000,
  maxConnectionsPerIp: 200,
  authAttempts: 3,
  authFailureDelayMs: 500,
  negotiationTimeoutMs: 60_000,
  maxSendQueueBytes: 2 * 1024 * 1024,
  preauthRateBytes: 10 * 1024,
  preauthBurstBytes: 64 * 1024,
  c2sRateBytes: 64 * 1024,
  c2sBurstBytes: 512 * 1024,
  authFailuresPerIpBurst: 10,
  authFailuresPerIpPerMinute: 30,
  pressureNegotiationTimeoutMs: 10_000,
};

/** Default number of messages kept per offline user. */
export const DEFAULT_OFFLINE_MAX_MESSAGES = 100;

/** Default days a removed account's name stays reserved. */
export const DEFAULT_TOMBSTONE_DAYS = 30;
/** Default `[registration] min_seconds_between`: one in-band registration per IP per 5 minutes. */
export const DEFAULT_MIN_SECONDS_BETWEEN_REGISTRATIONS = 300;

function readTable(table: Record<string, unknown>, baseDir: string | undefined): Input {
  const input: Input = {};
  const path = (key: string, value: unknown) => {
    const p = nonEmptyString(key, value);
    return baseDir === undefined || isAbsolute(p) ? p : join(baseDir, p);
  };
  for (const [key, value] of Object.entries(table)) {
    switch (key) {
      case "domain":
        input.domain = domainName(key, value);
        break;
      case "muc_domain":
        input.mucDomain = domainName(key, value);
        break;
      case "port":
        input.port = integer(key, value, 0, 65535);
        break;
      case "bind":
        input.bind = address(key, value);
        break;
      case "data_dir":
        input.dataDir = path(key, value);
        break;
      case "database":
        input.databasePath = value === ":memory:" ? value : path(key, value);
        break;
      case "admins":
        input.admins = admins(key, value);
        break;
      case "tls":
        input.tls = {};
        for (const [k, v] of Object.entries(subTable(key, value))) {
          const name = `tls.${k}`;
          if (k === "cert") input.tls.certFile = path(name, v);
          else if (k === "key") input.tls.keyFile = path(name, v);
          else if (k === "required") input.tls.required = boolean(name, v);
          else throw new Invalid(`unknown key "${name}"`);
        }
        break;
      case "limits":
        input.limits = {};
        for (const [k, v] of Object.entries(subTable(key, value))) {
          if (!Object.hasOwn(LIMIT_KEYS, k)) throw new Invalid(`unknown key "limits.${k}"`);
          const spec = LIMIT_KEYS[k];
          input.limits[spec.field] = integer(`limits.${k}`, v, spec.min, spec.max);
        }
        break;
      case "registration":
        input.registration = {};
        for (const [k, v] of Object.entries(subTable(key, value))) {
          const name = `registration.${k}`;
          if (k === "allow") input.registration.allow = boolean(name, v);
          else if (k === "tombstone_days") {
            input.registration.tombstoneDays = integer(name, v, 0, 36_500);
          } else if (k === "min_seconds_between") {
            input.registration.minSecondsBetween = integer(name, v, 0, 86_400);
          } else throw new Invalid(`unknown key "${name}"`);
        }
        break;
      case "contact":
        input.contact = {};
        for (const [k, v] of Object.entries(subTable(key, value))) {
          if (!(CONTACT_KINDS as readonly string[]).includes(k)) {
            throw new Invalid(`unknown key "contact.${k}"`);
          }
          input.contact[k as keyof ContactAddresses] = uris(`contact.${k}`, v);
        }
        break;
      case "offline":
        input.offline = {};
        for (const [k, v] of Object.entries(subTable(key, value))) {
          if (k === "max_messages") {
            input.offline.maxMessages = integer(`offline.${k}`, v, 0, 1_000_000);
          } else throw new Invalid(`unknown key "offline.${k}"`);
        }
        break;
      case "blocking":
        input.blocking = {};
        for (const [k, v] of Object.entries(subTable(key, value))) {
          if (k === "bounce") input.blocking.bounce = boolean(`blocking.${k}`, v);
          else throw new Invalid(`unknown key "blocking.${k}"`);
        }
        break;
      default:
        throw new Invalid(`unknown key "${key}"`);
    }
  }
  return input;
}

function applyOverrides(input: Input, overrides: ConfigOverrides): Input {
  const result = { ...input };
  guard(null, () => {
    if (overrides.domain !== undefined) result.domain = domainName("--domain", overrides.domain);
    if (overrides.port !== undefined) result.port = integer("--port", overrides.port, 0, 65535);
    if (overrides.bind !== undefined) result.bind = address("--bind", overrides.bind);
    if (overrides.dataDir !== undefined) {
      result.dataDir = nonEmptyString("--data-dir", overrides.dataDir);
    }
  });
  return result;
}

/** Fills in defaults, derives dependent values and checks options against each other. */
function build(input: Input, origin: string | null): Config {
  const domain = input.domain ?? DEFAULT_DOMAIN;
  const dataDir = input.dataDir ?? DEFAULT_DATA_DIR;
  const config: Config = {
    domain,
    mucDomain: input.mucDomain ?? `conference.${domain}`,
    port: input.port ?? 5222,
    bind: input.bind ?? "0.0.0.0",
    dataDir,
    databasePath: input.databasePath ?? join(dataDir, DATABASE_FILE),
    admins: [...(input.admins ?? [])],
    tls: {
      certFile: input.tls?.certFile ?? null,
      keyFile: input.tls?.keyFile ?? null,
      required: input.tls?.required ?? true,
    },
    limits: { ...DEFAULT_LIMITS, ...input.limits },
    registration: {
      allow: input.registration?.allow ?? false,
      tombstoneDays: input.registration?.tombstoneDays ?? DEFAULT_TOMBSTONE_DAYS,
      minSecondsBetween: input.registration?.minSecondsBetween ??
        DEFAULT_MIN_SECONDS_BETWEEN_REGISTRATIONS,
    },
    contact: contactAddresses(input.contact ?? {}),
    offline: { maxMessages: input.offline?.maxMessages ?? DEFAULT_OFFLINE_MAX_MESSAGES },
    blocking: { bounce: input.blocking?.bounce ?? true },
  };
  guard(origin, () => {
    if (config.mucDomain === config.domain) {
      throw new Invalid(`muc_domain must differ from domain, both are "${config.domain}"`);
    }
    if ((config.tls.certFile === null) !== (config.tls.keyFile === null)) {
      throw new Invalid("tls.cert and tls.key must be set together");
    }
    if (config.limits.maxConnectionsPerIp > config.limits.maxConnections) {
      throw new Invalid(
        `limits.max_connections_per_ip must not exceed limits.max_connections (${config.limits.maxConnections}), got ${config.limits.maxConnectionsPerIp}`,
      );
    }
  });
  return config;
}

function contactAddresses(input: Partial<ContactAddresses>): ContactAddresses {
  const copy = (kind: keyof ContactAddresses) => [...(input[kind] ?? [])];
  return {
    abuse: copy("abuse"),
    admin: copy("admin"),
    feedback: copy("feedback"),
    sales: copy("sales"),
    security: copy("security"),
    support: copy("support"),
  };
}

/** Runs `fn`, turning an {@linkcode Invalid} into a {@linkcode ConfigError} naming `origin`. */
function guard<T>(origin: string | null, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    const where = origin === null ? "Cannot load config" : `Cannot load config "${origin}"`;
    throw new ConfigError(`${where}: ${error.message}`);
  }
}

function invalid(key: string, expected: string, value: unknown): never {
  throw new Invalid(`${key} must be ${expected}, got ${show(value)}`);
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return "a date";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "a table";
  return String(value);
}

function integer(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    invalid(key, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function boolean(key: string, value: unknown): boolean {
  if (typeof value !== "boolean") invalid(key, "true or false", value);
  return value;
}

function nonEmptyString(key: string, value: unknown): string {
  if (typeof value !== "string" || value === "") invalid(key, "a non-empty string", value);
  return value;
}

function subTable(key: string, value: unknown): Record<string, unknown> {
  if (
    typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date
  ) {
    invalid(key, `a table ([${key}])`, value);
  }
  return value as Record<string, unknown>;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function isDomainName(value: string): boolean {
  return value.length <= 253 && value.split(".").every((label) => LABEL.test(label));
}

function domainName(key: string, value: unknown): string {
  if (typeof value !== "string" || !isDomainName(value)) {
    invalid(key, 'a lowercase DNS name such as "example.org"', value);
  }
  return value;
}

function address(key: string, value: unknown): string {
  // Host names, IPv4 and IPv6 literals; the listener reports addresses it cannot bind.
  if (typeof value !== "string" || !/^[0-9A-Za-z.:%_-]+$/.test(value)) {
    invalid(key, 'an IP address or host name such as "0.0.0.0" or "::"', value);
  }
  return value;
}

// Characters RFC 7622 §3.3.1 forbids in a localpart, plus whitespace and controls.
const LOCALPART = /^[^\s\p{Cc}"&'/:<>@]{1,1023}$/u;

function admins(key: string, value: unknown): string[] {
  if (!Array.isArray(value)) {
    invalid(key, 'an array of bare JIDs such as ["admin@example.org"]', value);
  }
  return value.map((item: unknown, i) => {
    const at = typeof item === "string" ? item.indexOf("@") : -1;
    if (
      typeof item !== "string" || at < 0 || !LOCALPART.test(item.slice(0, at)) ||
      !isDomainName(item.slice(at + 1)) || item !== item.toLowerCase()
    ) {
      invalid(`${key}[${i}]`, 'a lowercase bare JID "local@domain"', item);
    }
    return item;
  });
}

// A URI with a scheme (RFC 3986 §3.1), e.g. "mailto:abuse@example.org" or "xmpp:admin@example.org".
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"]+$/;

function uris(key: string, value: unknown): string[] {
  if (!Array.isArray(value)) {
    invalid(key, 'an array of URIs such as ["mailto:abuse@example.org"]', value);
  }
  return value.map((item: unknown, i) => {
    if (typeof item !== "string" || !URI.test(item)) {
      invalid(`${key}[${i}]`, 'a URI such as "mailto:abuse@example.org"', item);
    }
    return item;
  });
}
