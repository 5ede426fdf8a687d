// A returning client resumes its TLS session (a TLS 1.3 ticket) over STARTTLS and over direct
// TLS (XEP-0368), which skips the certificate's signature: with RSA-2048 most of a login's cost.
import { strict as assert } from "node:assert";
import { BenchClient, type BenchLogin } from "./bench/_bench_client.ts";
import { startTestServer } from "./_harness.ts";

for (const directTls of [false, true]) {
  Deno.test(`a returning client resumes its TLS session over ${directTls ? "direct TLS" : "STARTTLS"}`, async () => {
    await using test = await startTestServer({
      accounts: [["juliet", "secret"]],
      configure: (config) => {
        config.directTlsPort = 0;
      },
    });
    const login: BenchLogin = {
      host: "127.0.0.1",
      port: directTls ? test.server.directTlsPort! : test.port,
      domain: "localhost",
      username: "juliet",
      password: "secret",
      mechanism: "SCRAM-SHA-1",
      resource: "phone",
      timeoutMs: 10_000,
      directTls,
    };
    const first = new BenchClient();
    const second = new BenchClient();
    const stranger = new BenchClient();
    try {
      await first.login(login);
      assert.equal(first.tlsResumed, false);
      const session = first.tlsSession;
      assert.ok(session !== undefined, "the server gave a session to resume");
      first.close();
      await second.login({ ...login, tlsSession: session });
      assert.equal(second.tlsResumed, true);
      assert.equal(second.fullJid, "juliet@localhost/phone");
      // A session the server never gave is not resumed: a full handshake, and the login works.
      const forged = Uint8Array.from(session, (byte) => byte ^ 0x5a);
      await stranger.login({ ...login, resource: "laptop", tlsSession: forged });
      assert.equal(stranger.tlsResumed, false);
      await stranger.ping("localhost", 10_000);
    } finally {
      first.close();
      second.close();
      stranger.close();
    }
  });
}
