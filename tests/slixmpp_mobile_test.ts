// Interoperability of what a mobile client lives on, driven by slixmpp written elsewhere:
// history on another device after a reconnect (XEP-0313 §4 with RSM paging, XEP-0059 §2; the
// archive ids of XEP-0359 §3.5), and a stream that survives its TCP connection being cut
// (XEP-0198 §5 resumption, §4 acks). The client program is tests/clients/slixmpp_mobile.py.
import { strict as assert } from "node:assert";
import { startTestServer } from "./_harness.ts";
import { runSlixmpp, serverArgs, slixmppAccounts, slixmppTest, userArgs } from "./_slixmpp.ts";

/** `prefix` 001, 002 ... `count`, as the client program numbers its messages. */
function numbered(prefix: string, count: number, from = 1): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix} ${String(from + i).padStart(3, "0")}`);
}

interface Delivered {
  body: string;
  by: string | null;
  id: string | null;
}

interface ArchiveResult {
  body: string;
  id: string;
  archive: string | null;
  from: string;
  delay: boolean;
}

slixmppTest(
  "slixmpp reads its archive with RSM paging after a reconnect, on another device",
  "slixmpp MAM interop",
  async (python) => {
    await using test = await startTestServer({ accounts: slixmppAccounts() });
    const [online, away, page] = [30, 15, 10];
    const run = await runSlixmpp(python, "slixmpp_mobile.py", {
      args: [
        "--flow",
        "mam",
        ...serverArgs(test),
        ...userArgs(2),
        "--messages",
        String(online),
        "--more",
        String(away),
        "--page",
        String(page),
        "--other",
        "nurse@localhost",
      ],
    });
    const bodies = numbered("mam", online + away);

    // Live on the first device, then from offline storage on the second, each copy with the
    // stanza-id of Romeo's archive (XEP-0313 §3.5).
    const live = run.one("online").received as Delivered[];
    const stored = run.one("offline").received as Delivered[];
    assert.equal(run.one("offline").jid, "romeo@localhost/phone");
    const delivered = [...live, ...stored];
    assert.deepEqual(delivered.map((m) => m.body), bodies);
    for (const message of delivered) {
      assert.equal(message.by, "romeo@localhost", `stanza-id 'by' of ${message.body}`);
      assert.ok(message.id, `a stanza-id on ${message.body}`);
    }

    // The archive filtered on Juliet (Romeo's aside to the nurse is in it, outside the filter),
    // read with slixmpp's own RSM iterator, 10 a page: every message once, in order, the last
    // page complete (XEP-0313 §4.3) and no page before it.
    assert.deepEqual(run.one("unfiltered"), { count: String(online + away + 1) });
    const archive = run.one("archive");
    const pages = archive.pages as {
      results: number;
      complete: string | null;
      first_index: string | null;
      count: string | null;
    }[];
    assert.deepEqual(pages.map((p) => p.results), [10, 10, 10, 10, 5]);
    assert.deepEqual(pages.map((p) => p.complete), [null, null, null, null, "true"]);
    assert.deepEqual(pages.map((p) => p.first_index), ["0", "10", "20", "30", "40"]);
    assert.deepEqual(pages.map((p) => p.count), ["45", "45", "45", "45", "45"]);
    const results = archive.results as ArchiveResult[];
    assert.deepEqual(results.map((r) => r.body), bodies);
    for (const result of results) {
      // The result comes from the archive, Romeo's bare JID, and its id is the stanza-id that
      // archive gave the delivered copy (§4.2, XEP-0359 §3.5): the 'by' and the id agree.
      assert.equal(result.archive, "romeo@localhost", `archive of ${result.body}`);
      assert.equal(result.from, "juliet@localhost");
      assert.ok(result.delay, `a <delay/> on ${result.body}`);
    }
    assert.deepEqual(results.map((r) => r.id), delivered.map((m) => m.id));
    assert.equal(new Set(results.map((r) => r.id)).size, bodies.length, "archive ids are unique");
    assert.equal(run.steps.at(-1)?.step, "done");
  },
);

slixmppTest(
  "slixmpp resumes its stream after the TCP connection is cut mid-conversation: nothing lost, nothing twice",
  "slixmpp SM resumption interop",
  async (python) => {
    await using test = await startTestServer({ accounts: slixmppAccounts(2) });
    // 60 messages 20 ms apart; the connection goes after the 20th and is back 300 ms later.
    const [count, cutAfter] = [60, 20];
    const run = await runSlixmpp(python, "slixmpp_mobile.py", {
      args: [
        "--flow",
        "sm",
        ...serverArgs(test),
        ...userArgs(2),
        "--messages",
        String(count),
        "--cut-after",
        String(cutAfter),
        "--interval",
        "0.02",
        "--away",
        "0.3",
      ],
    });
    assert.deepEqual(run.one("login"), { jid: "romeo@localhost/phone", resumable: true });

    // The cut came partway: some messages before, the rest still to be sent.
    const cut = run.one("cut");
    const before = cut.received as number;
    assert.ok(before >= cutAfter && before < count, `messages before the cut: ${before}`);

    // slixmpp resumed the same session (no new bind, no second session_start) ...
    const resume = run.one("resume");
    assert.equal(resume.jid, "romeo@localhost/phone");
    assert.equal(resume.same_sm_id, true);
    const end = run.one("end");
    assert.deepEqual(end.events, {
      session_start: 1,
      session_resumed: 1,
      sm_enabled: 1,
      sm_failed: 0,
    });
    // ... and got every message exactly once, in order, across the cut.
    assert.deepEqual(end.received, numbered("sm", count));

    // The server saw a dead connection, not a clean close: the session hibernated (a closed
    // stream would have ended it), was taken over by the new connection, and sent again what
    // Romeo had not acknowledged, with what came while he was away.
    const log = test.log.join("\n");
    assert.match(log, /romeo@localhost\/phone hibernating for \d+ s with \d+ unacked stanza/);
    const resumed = log.match(/romeo@localhost\/phone resumed on \S+ with (\d+) stanza\(s\) sent/);
    assert.ok(resumed, `a resumption in the server's log:\n${log}`);
    assert.ok(Number(resumed[1]) > 0, `stanzas sent again on resumption: ${resumed[1]}`);
    assert.equal(run.steps.at(-1)?.step, "done");
  },
);
