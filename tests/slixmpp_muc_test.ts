// Interoperability of the MUC additions, driven by slixmpp written elsewhere through its own
// plugins: a room's archive (XEP-0313 §3.3.2, with XEP-0359 stanza ids and XEP-0059 paging),
// self-ping (XEP-0410 §3), occupant ids (XEP-0421 §§3–4), and the room's vCard and avatar
// (XEP-0054 on a room, XEP-0153 §3.1, XEP-0486's muc#roominfo_avatarhash). The client program is
// tests/clients/slixmpp_muc.py.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { runSlixmppFlow, slixmppTest } from "./_slixmpp.ts";

const ROOM = "balcony@conference.localhost";

/** Runs one flow of the client program against a fresh server. */
function runFlow(flow: string, args: string[] = []) {
  return runSlixmppFlow("slixmpp_muc.py", flow, args);
}

interface Heard {
  body: string;
  from: string;
  stanza_ids: { id: string; by: string }[];
}

interface ArchiveResult {
  body: string;
  id: string;
  archive: string;
  from: string;
  to: string | null;
  type: string;
  delay: boolean;
}

interface Seen {
  to: string;
  kind: string;
  type: string;
  from: string;
  ids: string[];
  body: string | null;
}

slixmppTest(
  "slixmpp room archive: a later occupant pages through what was said, ids as the live copies'",
  "slixmpp room archive interop",
  async () => {
    const [said, page] = [25, 10];
    const run = await runFlow("archive", ["--messages", String(said), "--page", String(page)]);
    // XEP-0045 §10.1.1: a new room, then accepted as an instant room; §7 of XEP-0313: it archives.
    assert.deepEqual(run.one("create"), { room: ROOM, status_codes: [110, 201], mam: true });
    const bodies = Array.from({ length: said }, (_, i) => `line ${String(i + 1).padStart(3, "0")}`);
    const speaker = (i: number) => `${ROOM}/${i % 2 === 0 ? "Romeo" : "Juliet"}`;

    // Both heard every message once, in order, from the speaker's occupant JID, each with one
    // <stanza-id/> by the room (XEP-0359 §3.5), the same in both copies.
    const talk = run.one("talk") as { romeo: Heard[]; juliet: Heard[] };
    for (const heard of [talk.romeo, talk.juliet]) {
      assert.deepEqual(heard.map((m) => m.body), bodies);
      assert.deepEqual(heard.map((m) => m.from), bodies.map((_, i) => speaker(i)));
      for (const message of heard) {
        assert.equal(message.stanza_ids.length, 1, JSON.stringify(message));
        assert.equal(message.stanza_ids[0].by, ROOM);
      }
    }
    const liveIds = talk.romeo.map((m) => m.stanza_ids[0].id);
    assert.deepEqual(talk.juliet.map((m) => m.stanza_ids[0].id), liveIds);
    assert.equal(new Set(liveIds).size, said);

    // The nurse entered after Juliet left, with no history asked for.
    assert.deepEqual(run.one("nurse_join"), { occupants: ["Nurse", "Romeo"], history: 0 });

    // XEP-0313 §4 with XEP-0059: pages of 10, 10 and 5, the last one complete.
    const { pages, results } = run.one("archive") as {
      pages: { results: number; complete: string | null; first_index: string; count: string }[];
      results: ArchiveResult[];
    };
    assert.deepEqual(pages, [
      { results: 10, complete: null, first_index: "0", count: "25" },
      { results: 10, complete: null, first_index: "10", count: "25" },
      { results: 5, complete: "true", first_index: "20", count: "25" },
    ]);
    // §3.3.2, §6.1.2: every body once, in order; each result from the room, the message from
    // the sender's occupant JID without a 'to', its id the live copies' stanza-id.
    assert.deepEqual(results.map((r) => r.body), bodies);
    assert.deepEqual(
      results.map(({ archive, from, to, type, delay, id }) => ({
        archive,
        from,
        to,
        type,
        delay,
        id,
      })),
      bodies.map((_, i) => ({
        archive: ROOM,
        from: speaker(i),
        to: null,
        type: "groupchat",
        delay: true,
        id: liveIds[i],
      })),
    );
    assert.equal(run.steps.at(-1)?.step, "done");
  },
);

slixmppTest(
  "slixmpp self-ping: the room answers one's own occupant JID, not-acceptable after leaving",
  "slixmpp self-ping interop",
  async () => {
    const run = await runFlow("self_ping");
    // XEP-0410 §3.3: the room answers itself, and says so.
    assert.deepEqual(run.one("create"), { optimized: true });
    assert.deepEqual(run.one("joined"), {
      type: "result",
      from: `${ROOM}/Juliet`,
      forwarded: [],
    });
    // §3.2 (Example 2), §3.3: out of the room, <not-acceptable/> of type cancel, by the room.
    assert.deepEqual(run.one("left"), {
      type: "cancel",
      condition: "not-acceptable",
      from: `${ROOM}/Juliet`,
      by: ROOM,
      forwarded: [],
    });
    assert.equal(run.steps.at(-1)?.step, "done");
  },
);

/** The one occupant id of each stanza in `seen`, checked to be exactly one, by sender nick. */
function idsByNick(seen: Seen[]): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const stanza of seen) {
    assert.equal(stanza.ids.length, 1, `one <occupant-id/> in ${JSON.stringify(stanza)}`);
    if (!found.has(stanza.from)) found.set(stanza.from, new Set());
    found.get(stanza.from)!.add(stanza.ids[0]);
  }
  return found;
}

/** The one id `nick` had throughout `seen`. */
function onlyId(found: Map<string, Set<string>>, nick: string): string {
  const ids = [...found.get(nick) ?? []];
  assert.equal(ids.length, 1, `one id for ${nick}: ${JSON.stringify(ids)}`);
  return ids[0];
}

/** `seen` as sorted "to kind/type from" lines: the arrival order across clients varies. */
function shape(seen: Seen[]): string[] {
  return seen.map((s) => `${s.to} ${s.kind}/${s.type} ${s.from}${s.body ? ` ${s.body}` : ""}`)
    .sort();
}

slixmppTest(
  "slixmpp occupant ids: one per account, kept across a nick change and a rejoin, never forged",
  "slixmpp occupant-id interop",
  async () => {
    const run = await runFlow("occupant_id");
    // XEP-0421 §3: the room advertises it.
    assert.deepEqual(run.one("create"), { disco: true });

    const join = (run.one("join") as { seen: Seen[] }).seen;
    assert.deepEqual(shape(join), [
      "juliet presence/available Juliet",
      "juliet presence/available Romeo",
      "romeo presence/available Juliet",
      "romeo presence/available Romeo",
    ]);
    const joined = idsByNick(join);
    const romeo = onlyId(joined, "Romeo");
    const juliet = onlyId(joined, "Juliet");
    assert.notEqual(romeo, juliet);
    // §4: opaque: base64 of a SHA-256 HMAC, nothing of the real JID in it.
    assert.match(juliet, /^[A-Za-z0-9+/]{43}=$/);

    // A message carries the id too, for everyone.
    const message = (run.one("message") as { seen: Seen[] }).seen;
    assert.deepEqual(shape(message), [
      "juliet message/groupchat Juliet hello",
      "romeo message/groupchat Juliet hello",
    ]);
    assert.equal(onlyId(idsByNick(message), "Juliet"), juliet);

    // A nick change (303 from the old nick, then the new one): the same id on both presences.
    const nick = (run.one("nick") as { seen: Seen[] }).seen;
    assert.deepEqual(shape(nick), [
      "juliet presence/available Julia",
      "juliet presence/unavailable Juliet",
      "romeo presence/available Julia",
      "romeo presence/unavailable Juliet",
    ]);
    const renamed = idsByNick(nick);
    assert.equal(onlyId(renamed, "Juliet"), juliet);
    assert.equal(onlyId(renamed, "Julia"), juliet);

    // Leaving and entering again: still the same.
    const rejoin = (run.one("rejoin") as { seen: Seen[] }).seen;
    assert.deepEqual(shape(rejoin), [
      "juliet presence/available Juliet",
      "juliet presence/available Romeo",
      "juliet presence/unavailable Julia",
      "romeo presence/available Juliet",
      "romeo presence/unavailable Julia",
    ]);
    const again = idsByNick(rejoin);
    assert.equal(onlyId(again, "Julia"), juliet);
    assert.equal(onlyId(again, "Juliet"), juliet);
    assert.equal(onlyId(again, "Romeo"), romeo);

    // Another account: an id of its own; the others' are the same for her.
    const nurse = (run.one("nurse") as { seen: Seen[] }).seen;
    assert.deepEqual(shape(nurse), [
      "juliet presence/available Nurse",
      "nurse presence/available Juliet",
      "nurse presence/available Nurse",
      "nurse presence/available Romeo",
      "romeo presence/available Nurse",
    ]);
    const third = idsByNick(nurse);
    const hers = onlyId(third, "Nurse");
    assert.equal(new Set([romeo, juliet, hers]).size, 3);
    assert.equal(onlyId(third, "Juliet"), juliet);
    assert.equal(onlyId(third, "Romeo"), romeo);

    // §4: the <occupant-id/> Juliet put in her message is replaced by hers, for all three.
    const { sent, seen: forge } = run.one("forge") as { sent: string[]; seen: Seen[] };
    assert.deepEqual(sent, ["forged-by-juliet"]);
    assert.deepEqual(shape(forge), [
      "juliet message/groupchat Juliet forged",
      "nurse message/groupchat Juliet forged",
      "romeo message/groupchat Juliet forged",
    ]);
    assert.deepEqual(forge.map((s) => s.ids), [[juliet], [juliet], [juliet]]);
    assert.equal(run.steps.at(-1)?.step, "done");
  },
);

slixmppTest(
  "slixmpp room vCard: the owner's PHOTO is read back, hashed in disco#info and presence",
  "slixmpp room vCard interop",
  async () => {
    const run = await runFlow("vcard");
    // No avatar yet: an entering occupant gets no presence from the room's bare JID.
    assert.deepEqual(run.one("create"), { updates: [] });

    const set = run.one("set");
    const image = Uint8Array.from(atob(set.image as string), (c) => c.charCodeAt(0));
    const sha1 = createHash("sha1").update(image).digest("hex");
    assert.equal(set.sha1, sha1);
    // XEP-0045 §10.2.1: status 104 to both; XEP-0153 §3.1: the room's presence with the hash.
    assert.deepEqual(set.status_codes, [[104], [104]]);
    assert.deepEqual(set.romeo, [{ photo: sha1 }]);
    assert.deepEqual(set.juliet, [{ photo: sha1 }]);

    // Juliet reads the same bytes back, from the room.
    assert.deepEqual(run.one("get"), {
      from: ROOM,
      fn: "The Balcony",
      type: "image/png",
      image: set.image,
    });

    // XEP-0486: vcard-temp, and the image's SHA-1 in the room-info form.
    assert.deepEqual(run.one("disco"), {
      vcard: true,
      form_type: ["http://jabber.org/protocol/muc#roominfo"],
      avatarhash: [sha1],
    });

    // Only owners set it: Juliet gets forbidden (auth), and the vCard is unchanged.
    assert.deepEqual(run.one("forbidden"), {
      type: "auth",
      condition: "forbidden",
      from: ROOM,
      by: ROOM,
      fn: "The Balcony",
    });
    assert.equal(run.steps.at(-1)?.step, "done");
  },
);
