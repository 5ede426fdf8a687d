// The contract every server feature implements: a name that is also its configuration section,
// typed options with defaults, dependencies, disco features, its own tables, and start/stop.
// After Prosody's modules, ejabberd's gen_mod (start, stop, depends, mod_options) and xmpp.js's
// factories that receive their dependencies: nothing is ambient, the context is passed in.
import type { DatabaseSync } from "node:sqlite";
import type { Accounts } from "../accounts/accounts.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { ClientTransport } from "../net/transport.ts";
import type { Router } from "../router/router.ts";

/** One option of a module's configuration section. */
export interface ModuleOption<T> {
  /** The value when the section does not set it; copied for each configuration. */
  readonly default: T;
  /**
   * Validates a value from the file. `key` is the dotted name for messages
   * (`vcard.max_bytes`); throw through the readers of lib/config/values.ts, which name it.
   */
  read(key: string, value: unknown): T;
}

/**
 * A module's options, keyed by their camelCase name; the TOML key is its snake_case form
 * (`maxMessages` is `max_messages`). Every section also has `enabled`, which is not listed here.
 */
export type ModuleOptions<C> = { readonly [K in keyof C]: ModuleOption<C[K]> };

/** A module's configuration section as parsed: its options and whether it runs. */
export type ModuleSection<C> = C & { enabled: boolean };

/** Service-discovery features (XEP-0030) a module adds while it runs. */
export interface ModuleFeatures {
  /** On the server's disco#info. */
  server?: readonly string[];
  /** On the disco#info of every account's bare JID. */
  account?: readonly string[];
}

/** The server-wide settings modules may read. */
export interface ServerInfo {
  /** The XMPP domain served. */
  readonly domain: string;
  /** Domain of the multi-user chat service. */
  readonly mucDomain: string;
  /** Bare JIDs with administrative rights. */
  readonly admins: readonly string[];
  /** The data directory, where modules keep files beside the database (absent in unit tests). */
  readonly dataDir?: string;
  /** The server's certificate and key, PEM (for listeners of their own, e.g. HTTPS). */
  readonly certificate?: { readonly certPem: string; readonly keyPem: string };
  /**
   * Hands a client connection of another transport (e.g. WebSocket, RFC 7395) to the server,
   * which runs a c2s stream over it with the same authentication, limits and routing as TCP
   * clients. Callable once every module has started (absent in unit tests).
   */
  readonly acceptClient?: (transport: ClientTransport) => void;
}

/** What a module's `start` receives: everything it may use, and nothing else. */
export interface ModuleContext<C = Record<never, never>, D = Record<never, never>> {
  /** Where handlers are registered: iq registry, hooks, stream features, components. */
  readonly router: Router;
  /** The server's database; the module's own migrations have been applied. */
  readonly db: DatabaseSync;
  /** The module's own section, validated, with every default filled in. */
  readonly config: Readonly<C>;
  readonly server: ServerInfo;
  readonly accounts: Accounts;
  readonly log: (line: string) => void;
  /** The server's metrics (OpenMetrics at `/metrics`): register counters and gauges here. */
  readonly metrics: Metrics;
  /**
   * What the modules named in `dependsOn` returned from their `start` (always there), and those
   * in `uses` (undefined when that module is disabled).
   */
  readonly modules: D;
  /** The disco#info feature sets, for features that depend on more than the configuration. */
  readonly features: { readonly server: Set<string>; readonly account: Set<string> };
}

/** A started module: what it offers other modules, and how it stops. */
export interface StartedModule<A> {
  readonly api: A;
  stop?(): void | Promise<void>;
}

/**
 * A server feature. `C` is its configuration, `A` what `start` offers other modules, `D` the
 * APIs of the modules it depends on, by name.
 *
 * @example
 * ```ts
 * export const PING_MODULE: ServerModule = {
 *   name: "ping",
 *   description: "XMPP Ping (XEP-0199) on the server and on accounts",
 *   dependsOn: [],
 *   options: {},
 *   start({ router }) {
 *     pingModule(router);
 *   },
 * };
 * ```
 */
export interface ServerModule<
  C = Record<never, never>,
  A = void,
  D = Record<never, never>,
> {
  /** Short snake_case name, also its configuration section: `[<name>] enabled = false`. */
  readonly name: string;
  /** One line: the specification and what it does. */
  readonly description: string;
  /** Modules that must be enabled, started before this one. */
  readonly dependsOn: readonly (keyof D & string)[];
  /** Modules started before this one when enabled; their API is undefined when disabled. */
  readonly uses?: readonly (keyof D & string)[];
  /** Whether it runs when its section says nothing; default true. */
  readonly enabledByDefault?: boolean;
  /** Its options besides `enabled`. */
  readonly options: ModuleOptions<C>;
  /** Cross-checks of its options once all are read; throw `InvalidValue` naming the key. */
  check?(config: Readonly<C>): void;
  /** Disco features added while it runs (a function when they depend on the configuration). */
  readonly features?: ModuleFeatures | ((config: Readonly<C>) => ModuleFeatures);
  /**
   * Its own tables, oldest step first; applied once each, in a transaction, and recorded in
   * `module_schema` under its name. Never edit a step that has shipped: append one.
   */
  readonly migrations?: readonly string[];
  /**
   * Registers its handlers; returns its API for other modules, or nothing. It may be async (a
   * listener to bind): the next module starts once it has resolved.
   */
  start(context: ModuleContext<C, D>): StartResult<A> | Promise<StartResult<A>>;
}

/** What `start` returns: nothing, or the module's API with an optional `stop`. */
export type StartResult<A> = [A] extends [void] ? void | { stop?(): void | Promise<void> }
  : StartedModule<A>;

/** Any module, whatever its types (for lists and the loader). */
// deno-lint-ignore no-explicit-any
export type AnyServerModule = ServerModule<any, any, any>;

/** The configuration type of a module. */
export type ConfigOf<M> = M extends ServerModule<infer C, infer _A, infer _D> ? C : never;

/** The API type of a module. */
export type ApiOf<M> = M extends ServerModule<infer _C, infer A, infer _D> ? A : never;

/** The TOML key of an option: `maxMessages` is `max_messages`. */
export function optionKey(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => "_" + letter.toLowerCase());
}

/** A module whose name is known to the type system (the built-in ones: `config.<name>`). */
export type NamedModule<
  N extends string,
  C = Record<never, never>,
  A = void,
  D = Record<never, never>,
> = ServerModule<C, A, D> & { readonly name: N };
