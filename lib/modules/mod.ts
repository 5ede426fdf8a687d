// Server modules: the contract every protocol feature implements, the loader, the built-in list.
/**
 * @example
 * ```ts
 * import { BUILTIN_MODULES, startModules } from "./lib/modules/mod.ts";
 * const modules = await startModules(BUILTIN_MODULES, { router, db, accounts, server, log, section });
 * await modules.stop();
 * ```
 *
 * @module
 */
export {
  type AnyServerModule,
  type ApiOf,
  type ConfigOf,
  type ModuleContext,
  type ModuleFeatures,
  type ModuleOption,
  type ModuleOptions,
  type ModuleSection,
  type NamedModule,
  optionKey,
  type ServerInfo,
  type ServerModule,
  type StartedModule,
  type StartResult,
} from "./module.ts";
export {
  type LoadOptions,
  ModuleError,
  RunningModules,
  startModules,
  startOrder,
} from "./loader.ts";
export { BUILTIN_MODULES } from "./builtin.ts";
export { accountReply, type AccountTarget, accountTarget } from "./account_iq.ts";
