// Interoperability of HTTP File Upload (lib/http_upload) with a client library written elsewhere:
// slixmpp's own xep_0363 plugin finds the service (XEP-0363 §3), honours its max-file-size, gets
// a slot (§4) and uploads with aiohttp over HTTPS (§7); the file comes back intact. The client
// program is tests/clients/slixmpp_upload.py.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { startTestServer } from "./_harness.ts";
import { runSlixmpp, serverArgs, slixmppAccounts, slixmppTest, userArgs } from "./_slixmpp.ts";

slixmppTest(
  "slixmpp upload: xep_0363 finds the service, uploads over HTTPS with the slot's headers, and the file comes back intact",
  "slixmpp HTTP File Upload interop",
  async (python) => {
    const max = 2 * 1024 * 1024;
    await using test = await startTestServer({
      accounts: slixmppAccounts(1),
      configure: (config) => {
        config.http_upload.maxFileSize = max;
      },
    });
    const file = join(test.dataDir, "holiday.bin");
    const tooBig = join(test.dataDir, "film.bin");
    const sent = new Uint8Array(1024 * 1024 + 4321);
    for (let at = 0; at < sent.length; at += 65536) {
      crypto.getRandomValues(sent.subarray(at, Math.min(at + 65536, sent.length)));
    }
    await Deno.writeFile(file, sent);
    await Deno.writeFile(tooBig, new Uint8Array(max + 1));
    const run = await runSlixmpp(python, "slixmpp_upload.py", {
      args: [...serverArgs(test), ...userArgs(1), "--file", file, "--too-big", tooBig],
    });
    const upload = run.one("upload") as { service: string; max_file_size: number; url: string };
    assert.equal(upload.service, "upload.localhost");
    assert.equal(upload.max_file_size, max);
    assert.match(
      upload.url,
      new RegExp(
        `^https://localhost:${test.server.http!.securePort}/upload/[\\w-]{22}/holiday\\.bin$`,
      ),
    );
    assert.deepEqual(run.one("download"), {
      status: 200,
      content_type: "application/octet-stream",
      size: sent.length,
      sha256: createHash("sha256").update(sent).digest("hex"),
    });
    assert.ok(run.one("too-big").refused);
  },
);
