// MUC persistence across a real restart of the server process: configuration, the password hash,
// affiliations with ban reasons, reserved nicknames, the subject and the discussion history; the
// room's vCard (its avatar) and its archive with the senders' real JIDs.
import { strict as assert } from "node:assert";
import { addUsers, replayFixture } from "./_clients.ts";
import { startServerProcess } from "./_process.ts";

Deno.test("a persistent room's state and history survive a restart of the server process", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-muc-restart-" });
  try {
    await addUsers([
      ["romeo@localhost", "romeo-secret"],
      ["juliet@localhost", "juliet-secret"],
      ["nurse@localhost", "nurse-secret"],
    ], ["--data", dataDir]);
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

Deno.test("a persistent room's vCard and archive survive a restart of the server process", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-muc-vcard-restart-" });
  try {
    await addUsers([
      ["romeo@localhost", "romeo-secret"],
      ["juliet@localhost", "juliet-secret"],
    ], ["--data", dataDir]);
    const first = await startServerProcess(["--data", dataDir]);
    try {
      await replayFixture("muc_vcard_restart_before.scs", first.port);
    } finally {
      assert.equal(await first.stop("SIGTERM"), 0);
    }
    const second = await startServerProcess(["--data", dataDir]);
    try {
      await replayFixture("muc_vcard_restart_after.scs", second.port);
    } finally {
      assert.equal(await second.stop("SIGTERM"), 0);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
