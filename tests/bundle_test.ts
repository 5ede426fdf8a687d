// `deno task bundle` output runs the server from an empty directory.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { ReplayClient } from "../lib/replay/client.ts";
import { startServerProcess, verona } from "./_process.ts";

const ROOT = fromFileUrl(new URL("../", import.meta.url));

Deno.test("the bundled server runs from an empty directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "verona-bundle-" });
  try {
    const bundle = join(dir, "verona.js");
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform=deno", "-o", bundle, join(ROOT, "main.ts")],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));

    const run = join(dir, "empty");
    await Deno.mkdir(run);
    await Deno.copyFile(bundle, join(run, "verona.js"));
    const entry = join(run, "verona.js");
    const added = await verona(["adduser", "romeo", "pw"], { cwd: run, entry });
    assert.equal(added.code, 0, added.stderr);

    const server = await startServerProcess([], { cwd: run, entry });
    try {
      const client = new ReplayClient();
      await client.connect({
        host: "127.0.0.1",
        port: server.port,
        domain: "localhost",
        jid: "romeo@localhost",
        password: "pw",
        timeoutMs: 5000,
      });
      await client.sync();
      await client.disconnect();
    } finally {
      assert.equal(await server.stop(), 0);
    }
    // Zero configuration: data/ with the database and a generated certificate.
    const files = [...Deno.readDirSync(join(run, "data"))].map((e) => e.name).sort();
    assert.ok(files.includes("verona.sqlite"), files.join());
    assert.ok(files.includes("localhost.crt"), files.join());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
