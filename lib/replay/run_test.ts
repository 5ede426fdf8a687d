import { strict as assert } from "node:assert";
import { el } from "../xml/mod.ts";
import type { ReceivedStanza } from "./client.ts";
import { parseBlock } from "./match.ts";
import { formatFailure, pickMatch, type RunResult } from "./run.ts";

function queued(at: number, body: string, from = "room@c/x"): ReceivedStanza {
  return { stanza: el("message", { xmlns: "jabber:client", from }, el("body", {}, body)), at };
}

const expected = (xml: string) => parseBlock(xml)[0];
const PREVIOUS_STEP_START = 100;

Deno.test("pickMatch() skips old stanzas that do not match and takes the first that does", () => {
  const queue = [
    queued(10, "old"),
    queued(50, "older news"),
    queued(60, "hit"),
    queued(120, "new"),
  ];
  const pick = pickMatch(
    queue,
    expected("<message><body>hit</body></message>"),
    PREVIOUS_STEP_START,
    new Map(),
  );
  assert.deepEqual(pick, { kind: "match", index: 2 });
});

Deno.test("pickMatch() matches a new stanza after skipping old ones", () => {
  const queue = [queued(10, "old"), queued(100, "hit"), queued(130, "later")];
  assert.deepEqual(
    pickMatch(
      queue,
      expected("<message><body>hit</body></message>"),
      PREVIOUS_STEP_START,
      new Map(),
    ),
    { kind: "match", index: 1 },
  );
});

Deno.test("pickMatch() fails at once on the first new stanza that does not match", () => {
  const queue = [queued(10, "old"), queued(101, "wrong"), queued(102, "hit")];
  const pick = pickMatch(
    queue,
    expected("<message><body>hit</body></message>"),
    PREVIOUS_STEP_START,
    new Map(),
  );
  assert.equal(pick.kind, "mismatch");
  if (pick.kind !== "mismatch") return;
  assert.equal(pick.index, 1);
  assert.match(pick.reason, /^\/message\/body: text: expected "hit", received "wrong"/);
  // "At or after" the previous step's start counts as new.
  const tie = pickMatch(
    [queued(100, "wrong")],
    expected("<message><body>hit</body></message>"),
    100,
    new Map(),
  );
  assert.equal(tie.kind, "mismatch");
});

Deno.test("pickMatch() waits when every queued stanza is old and does not match", () => {
  const queue = [queued(10, "a"), queued(20, "b")];
  assert.deepEqual(
    pickMatch(
      queue,
      expected("<message><body>hit</body></message>"),
      PREVIOUS_STEP_START,
      new Map(),
    ),
    { kind: "wait", skipped: 2 },
  );
  assert.deepEqual(
    pickMatch([], expected("<message/>"), PREVIOUS_STEP_START, new Map()),
    { kind: "wait", skipped: 0 },
  );
});

Deno.test("pickMatch() binds captures only from the stanza that matches", () => {
  const captures = new Map<string, string>();
  const queue = [queued(10, "no", "a@b/1"), queued(120, "yes", "a@b/2")];
  const pick = pickMatch(
    queue,
    expected("<message from='{scansion:capture:who}'><body>yes</body></message>"),
    PREVIOUS_STEP_START,
    captures,
  );
  assert.deepEqual(pick, { kind: "match", index: 1 });
  assert.deepEqual([...captures], [["who", "a@b/2"]]);
  // Reuse: an old stanza from someone else is skipped, not matched.
  const again = pickMatch(
    [queued(10, "yes", "a@b/1"), queued(20, "yes", "a@b/2")],
    expected("<message from='{scansion:capture:who}'/>"),
    PREVIOUS_STEP_START,
    captures,
  );
  assert.deepEqual(again, { kind: "match", index: 1 });
});

const FAILURE: RunResult = {
  ok: false,
  failure: {
    line: 21,
    step: "Romeo receives:",
    message: "received a stanza that does not match: /presence@type: missing",
    expected: "<presence type='error'/>",
    received: ["<presence>\n  <x xmlns='urn:x'/>\n</presence>", "<message/>"],
  },
};

Deno.test("formatFailure() puts expected and received side by side when the width allows", () => {
  assert.equal(
    formatFailure(FAILURE, "spec/a.scs", { width: 80 }),
    [
      "spec/a.scs:21: Romeo receives:",
      "  received a stanza that does not match: /presence@type: missing",
      "expected:                  | received:",
      "  <presence type='error'/> |   <presence>",
      "                           |     <x xmlns='urn:x'/>",
      "                           |   </presence>",
      "                           |",
      "                           |   <message/>",
    ].join("\n"),
  );
});

Deno.test("formatFailure() puts them one after the other when the width is short", () => {
  assert.equal(
    formatFailure(FAILURE, "spec/a.scs", { width: 30 }),
    [
      "spec/a.scs:21: Romeo receives:",
      "  received a stanza that does not match: /presence@type: missing",
      "expected:",
      "  <presence type='error'/>",
      "received:",
      "  <presence>",
      "    <x xmlns='urn:x'/>",
      "  </presence>",
      "",
      "  <message/>",
    ].join("\n"),
  );
});

Deno.test("formatFailure() shows only the message when nothing was expected or received", () => {
  const result: RunResult = {
    ok: false,
    failure: { line: 13, step: "Romeo connects", message: "Cannot connect: refused", received: [] },
  };
  assert.equal(
    formatFailure(result, "a.scs", { width: 80 }),
    "a.scs:13: Romeo connects\n  Cannot connect: refused",
  );
  assert.equal(formatFailure({ ok: true, steps: 4 }, "a.scs"), "a.scs: ok (4 steps)");
});
