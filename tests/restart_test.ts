// Persistence across a real restart: accounts and a password room survive, no plaintext on disk.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { addUsers, login, replayFixture } from "./_clients.ts";
import { startServerProcess } from "./_process.ts";

/** Every byte of the database, including its write-ahead log, as Latin-1 text for searching. */
async function databaseBytes(dataDir: string): Promise<string> {
  let all = "";
  for (const entry of Deno.readDirSync(dataDir)) {
    if (entry.name.startsWith("verona.sqlite")) {
      const bytes = await Deno.readFile(join(dataDir, entry.name));
      all += new TextDecoder("latin1").decode(bytes);
    }
  }
  return all;
}

Deno.test("a persistent password room survives a restart of the server process", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-restart-" });
  try {
    await addUsers([
      ["romeo@localhost", "montague-secret-1"],
      ["juliet@localhost", "capulet-secret-2"],
    ], ["--data", dataDir]);

    const first = await startServerProcess(["--data", dataDir]);
    let firstCode: number;
    try {
      await replayFixture("restart_before.scs", first.port);
      // A client still connected at shutdown is told why its stream ends.
      const lingering = await login(first.port, "juliet@localhost", "capulet-secret-2");
      firstCode = await first.stop("SIGTERM");
      const deadline = Date.now() + 5000;
      while (!lingering.closed && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(lingering.streamError?.condition, "system-shutdown");
    } catch (error) {
      await first.stop("SIGKILL");
      throw error;
    }
    assert.equal(firstCode, 0, "SIGTERM must exit 0");
    assert.match(first.stdout(), /stopped/);

    const second = await startServerProcess(["--data", dataDir]);
    try {
      await replayFixture("restart_after.scs", second.port);
    } finally {
      assert.equal(await second.stop("SIGINT"), 0, "SIGINT must exit 0");
    }

    const stored = await databaseBytes(dataDir);
    assert.ok(stored.includes("crypt@conference.localhost"), "the room is in the database");
    for (const secret of ["poison-and-dagger", "montague-secret-1", "capulet-secret-2"]) {
      assert.ok(!stored.includes(secret), `"${secret}" must not be stored in plaintext`);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
