// Replays every spec/**/*.scs and the seed scripts against a fresh in-process server.
import { strict as assert } from "node:assert";
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { parseScript } from "../lib/replay/parse.ts";
import { formatFailure, runScript } from "../lib/replay/run.ts";
import { parseJid } from "../lib/jid/jid.ts";
import { startTestServer } from "./_harness.ts";

const ROOT = fromFileUrl(new URL("../", import.meta.url));
const SPEC_DIR = join(ROOT, "spec");
/** The acceptance scripts, an unchanged copy kept in the project. */
const SEED_DIR = join(SPEC_DIR, "seeds");
/** Where the upstream seeds sit beside a developer's or CI's checkout, when they do. */
const UPSTREAM_SEED_DIR = join(ROOT, "..", "shared", "seeds");

function scriptsIn(dir: string, skip?: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (path === skip) continue;
    if (entry.isDirectory) found.push(...scriptsIn(path, skip));
    else if (entry.name.endsWith(".scs")) found.push(path);
  }
  return found.sort();
}

async function replay(path: string, mechanism?: string): Promise<void> {
  const script = parseScript(await Deno.readTextFile(path), path);
  const accounts: [string, string][] = [...script.clients.values()].map((
    client,
  ) => [parseJid(client.jid).local, client.password]);
  // A script may come with a configuration of its own: `name.toml` beside `name.scs`.
  const tomlPath = path.replace(/\.scs$/, ".toml");
  const text = await Deno.readTextFile(tomlPath).catch(() => undefined);
  await using test = await startTestServer({
    accounts,
    toml: text === undefined ? undefined : { text, origin: tomlPath },
  });
  const result = await runScript(script, {
    host: "127.0.0.1",
    port: test.port,
    mechanisms: mechanism ? [mechanism] : undefined,
  });
  if (!result.ok) {
    throw new Error(
      formatFailure(result, relative(ROOT, path)) + "\n\nserver log:\n" + test.log.join("\n"),
    );
  }
}

const seeds = scriptsIn(SEED_DIR);
if (seeds.length === 0) throw new Error(`No seed scripts found in ${SEED_DIR}`);
for (const path of seeds) {
  for (const mechanism of ["SCRAM-SHA-1", "SCRAM-SHA-256"]) {
    Deno.test(`seed ${relative(SEED_DIR, path)} over STARTTLS + ${mechanism}`, () =>
      replay(path, mechanism));
  }
}

Deno.test({
  name: "the seed scripts in spec/seeds are byte-identical to the upstream seeds",
  ignore: !existsSync(UPSTREAM_SEED_DIR),
  fn() {
    const upstream = scriptsIn(UPSTREAM_SEED_DIR).map((path) => relative(UPSTREAM_SEED_DIR, path));
    assert.deepEqual(seeds.map((path) => relative(SEED_DIR, path)), upstream);
    for (const name of upstream) {
      assert.deepEqual(
        Deno.readFileSync(join(SEED_DIR, name)),
        Deno.readFileSync(join(UPSTREAM_SEED_DIR, name)),
        `spec/seeds/${name} differs from the upstream seed`,
      );
    }
  },
});

// The seeds are replayed above, over each mechanism.
for (const path of scriptsIn(SPEC_DIR, SEED_DIR)) {
  Deno.test(`spec ${relative(SPEC_DIR, path)}`, () => replay(path));
}
