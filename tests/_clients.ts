// Shared test plumbing for logged-in clients and script replays.
import { join } from "node:path";
import { strict as assert } from "node:assert";
import { ReplayClient } from "../lib/replay/client.ts";
import { parseScript } from "../lib/replay/parse.ts";
import { formatFailure, runScript } from "../lib/replay/run.ts";
import type { Element } from "../lib/xml/element.ts";
import { verona } from "./_process.ts";

/** A client logged in over STARTTLS + SCRAM and bound, sending no presence. */
export async function login(
  port: number,
  jid: string,
  password: string,
  options: { localAddress?: string } = {},
): Promise<ReplayClient> {
  const client = new ReplayClient();
  await client.connect({ host: "127.0.0.1", port, jid, password, timeoutMs: 5000, ...options });
  return client;
}

/** Sends a request and returns the next stanza the client receives. */
export async function ask(client: ReplayClient, xml: string): Promise<Element> {
  client.send(xml);
  return (await client.waitForStanza({ timeoutMs: 5000 })).stanza;
}

/** Waits for a stanza `match` accepts, or fails naming `what` the client did not receive. */
export async function waitForStanza(
  client: ReplayClient,
  what: string,
  match: (stanza: Element) => boolean,
  timeoutMs: number,
): Promise<Element> {
  try {
    return (await client.waitForStanza({ timeoutMs, match })).stanza;
  } catch (error) {
    throw new Error(`${client.fullJid} did not receive ${what}`, { cause: error });
  }
}

/** Replays a scansion script given as text; throws the formatted failure. */
export async function replayText(text: string, name: string, port: number): Promise<void> {
  const result = await runScript(parseScript(text, name), { host: "127.0.0.1", port });
  if (!result.ok) throw new Error(formatFailure(result, name));
}

/** Replays a scansion script from tests/fixtures/. */
export async function replayFixture(name: string, port: number): Promise<void> {
  const path = join(import.meta.dirname!, "fixtures", name);
  await replayText(await Deno.readTextFile(path), name, port);
}

/** Creates accounts with the real command line, as an admin would. */
export async function addUsers(
  users: [jid: string, password: string][],
  where: ["--data" | "--config", string],
): Promise<void> {
  for (const [jid, password] of users) {
    const added = await verona(["adduser", jid, password, ...where]);
    assert.equal(added.code, 0, added.stderr);
  }
}
