// The command line as an admin uses it: account commands, help, errors and exit codes.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { ReplayClient } from "../lib/replay/client.ts";
import { SqliteRosterStore } from "../lib/storage/roster_store.ts";
import { openDatabase } from "../lib/storage/sqlite.ts";
import { startServerProcess, verona } from "./_process.ts";

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
  for (const command of ["start", "adduser", "passwd", "deluser", "users", "user", "spec"]) {
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

Deno.test("user show prints an account's counts, last activity and live sessions", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-cli-" });
  try {
    const added = await verona(["adduser", "romeo", "s3cret", "--data", dataDir]);
    assert.equal(added.code, 0, added.stderr);

    const fresh = await verona(["user", "show", "romeo@localhost", "--data", dataDir]);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /^romeo@localhost$/m);
    assert.match(fresh.stdout, /roster: +0 contacts/);
    assert.match(fresh.stdout, /offline: +0 messages/);
    assert.match(fresh.stdout, /last activity: never logged out/);
    assert.match(fresh.stdout, /sessions: +0/);

    const server = await startServerProcess(["--data", dataDir]);
    try {
      const client = new ReplayClient();
      await client.connect({
        host: "127.0.0.1",
        port: server.port,
        jid: "romeo@localhost/balcony",
        password: "s3cret",
        timeoutMs: 5000,
      });
      client.send(`<presence><status>Wherefore</status></presence>`);
      await client.sync(5000);
      const online = await verona(["user", "show", "romeo", "--data", dataDir]);
      assert.equal(online.code, 0, online.stderr);
      assert.match(online.stdout, /last activity: online now/);
      assert.match(online.stdout, /sessions: +1\n +romeo@localhost\/balcony +since /);
      const status = await verona(["status", "--data", dataDir, "--json"]);
      assert.equal(status.code, 0, status.stderr);
      const figures = JSON.parse(status.stdout);
      assert.equal(figures.connections, 1);
      assert.equal(figures.sessions, 1);
      assert.deepEqual(figures.connectionsPerAddress, { "127.0.0.1": 1 });
      client.send(`<presence type='unavailable'><status>Banished</status></presence>`);
      await client.disconnect(5000);
    } finally {
      assert.equal(await server.stop(), 0);
    }

    const after = await verona(["user", "show", "romeo", "--data", dataDir]);
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /last activity: logged out .* ago\): "Banished"/);
    assert.match(after.stdout, /sessions: +0 \(no server running\)/);
    const noServer = await verona(["status", "--data", dataDir]);
    assert.equal(noServer.code, 1);
    assert.match(noServer.stderr, /no server answers/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("user show: errors and exit codes", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-cli-" });
  try {
    const missing = await verona(["user", "show", "nobody", "--data", dataDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such user: nobody@localhost/);

    const noSub = await verona(["user", "--data", dataDir]);
    assert.equal(noSub.code, 2);
    assert.match(noSub.stderr, /missing subcommand/);
    assert.match(noSub.stderr, /Usage: verona user show/);

    const badSub = await verona(["user", "delete", "romeo", "--data", dataDir]);
    assert.equal(badSub.code, 2);
    assert.match(badSub.stderr, /unknown subcommand "delete"/);

    const foreign = await verona(["user", "show", "romeo@elsewhere.example", "--data", dataDir]);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /not on this server's domain/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("deluser reserves the name for in-band registration; adduser ignores that", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-cli-" });
  try {
    assert.equal((await verona(["adduser", "romeo", "pw", "--data", dataDir])).code, 0);
    assert.equal((await verona(["deluser", "romeo", "--data", dataDir])).code, 0);
    {
      using db = openDatabase(join(dataDir, "verona.sqlite"));
      const row = db.prepare("SELECT removed_at FROM account_tombstones WHERE username = ?")
        .get("romeo");
      assert.ok(row !== undefined, "deluser writes a tombstone");
    }
    const again = await verona(["adduser", "romeo", "pw2", "--data", dataDir]);
    assert.equal(again.code, 0, again.stderr);
    const help = await verona(["adduser", "--help"]);
    assert.match(help.stdout, /tombstone/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("deluser takes the account off other users' rosters", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-cli-" });
  try {
    for (const user of ["romeo", "mercutio"]) {
      assert.equal((await verona(["adduser", user, "pw", "--data", dataDir])).code, 0);
    }
    {
      using db = openDatabase(join(dataDir, "verona.sqlite"));
      new SqliteRosterStore(db).put("romeo", {
        jid: "mercutio@localhost",
        subscription: "both",
        ask: false,
        approved: false,
        groups: [],
      });
    }
    const deleted = await verona(["deluser", "mercutio@localhost", "--data", dataDir]);
    assert.equal(deleted.code, 0, deleted.stderr);
    using db = openDatabase(join(dataDir, "verona.sqlite"));
    assert.deepEqual(new SqliteRosterStore(db).items("romeo"), []);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("start: SIGUSR2 logs a status line (SIGUSR1 is the runtime's inspector signal)", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-cli-status-" });
  try {
    const server = await startServerProcess(["--data", dataDir]);
    try {
      Deno.kill(server.pid, "SIGUSR2");
      const until = Date.now() + 5000;
      while (!server.stderr().includes("status: ") && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.match(server.stderr(), /status: 0 connections open, 0 streams, 0 sessions bound/);
    } finally {
      assert.equal(await server.stop("SIGTERM"), 0);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
