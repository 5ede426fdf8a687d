// Server configuration: typed options with defaults, read from a TOML file and command-line flags.
// The core keys are read here; each module's section is read by the module's own option readers,
// found in the module list (lib/modules/builtin.ts by default), which is also where Config gets
// the sections' types. Modules read values with lib/config/values.ts, never with this file, so the
// import goes one way.
import { parse as parseToml, TomlError } from "smol-toml";
import { dirname, isAbsolute, join } from "node:path";
import { BUILTIN_MODULES } from "../modules/builtin.ts";
import {
  type AnyServerModule,
  type ConfigOf,
  type ModuleSection,
  optionKey,
} from "../modules/module.ts";
import {
  address,
  bareJids,
  boolean,
  domainName,
  integer,
  InvalidValue,
  nonEmptyString,
  subTable,
} from "./values.ts";

export {
  address,
  bareJids,
  boolean,
  domainName,
  integer,
  invalid,
  InvalidValue,
  isDomainName,
  nonEmptyString,
  show,
  subTable,
  uris,
} from "./values.ts";

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
  /**
   * Bytes that may wait for clients, all connections together; past it the connections with the
   * most waiting are closed first (looked at four times a second).
   */
  maxTotalSendQueueBytes: number;
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
  /** Seconds a Stream Management session may wait to be resumed (XEP-0198 §5); 0: no resumption. */
  smResumeTimeoutS: number;
  /** Stanzas, and bytes, a Stream Management session keeps unacknowledged or waiting to resume. */
  smMaxUnackedStanzas: number;
  smMaxUnackedBytes: number;
  /** Stanzas held back while a client says it is inactive (XEP-0352), before they are sent anyway. */
  csiMaxHeld: number;
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

/**
 * The sections of the built-in modules (lib/modules/builtin.ts), by module name: each module's
 * typed options and `enabled`, e.g. `config.offline.maxMessages`, `config.vcard.enabled`.
 */
export type ModuleSections = {
  [M in typeof BUILTIN_MODULES[number] as M["name"]]: ModuleSection<ConfigOf<M>>;
};

/** The server's own settings, besides the modules' sections. */
export interface CoreConfig {
  /** The XMPP domain served, e.g. `example.org`. */
  domain: string;
  /** Domain of the multi-user chat service (XEP-0045); `conference.<domain>` unless set. */
  mucDomain: string;
  /** TCP port for client connections; 0 picks a free one (tests). */
  port: number;
  /**
   * TCP port for client connections over direct TLS (XEP-0368), on `bind`; null for none
   * (`direct_tls_port = 0` in the file). 0 picks a free one (tests).
   */
  directTlsPort: number | null;
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
}

/** Verona's whole configuration, validated and with every default filled in. */
export type Config = CoreConfig & ModuleSections;

/** The options that command-line flags can override. */
export type ConfigOverrides = Partial<Pick<Config, "domain" | "port" | "dataDir" | "bind">> & {
  /** As `direct_tls_port` in the file: 0 for no direct TLS. */
  directTlsPort?: number;
};

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

/** The configuration used when nothing is configured (`modules`: the built-in ones). */
export function defaultConfig(modules: readonly AnyServerModule[] = BUILTIN_MODULES): Config {
  return build({}, null, modules);
}

/** Options for {@linkcode parseConfigToml}. */
export interface ParseConfigOptions {
  /** Directory that relative paths in the file are resolved against; unset leaves them as given. */
  baseDir?: string;
  /** Values that win over the file's, e.g. from command-line flags. */
  overrides?: ConfigOverrides;
  /** The modules whose sections the file may have; default the built-in ones. */
  modules?: readonly AnyServerModule[];
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
  const modules = options.modules ?? BUILTIN_MODULES;
  const input = guard(origin, () => readTable(table, options.baseDir, modules));
  return build(applyOverrides(input, options.overrides ?? {}), origin, modules);
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
  if (options.file === undefined) {
    return build(applyOverrides({}, overrides), null, BUILTIN_MODULES);
  }
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
  /** 0: none. */
  directTlsPort?: number;
  bind?: string;
  dataDir?: string;
  databasePath?: string;
  admins?: string[];
  tls?: Partial<TlsConfig>;
  limits?: Partial<Limits>;
  /** Module sections as the file sets them, by module name and camelCase option. */
  sections?: Record<string, Record<string, unknown>>;
}

/** The top-level keys of the core configuration; a module cannot be named like one. */
export const CORE_KEYS: readonly string[] = [
  "domain",
  "muc_domain",
  "port",
  "direct_tls_port",
  "bind",
  "data_dir",
  "database",
  "admins",
  "tls",
  "limits",
];

const LIMIT_KEYS: Record<string, { field: keyof Limits; min: number; max: number }> = {
  max_stanza_bytes: { field: "maxStanzaBytes", min: 1024, max: 2 ** 30 },
  max_depth: { field: "maxDepth", min: 2, max: 10_000 },
  max_connections: { field: "maxConnections", min: 1, max: 10_000_000 },
  max_connections_per_ip: { field: "maxConnectionsPerIp", min: 1, max: 10_000_000 },
  auth_attempts: { field: "authAttempts", min: 1, max: 100 },
  auth_failure_delay_ms: { field: "authFailureDelayMs", min: 0, max: 60_000 },
  negotiation_timeout_ms: { field: "negotiationTimeoutMs", min: 100, max: 3_600_000 },
  max_send_queue_bytes: { field: "maxSendQueueBytes", min: 65_536, max: 2 ** 40 },
  max_total_send_queue_bytes: { field: "maxTotalSendQueueBytes", min: 65_536, max: 2 ** 46 },
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
  sm_resume_timeout_seconds: { field: "smResumeTimeoutS", min: 0, max: 86_400 },
  sm_max_unacked_stanzas: { field: "smMaxUnackedStanzas", min: 10, max: 1_000_000 },
  sm_max_unacked_bytes: { field: "smMaxUnackedBytes", min: 65_536, max: 2 ** 40 },
  csi_max_held: { field: "csiMaxHeld", min: 1, max: 100_000 },
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
  maxTotalSendQueueBytes: 256 * 1024 * 1024,
  preauthRateBytes: 10 * 1024,
  preauthBurstBytes: 64 * 1024,
  c2sRateBytes: 64 * 1024,
  c2sBurstBytes: 512 * 1024,
  authFailuresPerIpBurst: 10,
  authFailuresPerIpPerMinute: 30,
  pressureNegotiationTimeoutMs: 10_000,
  smResumeTimeoutS: 600,
  smMaxUnackedStanzas: 5000,
  smMaxUnackedBytes: 1024 * 1024,
  csiMaxHeld: 256,
};

function readTable(
  table: Record<string, unknown>,
  baseDir: string | undefined,
  modules: readonly AnyServerModule[],
): Input {
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
      case "direct_tls_port":
        input.directTlsPort = integer(key, value, 0, 65535);
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
        input.admins = bareJids(key, value);
        break;
      case "tls":
        input.tls = {};
        for (const [k, v] of Object.entries(subTable(key, value))) {
          const name = `tls.${k}`;
          if (k === "cert") input.tls.certFile = path(name, v);
          else if (k === "key") input.tls.keyFile = path(name, v);
          else if (k === "required") input.tls.required = boolean(name, v);
          else throw new InvalidValue(`unknown key "${name}"`);
        }
        break;
      case "limits":
        input.limits = {};
        for (const [k, v] of Object.entries(subTable(key, value))) {
          if (!Object.hasOwn(LIMIT_KEYS, k)) throw new InvalidValue(`unknown key "limits.${k}"`);
          const spec = LIMIT_KEYS[k];
          input.limits[spec.field] = integer(`limits.${k}`, v, spec.min, spec.max);
        }
        break;
      default: {
        const module = modules.find((m) => m.name === key);
        if (module === undefined) throw new InvalidValue(`unknown key "${key}"`);
        (input.sections ??= {})[key] = readSection(module, subTable(key, value));
      }
    }
  }
  return input;
}

/** Reads a module's section: `enabled` and the module's own options, by their snake_case keys. */
function readSection(
  module: AnyServerModule,
  table: Record<string, unknown>,
): Record<string, unknown> {
  const section: Record<string, unknown> = {};
  const options = module.options as Record<string, { read(key: string, value: unknown): unknown }>;
  const byKey = new Map(Object.keys(options).map((name) => [optionKey(name), name]));
  for (const [k, v] of Object.entries(table)) {
    const key = `${module.name}.${k}`;
    if (k === "enabled") {
      section.enabled = boolean(key, v);
      continue;
    }
    const name = byKey.get(k);
    if (name === undefined) throw new InvalidValue(`unknown key "${key}"`);
    section[name] = options[name].read(key, v);
  }
  return section;
}

/** A module's section with its defaults filled in and its own checks run. */
function buildSection(
  module: AnyServerModule,
  input: Record<string, unknown> = {},
): Record<string, unknown> {
  const section: Record<string, unknown> = { enabled: module.enabledByDefault ?? true };
  for (
    const [name, option] of Object.entries(module.options as Record<string, { default: unknown }>)
  ) {
    section[name] = Object.hasOwn(input, name) ? input[name] : structuredClone(option.default);
  }
  if (Object.hasOwn(input, "enabled")) section.enabled = input.enabled;
  module.check?.(section);
  return section;
}

function applyOverrides(input: Input, overrides: ConfigOverrides): Input {
  const result = { ...input };
  guard(null, () => {
    if (overrides.domain !== undefined) result.domain = domainName("--domain", overrides.domain);
    if (overrides.port !== undefined) result.port = integer("--port", overrides.port, 0, 65535);
    if (overrides.directTlsPort !== undefined) {
      result.directTlsPort = integer("--direct-tls-port", overrides.directTlsPort, 0, 65535);
    }
    if (overrides.bind !== undefined) result.bind = address("--bind", overrides.bind);
    if (overrides.dataDir !== undefined) {
      result.dataDir = nonEmptyString("--data-dir", overrides.dataDir);
    }
  });
  return result;
}

/** Fills in defaults, derives dependent values and checks options against each other. */
function build(
  input: Input,
  origin: string | null,
  modules: readonly AnyServerModule[],
): Config {
  const domain = input.domain ?? DEFAULT_DOMAIN;
  const dataDir = input.dataDir ?? DEFAULT_DATA_DIR;
  const core: CoreConfig = {
    domain,
    mucDomain: input.mucDomain ?? `conference.${domain}`,
    port: input.port ?? 5222,
    directTlsPort: input.directTlsPort === 0 ? null : input.directTlsPort ?? 5223,
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
  };
  const sections: Record<string, unknown> = {};
  guard(origin, () => {
    for (const module of modules) {
      if (CORE_KEYS.includes(module.name)) {
        throw new InvalidValue(`module "${module.name}" has the name of a core setting`);
      }
      sections[module.name] = buildSection(module, input.sections?.[module.name]);
    }
  });
  // The sections' types come from the module list; the built-in list gives Config its type.
  const config = { ...core, ...sections } as Config;
  guard(origin, () => {
    if (config.mucDomain === config.domain) {
      throw new InvalidValue(`muc_domain must differ from domain, both are "${config.domain}"`);
    }
    if (config.directTlsPort === config.port && config.port !== 0) {
      throw new InvalidValue(
        `direct_tls_port must differ from port, both are ${config.port} (0 turns direct TLS off)`,
      );
    }
    if ((config.tls.certFile === null) !== (config.tls.keyFile === null)) {
      throw new InvalidValue("tls.cert and tls.key must be set together");
    }
    if (config.limits.maxConnectionsPerIp > config.limits.maxConnections) {
      throw new InvalidValue(
        `limits.max_connections_per_ip must not exceed limits.max_connections (${config.limits.maxConnections}), got ${config.limits.maxConnectionsPerIp}`,
      );
    }
  });
  return config;
}

/** Runs `fn`, turning an {@linkcode InvalidValue} into a {@linkcode ConfigError} naming `origin`. */
function guard<T>(origin: string | null, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (!(error instanceof InvalidValue)) throw error;
    const where = origin === null ? "Cannot load config" : `Cannot load config "${origin}"`;
    throw new ConfigError(`${where}: ${error.message}`);
  }
}

/** A module's section of `config`, by module name (undefined for a module it does not know). */
export function moduleSection(config: Config, name: string): ModuleSection<unknown> | undefined {
  if (CORE_KEYS.includes(name)) return undefined;
  return (config as unknown as Record<string, ModuleSection<unknown> | undefined>)[name];
}
