// MUC persistence across a real restart of the server process: configuration, the password hash,
// affiliations with ban reasons, reserved nicknames, the subject and the discussion history.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { parseScript } from "../lib/replay/parse.ts";
import { formatFailure, runScript } from "../lib/replay/run.ts";
import { startServerProcess, verona } from "./_process.ts";

const FIXTURES = fromFileUrl(new URL("./fixtures/", import.meta.url));

async function replayFixture(name: string, port: number): Promise<void> {
  const path = join(FIXTURES, name);
  const script = parseScript(await Deno.readTextFile(path), path);
  const result = await runScript(script, { host: "127.0.0.1", port });
  if (!result.ok) throw new Error(formatFailure(result, name));
}

Deno.test("a persistent room's state and history survive a restart of the server process", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-muc-restart-" });
  try {
    for (
      const [jid, password] of [
        ["romeo@localhost", "romeo-secret"],
        ["juliet@localhost", "juliet-secret"],
        ["nurse@localhost", "nurse-secret"],
      ]
    ) {
      const added = await verona(["adduser", jid, password, "--data", dataDir]);
      assert.equal(added.code, 0, added.stderr);
    }
    const first = await startServerProcess(["--data", dataDir]);
    try {
      await replayFixture("muc_restart_before.scs", first.port);
    } finally {
      assert.equal(await first.stop("SIGTERM"), 0);
    }
    const second = await startServerProcess(["--data", dataDir]);
    try {
      await replayFixture("muc_restart_after.scs", second.port);
    } finally {
      assert.equal(await second.stop("SIGTERM"), 0);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
