// The login floor answers the bench client's whole login over real TCP + STARTTLS, so that
// bench:compare's floor column measures a login that really happened.
import { strict as assert } from "node:assert";
import { ensureCertificate } from "../../lib/net/certificate.ts";
import { BenchClient } from "./_bench_client.ts";
import { startLoginFloor } from "./login_floor.ts";

Deno.test("the login floor logs the bench client in and answers its ping", async () => {
  const dir = await Deno.makeTempDir({ prefix: "verona-floor-" });
  const { certPath, keyPath } = await ensureCertificate({ dataDir: dir, domain: "localhost" });
  const floor = await startLoginFloor({
    certPem: await Deno.readTextFile(certPath),
    keyPem: await Deno.readTextFile(keyPath),
    password: "floor-password",
  });
  const login = {
    host: "127.0.0.1",
    port: floor.port,
    domain: "localhost",
    password: "floor-password",
    mechanism: "SCRAM-SHA-1" as const,
    resource: "r",
    timeoutMs: 10_000,
  };
  const client = new BenchClient();
  const wrong = new BenchClient();
  try {
    await client.login({ ...login, username: "bench7" });
    assert.equal(client.fullJid, "bench7@localhost/floor");
    await client.ping("localhost", 10_000);
    // SCRAM is real: a wrong password is refused.
    await assert.rejects(
      wrong.login({ ...login, username: "bench8", password: "not-it" }),
      /SASL SCRAM-SHA-1: server refused: not-authorized/,
    );
  } finally {
    client.close();
    wrong.close();
    await floor.close();
    await Deno.remove(dir, { recursive: true });
  }
});
