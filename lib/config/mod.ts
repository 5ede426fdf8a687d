// Server configuration: types, defaults and loading from TOML (see verona.example.toml).
/**
 * @example
 * ```ts
 * import { loadConfig } from "./lib/config/mod.ts";
 * const config = await loadConfig({ file: "verona.toml", overrides: { port: 15222 } });
 * ```
 *
 * @module
 */
export {
  type Config,
  ConfigError,
  type ConfigOverrides,
  DATABASE_FILE,
  DEFAULT_DATA_DIR,
  DEFAULT_DOMAIN,
  DEFAULT_LIMITS,
  defaultConfig,
  type Limits,
  loadConfig,
  type LoadConfigOptions,
  type ParseConfigOptions,
  parseConfigToml,
  type TlsConfig,
} from "./config.ts";
