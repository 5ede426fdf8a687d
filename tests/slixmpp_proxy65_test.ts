// Interoperability of the SOCKS5 Bytestreams proxy (lib/proxy65) with a client library written
// elsewhere: two slixmpp clients transfer a file through it with slixmpp's own xep_0065 plugin
// (XEP-0065 §4 discovery, §6.3 mediated connection and activation). The client program is
// tests/clients/slixmpp_proxy65.py.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { startTestServer } from "./_harness.ts";
import { runSlixmpp, serverArgs, slixmppAccounts, slixmppTest, userArgs } from "./_slixmpp.ts";

slixmppTest(
  "slixmpp file transfer: xep_0065 finds the proxy, opens a mediated bytestream and sends a file intact",
  "slixmpp SOCKS5 bytestreams interop",
  async (python) => {
    await using test = await startTestServer({
      accounts: slixmppAccounts(2),
      configure: (config) => {
        Object.assign(config.proxy65, {
          enabled: true,
          port: 0,
          bind: "127.0.0.1",
          rateBytes: 16 * 1024 * 1024,
          burstBytes: 16 * 1024 * 1024,
        });
      },
    });
    const file = join(test.dataDir, "letter.bin");
    const out = join(test.dataDir, "received.bin");
    const sent = new Uint8Array(3 * 1024 * 1024 + 12345);
    for (let at = 0; at < sent.length; at += 65536) {
      crypto.getRandomValues(sent.subarray(at, Math.min(at + 65536, sent.length)));
    }
    await Deno.writeFile(file, sent);
    const run = await runSlixmpp(python, "slixmpp_proxy65.py", {
      args: [
        ...serverArgs(test),
        ...userArgs(2),
        "--file",
        file,
        "--out",
        out,
      ],
    });
    const { proxies } = run.one("discover") as { proxies: Record<string, [string, string]> };
    assert.deepEqual(Object.keys(proxies), ["proxy.localhost"]);
    const [host, port] = proxies["proxy.localhost"];
    assert.equal(host, "127.0.0.1");
    assert.ok(Number(port) > 0);
    assert.deepEqual(run.one("handshake"), { peer: ["127.0.0.1", Number(port)] });
    const digest = createHash("sha256").update(sent).digest("hex");
    assert.deepEqual(run.one("send"), { sent: sent.length, received: sent.length, sha256: digest });
    assert.deepEqual(await Deno.readFile(out), sent);
    assert.deepEqual(run.one("streamhost"), { jid: "proxy.localhost", host, port });
  },
);
