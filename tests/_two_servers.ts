// Two Verona servers federating on loopback (RFC 6120 s2s), for the federation tests:
// a.localhost (account alice) and b.localhost (account bob), each with its MUC service, finding
// each other through static routes and authenticating by dialback (self-signed certificates
// allowed by `insecure_domains`) or, given a test CA, by SASL EXTERNAL.
import type { IssuedCertificate } from "./_ca.ts";
import type { Config } from "../lib/config/config.ts";
import { startTestServer, type TestServer } from "./_harness.ts";
import { freePort } from "./bench/_foreign_server.ts";
import type { ReplayClient } from "../lib/replay/client.ts";

/** Certificates from one test CA that both servers trust (the certificate path). */
export interface CaSetup {
  caPath: string;
  a: IssuedCertificate;
  b: IssuedCertificate;
}

/** Starts a.localhost and b.localhost, each routing to the other; dispose to stop both. */
export async function twoServers(
  ca?: CaSetup,
  /** More `[s2s]` settings for both servers. */
  s2s: Partial<Config["s2s"]> = {},
): Promise<{ a: TestServer; b: TestServer; [Symbol.asyncDispose](): Promise<void> }> {
  const ports = { a: freePort(), b: freePort() };
  const start = (name: "a" | "b", other: "a" | "b") =>
    startTestServer({
      accounts: [[name === "a" ? "alice" : "bob", "secret"]],
      configure: (config) => {
        config.domain = `${name}.localhost`;
        config.mucDomain = `conference.${name}.localhost`;
        if (ca !== undefined) {
          config.tls.certFile = ca[name].certPath;
          config.tls.keyFile = ca[name].keyPath;
        }
        Object.assign(config.s2s, {
          port: ports[name],
          // With a CA, no exception: certificates must be good. Without, self-signed + dialback.
          insecureDomains: ca !== undefined
            ? []
            : [`${other}.localhost`, `conference.${other}.localhost`],
          caFile: ca?.caPath ?? "",
          staticRoutes: new Map([
            [`${other}.localhost`, { host: "127.0.0.1", port: ports[other] }],
            [`conference.${other}.localhost`, { host: "127.0.0.1", port: ports[other] }],
          ]),
          retryAfterS: 0,
          ...s2s,
        });
      },
    });
  const a = await start("a", "b");
  const b = await start("b", "a");
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      await Promise.all([a[Symbol.asyncDispose](), b[Symbol.asyncDispose]()]);
    },
  };
}

/** The next stanza `client` receives, or the next named `name`; 8 s at most each. */
export async function next(client: ReplayClient, name?: string) {
  for (;;) {
    const { stanza } = await client.waitForStanza({ timeoutMs: 8000 });
    if (name === undefined || stanza.name === name) return stanza;
  }
}
