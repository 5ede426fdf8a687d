// The command line as an admin uses it: account commands, help, errors and exit codes.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { verona } from "./_process.ts";

Deno.test("adduser, passwd, users and deluser manage accounts in the data dir", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-cli-" });
  try {
    const added = await verona(["adduser", "Romeo@localhost", "s3cret", "--data", dataDir]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /Created romeo@localhost/);

    const again = await verona(["adduser", "romeo", "other", "--data", dataDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);

    const changed = await verona(["passwd", "romeo@localhost", "n3w", "--data", dataDir]);
    assert.equal(changed.code, 0, changed.stderr);

    const listed = await verona(["users", "--data", dataDir]);
    assert.equal(listed.stdout.trim(), "romeo@localhost");

    const deleted = await verona(["deluser", "romeo@localhost", "--data", dataDir]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const missing = await verona(["deluser", "romeo@localhost", "--data", dataDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such user/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("usage errors exit 2 with a message and the usage", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-cli-" });
  try {
    const missing = await verona(["adduser", "romeo", "--data", dataDir]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /expected 2 arguments/);
    assert.match(missing.stderr, /Usage: verona adduser/);

    const foreign = await verona(["adduser", "romeo@elsewhere.example", "pw", "--data", dataDir]);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /not on this server's domain/);

    const unknownFlag = await verona(["start", "--colour"]);
    assert.equal(unknownFlag.code, 2);
    assert.match(unknownFlag.stderr, /colour/);

    const unknownCommand = await verona(["launch"]);
    assert.equal(unknownCommand.code, 2);
    assert.match(unknownCommand.stderr, /unknown command "launch"/);

    const badPort = await verona(["start", "--port", "http", "--data", dataDir]);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /--port must be an integer/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("--help works for every command", async () => {
  for (const command of ["start", "adduser", "passwd", "deluser", "users", "spec"]) {
    const help = await verona([command, "--help"]);
    assert.equal(help.code, 0, `${command}: ${help.stderr}`);
    assert.match(help.stdout, /Usage: verona/);
  }
  const top = await verona(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Commands:/);
});

Deno.test("a config file sets the domain, and its errors name the key and the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "verona-cli-" });
  try {
    const config = join(dir, "verona.toml");
    await Deno.writeTextFile(config, `domain = "example.org"\ndata_dir = "state"\n`);
    const added = await verona(["adduser", "nurse@example.org", "pw", "--config", config]);
    assert.equal(added.code, 0, added.stderr);
    const listed = await verona(["users", "--config", config]);
    assert.equal(listed.stdout.trim(), "nurse@example.org");
    await Deno.stat(join(dir, "state", "verona.sqlite"));

    await Deno.writeTextFile(config, `port = "abc"\n`);
    const bad = await verona(["users", "--config", config]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /verona\.toml/);
    assert.match(bad.stderr, /port/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
