// Starting the enabled server modules in dependency order, and stopping them in reverse.
import type { DatabaseSync } from "node:sqlite";
import type { Accounts } from "../accounts/accounts.ts";
import { Metrics } from "../metrics/metrics.ts";
import type { Router } from "../router/router.ts";
import { migrateModule } from "../storage/sqlite.ts";
import type {
  AnyServerModule,
  ModuleContext,
  ModuleFeatures,
  ModuleSection,
  ServerInfo,
  ServerModule,
} from "./module.ts";

/** A module list that cannot start: an unknown or disabled dependency, a cycle, a failed start. */
export class ModuleError extends Error {
  override name = "ModuleError";
}

/** What the loader gives every module's context, and where it finds their sections. */
export interface LoadOptions {
  router: Router;
  db: DatabaseSync;
  accounts: Accounts;
  server: ServerInfo;
  log: (line: string) => void;
  /** Where modules register metrics; a fresh registry when not given. */
  metrics?: Metrics;
  /** A module's parsed section (`enabled` and its options), by module name. */
  section(name: string): ModuleSection<unknown> | undefined;
}

/**
 * The enabled modules of `modules` in start order: each after the modules it depends on or
 * uses, otherwise in list order.
 *
 * @throws {ModuleError} naming both modules when an enabled module depends on a disabled or
 * unknown one, or the modules of a dependency cycle.
 */
export function startOrder(
  modules: readonly AnyServerModule[],
  enabled: (name: string) => boolean,
): AnyServerModule[] {
  const byName = new Map<string, AnyServerModule>();
  for (const module of modules) {
    if (byName.has(module.name)) {
      throw new ModuleError(`Cannot start server: two modules are named "${module.name}"`);
    }
    byName.set(module.name, module);
  }
  const order: AnyServerModule[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (module: AnyServerModule, path: string[]) => {
    if (state.get(module.name) === "done") return;
    if (state.get(module.name) === "visiting") {
      throw new ModuleError(
        `Cannot start server: modules depend on each other in a cycle: ${
          [...path.slice(path.indexOf(module.name)), module.name].join(" -> ")
        }`,
      );
    }
    state.set(module.name, "visiting");
    for (const name of module.dependsOn) {
      const dependency = byName.get(name);
      if (dependency === undefined) {
        throw new ModuleError(
          `Cannot start server: module "${module.name}" depends on "${name}", which does not exist`,
        );
      }
      if (!enabled(name)) {
        throw new ModuleError(
          `Cannot start server: module "${module.name}" depends on module "${name}", which is disabled ([${name}] enabled = false); enable "${name}" or disable "${module.name}"`,
        );
      }
      visit(dependency, [...path, module.name]);
    }
    for (const name of module.uses ?? []) {
      const used = byName.get(name);
      if (used !== undefined && enabled(name)) visit(used, [...path, module.name]);
    }
    state.set(module.name, "done");
    order.push(module);
  };
  for (const module of modules) if (enabled(module.name)) visit(module, []);
  return order;
}

/** The started modules: their APIs, and stopping them. */
export class RunningModules {
  #started: { module: AnyServerModule; stop?: () => void | Promise<void> }[];
  #apis: Map<string, unknown>;
  #stopped: Promise<void> | null = null;
  #log: (line: string) => void;

  constructor(
    started: { module: AnyServerModule; stop?: () => void | Promise<void> }[],
    apis: Map<string, unknown>,
    log: (line: string) => void,
  ) {
    this.#started = started;
    this.#apis = apis;
    this.#log = log;
  }

  /** The names of the running modules, in start order. */
  get names(): string[] {
    return this.#started.map(({ module }) => module.name);
  }

  /** Whether a module runs. */
  has(name: string): boolean {
    return this.#started.some(({ module }) => module.name === name);
  }

  /** What a running module's `start` returned; undefined when it does not run. */
  // deno-lint-ignore no-explicit-any
  api<A>(module: ServerModule<any, A, any>): A | undefined {
    return this.#apis.get(module.name) as A | undefined;
  }

  /** Stops the modules in reverse start order; one failing is logged and the others still stop. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      for (const { module, stop } of [...this.#started].reverse()) {
        try {
          await stop?.();
        } catch (error) {
          this.#log(`error stopping module ${module.name}: ${describe(error)}`);
        }
      }
    })();
    return this.#stopped;
  }
}

/**
 * Starts the enabled modules of `modules` in {@linkcode startOrder}: applies each one's own
 * migrations, adds its declared disco features, and calls `start` with its context. If one fails,
 * those already started are stopped and the error names the module.
 *
 * @throws {ModuleError} for a dependency problem, a missing section or a failed start.
 */
export async function startModules(
  modules: readonly AnyServerModule[],
  options: LoadOptions,
): Promise<RunningModules> {
  const sectionOf = (name: string) => {
    const section = options.section(name);
    if (section === undefined) {
      throw new ModuleError(`Cannot start server: no configuration section for module "${name}"`);
    }
    return section;
  };
  const order = startOrder(modules, (name) => sectionOf(name).enabled);
  const apis = new Map<string, unknown>();
  const started: { module: AnyServerModule; stop?: () => void | Promise<void> }[] = [];
  const running = new RunningModules(started, apis, options.log);
  const features = { server: options.router.serverFeatures, account: new Set<string>() };
  const metrics = options.metrics ?? new Metrics();
  for (const module of order) {
    try {
      const config = sectionOf(module.name);
      if (module.migrations !== undefined && module.migrations.length > 0) {
        migrateModule(options.db, module.name, module.migrations);
      }
      const declared: ModuleFeatures = typeof module.features === "function"
        ? module.features(config)
        : module.features ?? {};
      for (const feature of declared.server ?? []) features.server.add(feature);
      for (const feature of declared.account ?? []) features.account.add(feature);
      const context: ModuleContext<unknown, Record<string, unknown>> = {
        router: options.router,
        db: options.db,
        config,
        server: options.server,
        accounts: options.accounts,
        log: options.log,
        metrics,
        modules: Object.fromEntries(
          [...module.dependsOn, ...(module.uses ?? [])].map((name) => [name, apis.get(name)]),
        ),
        features,
      };
      const result = await module.start(context) as
        | { api?: unknown; stop?: () => void | Promise<void> }
        | undefined;
      started.push({ module, stop: result?.stop?.bind(result) });
      if (result !== undefined && "api" in result) apis.set(module.name, result.api);
    } catch (error) {
      await running.stop();
      if (error instanceof ModuleError) throw error;
      throw new ModuleError(`Cannot start module "${module.name}": ${describe(error)}`, {
        cause: error,
      });
    }
  }
  return running;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
