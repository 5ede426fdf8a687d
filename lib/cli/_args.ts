// Shared command-line plumbing: usage errors, the config flags every command takes.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { type Config, ConfigError, loadConfig } from "../config/config.ts";

/** A mistake in how a command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {}

/** Flags that locate the configuration and data, accepted by every server-side command. */
export const CONFIG_FLAGS = {
  config: { type: "string" },
  data: { type: "string" },
  domain: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

/** parseArgs with errors turned into `UsageError`. */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Loads the configuration from `--config`, then applies flag overrides. */
export async function configFromFlags(
  values: {
    config?: string;
    data?: string;
    domain?: string;
    port?: string;
    "direct-tls-port"?: string;
    "http-port"?: string;
    "https-port"?: string;
    "s2s-port"?: string;
    bind?: string;
  },
): Promise<Config> {
  const config = await loadConfig({
    file: values.config,
    overrides: {
      dataDir: values.data,
      domain: values.domain,
      port: portFlag("--port", values.port),
      directTlsPort: portFlag("--direct-tls-port", values["direct-tls-port"]),
      bind: values.bind,
    },
  });
  // The HTTP ports are the http module's; on the command line, as for direct TLS, 0 is none.
  const httpPort = portFlag("--http-port", values["http-port"]);
  const httpsPort = portFlag("--https-port", values["https-port"]);
  if (httpPort !== undefined) config.http.port = httpPort === 0 ? null : httpPort;
  if (httpsPort !== undefined) config.http.httpsPort = httpsPort === 0 ? null : httpsPort;
  const s2sPort = portFlag("--s2s-port", values["s2s-port"]);
  if (s2sPort !== undefined) config.s2s.port = s2sPort === 0 ? null : s2sPort;
  return config;
}

function portFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`${flag} must be an integer from 0 to 65535, got "${value}"`);
  }
  return port;
}

/** Runs a command body, mapping known errors to messages and exit codes. */
export async function runCommand(
  usage: string,
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}\n\n${usage}`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
