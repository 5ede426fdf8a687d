// `verona start`: run the server until SIGINT/SIGTERM.
import { Server } from "../server/server.ts";
import { CONFIG_FLAGS, configFromFlags, parseFlags, runCommand, UsageError } from "./_args.ts";

export const START_USAGE = `Usage: verona start [options]

Runs the XMPP server: client connections on --port (STARTTLS required) and on
--direct-tls-port (TLS from the first byte, XEP-0368), multi-user chat at
conference.<domain>. Stops cleanly on Ctrl-C or SIGTERM;
SIGUSR2 logs a status line (connections, streams, sessions, memory). Never send
SIGUSR1: the Deno runtime answers it by opening a V8 inspector on 127.0.0.1:9229,
which gives anyone who connects to it control of the process.

Options:
  --config FILE   TOML configuration file (see lib/config/verona.example.toml)
  --domain NAME   XMPP domain to serve (default: localhost)
  --port N        client port (default: 5222; 0 picks a free port)
  --direct-tls-port N
                  client port for direct TLS (default: 5223; 0: none)
  --http-port N   HTTP port: upload, WebSocket, host-meta, metrics (default: 5280; 0: none)
  --https-port N  the same over HTTPS with the server's certificate (default: 5281; 0: none)
  --s2s-port N    port for other servers, federation (default: 5269; 0: none, still
                  connecting out)
  --bind ADDR     address to listen on (default: 0.0.0.0)
  --data DIR      data directory: database and certificate (default: ./data)
  -h, --help      show this help`;

export function startCommand(args: string[]): Promise<number> {
  return runCommand(START_USAGE, async () => {
    const { values, positionals } = parseFlags(args, {
      ...CONFIG_FLAGS,
      port: { type: "string" },
      "direct-tls-port": { type: "string" },
      "http-port": { type: "string" },
      "https-port": { type: "string" },
      "s2s-port": { type: "string" },
      bind: { type: "string" },
    });
    if (values.help) {
      console.log(START_USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const config = await configFromFlags(values);
    const server = await Server.start(config);
    const status = () => console.error(`${new Date().toISOString()} ${server.statusLine()}`);
    // Every listener is in place before the line below tells that the server is ready. Status
    // on SIGUSR2, not SIGUSR1, which Deno (as Node) takes as "open the inspector" regardless.
    Deno.addSignalListener("SIGUSR2", status);
    const stopped = new Promise<void>((resolve) => {
      const stop = () => resolve();
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
    });
    // The c2s port stays the one right before " for": tools read it from this line.
    console.log(
      `Verona listening for clients (c2s, STARTTLS${config.tls.required ? " required" : ""}) ` +
        `on ${config.bind}:${server.port} for ${config.domain}; ` +
        (server.directTlsPort === null
          ? ""
          : `direct TLS (XEP-0368) on ${config.bind}:${server.directTlsPort}; `) +
        `MUC at ${config.mucDomain}; ` + httpLine(server) + s2sLine(server) +
        `data in ${config.dataDir}`,
    );
    await stopped;
    Deno.removeSignalListener("SIGUSR2", status);
    console.log("Verona stopping: closing every stream with <system-shutdown/>");
    await server.stop();
    console.log("Verona stopped");
    return 0;
  });
}

/** Federation for the ready line. */
function s2sLine(server: Server): string {
  const s2s = server.s2s;
  if (s2s === null) return "federation off; ";
  return s2s.port === null
    ? "federation outgoing only; "
    : `federation (s2s) on ${server.config.s2s.bind}:${s2s.port}; `;
}

/** The HTTP listeners for the ready line ("" without any). */
function httpLine(server: Server): string {
  const http = server.http;
  if (http === null) return "";
  const parts = [
    http.port === null ? "" : `HTTP on ${http.port}`,
    http.securePort === null ? "" : `HTTPS on ${http.securePort}`,
  ].filter(Boolean);
  return parts.length === 0 ? "" : `${parts.join(", ")} (${http.url("/")}); `;
}
