// Acknowledged changes survive kill -9: a room owner keeps changing affiliations and the room
// configuration while the server process is killed at a random moment; after each restart every
// change the server had acknowledged is there, and SQLite's integrity check passes.
import { strict as assert } from "node:assert";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { ReplayClient } from "../lib/replay/client.ts";
import { addUsers, login } from "./_clients.ts";
import { startServerProcess } from "./_process.ts";

const ROOM = "vault@conference.localhost";
const CYCLES = 4;
const MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
const MUC_OWNER = "http://jabber.org/protocol/muc#owner";

/** A seeded PRNG (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function enterAsOwner(port: number): Promise<ReplayClient> {
  const owner = await login(port, "owner@localhost", "owner-pass");
  owner.send(`<presence to='${ROOM}/owner'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
  await owner.waitForStanza({
    match: (s) => s.name === "presence" && s.attrs.from === `${ROOM}/owner`,
  });
  return owner;
}

async function members(owner: ReplayClient): Promise<Set<string>> {
  owner.send(
    `<iq type='get' id='list' to='${ROOM}'><query xmlns='${MUC_ADMIN}'>` +
      `<item affiliation='member'/></query></iq>`,
  );
  const { stanza } = await owner.waitForStanza({ match: (s) => s.attrs.id === "list" });
  assert.equal(stanza.attrs.type, "result", stanza.toString());
  return new Set(
    stanza.getChild("query", MUC_ADMIN)!.getChildren("item", MUC_ADMIN).map((i) => i.attrs.jid),
  );
}

async function roomName(owner: ReplayClient): Promise<string> {
  owner.send(`<iq type='get' id='cfg' to='${ROOM}'><query xmlns='${MUC_OWNER}'/></iq>`);
  const { stanza } = await owner.waitForStanza({ match: (s) => s.attrs.id === "cfg" });
  const form = stanza.getChild("query", MUC_OWNER)!.getChild("x", "jabber:x:data")!;
  const field = form.getChildren("field", "jabber:x:data")
    .find((f) => f.attrs.var === "muc#roomconfig_roomname");
  return field?.getChildText("value") ?? "";
}

function configure(name: string, id: string): string {
  return `<iq type='set' id='${id}' to='${ROOM}'><query xmlns='${MUC_OWNER}'>` +
    `<x xmlns='jabber:x:data' type='submit'>` +
    `<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>` +
    `<field var='muc#roomconfig_persistentroom'><value>1</value></field>` +
    `<field var='muc#roomconfig_roomname'><value>${name}</value></field>` +
    `</x></query></iq>`;
}

Deno.test("acknowledged room changes survive kill -9 at random moments", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "verona-kill9-" });
  const next = random(Number(Deno.env.get("DURABILITY_SEED") ?? 20261202));
  try {
    await addUsers([["owner@localhost", "owner-pass"]], ["--data", dataDir]);
    const acknowledged = new Set<string>();
    let acknowledgedName = "";
    /** Names sent but not answered when the server was killed. */
    const unanswered = new Set<string>();
    let serial = 0;
    // The last start only checks what the last kill left.
    for (let cycle = 0; cycle <= CYCLES; cycle++) {
      const server = await startServerProcess(["--data", dataDir]);
      try {
        const owner = await enterAsOwner(server.port);
        if (cycle === 0) {
          owner.send(configure("vault 0", "create"));
          await owner.waitForStanza({ match: (s) => s.attrs.id === "create" });
          acknowledgedName = "vault 0";
        } else {
          // Everything acknowledged before the last kill is there.
          const stored = await members(owner);
          for (const jid of acknowledged) assert.ok(stored.has(jid), `lost member ${jid}`);
          // The name last acknowledged, or one sent after it that was stored but not yet answered.
          const name = await roomName(owner);
          assert.ok(
            name === acknowledgedName || unanswered.has(name),
            `room name after kill ${cycle}: "${name}", acknowledged "${acknowledgedName}"`,
          );
          acknowledgedName = name;
          if (cycle === CYCLES) {
            await owner.disconnect();
            continue;
          }
        }
        // A burst of changes, each answered; the kill comes after a random number of answers,
        // with more requests in flight.
        const killAfter = 20 + Math.floor(next() * 60);
        const inFlight = new Map<string, () => void>();
        unanswered.clear();
        for (let i = 0; i < killAfter + 10; i++) {
          const id = `c${++serial}`;
          if (i % 10 === 9) {
            const name = `vault ${serial}`;
            owner.send(configure(name, id));
            unanswered.add(name);
            inFlight.set(id, () => {
              acknowledgedName = name;
              // Answers come in order: earlier names can no longer be the stored one.
              for (const earlier of unanswered) {
                unanswered.delete(earlier);
                if (earlier === name) break;
              }
            });
          } else {
            const jid = `member${serial}@localhost`;
            owner.send(
              `<iq type='set' id='${id}' to='${ROOM}'><query xmlns='${MUC_ADMIN}'>` +
                `<item affiliation='member' jid='${jid}'/></query></iq>`,
            );
            inFlight.set(id, () => acknowledged.add(jid));
          }
        }
        let answered = 0;
        while (answered < killAfter) {
          const { stanza } = await owner.waitForStanza({
            match: (s) => s.name === "iq" && inFlight.has(s.attrs.id ?? ""),
          });
          assert.equal(stanza.attrs.type, "result", stanza.toString());
          inFlight.get(stanza.attrs.id!)!();
          inFlight.delete(stanza.attrs.id!);
          answered++;
        }
        owner.close();
      } finally {
        await server.stop("SIGKILL");
      }
      const db = new DatabaseSync(join(dataDir, "verona.sqlite"));
      try {
        assert.equal(db.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
      } finally {
        db.close();
      }
    }
    assert.ok(acknowledged.size >= CYCLES * 18, `changes acknowledged: ${acknowledged.size}`);
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
