import { strict as assert } from "node:assert";
import { parseScript, ScriptError } from "./parse.ts";

const SEEDS = new URL("../../spec/seeds/", import.meta.url);

async function seed(name: string): Promise<string> {
  return await Deno.readTextFile(new URL(name, SEEDS));
}

function throwsAt(text: string, line: number, pattern: RegExp): void {
  assert.throws(() => parseScript(text, "t.scs"), (error: unknown) => {
    assert.ok(error instanceof ScriptError, String(error));
    assert.equal(error.line, line, error.message);
    assert.ok(error.message.startsWith(`t.scs:${line}: `), error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

const HEADER = "# T\n[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: pw\n---\n";

Deno.test("parseScript() reads the seed muc_password.scs", async () => {
  const script = parseScript(await seed("muc_password.scs"), "muc_password.scs");
  assert.equal(script.title, "MUC: Password-protected rooms");
  assert.deepEqual([...script.clients.keys()], ["Romeo", "Juliet"]);
  assert.deepEqual(script.clients.get("Romeo"), {
    name: "Romeo",
    jid: "user@localhost",
    password: "password",
    line: 3,
  });
  assert.equal(script.clients.get("Juliet")?.jid, "user2@localhost");
  assert.equal(script.clients.get("Juliet")?.line, 7);
  assert.equal(script.steps.length, 25);
  assert.deepEqual(script.steps[0], { line: 13, client: "Romeo", action: "connects" });
  assert.deepEqual(script.steps[1], {
    line: 15,
    client: "Romeo",
    action: "sends",
    xml: '\t<presence to="room@conference.localhost/Romeo">\n' +
      '\t\t<x xmlns="http://jabber.org/protocol/muc"/>\n\t</presence>',
  });
  assert.deepEqual(
    script.steps.map((s) => s.line),
    [
      13,
      15,
      20,
      29,
      33,
      47,
      52,
      54,
      59,
      67,
      74,
      77,
      80,
      83,
      88,
      91,
      94,
      98,
      112,
      117,
      125,
      131,
      134,
      138,
      141,
    ],
  );
  assert.equal(script.steps[6].action, "connects");
  assert.equal(script.steps[6].client, "Juliet");
  assert.equal(script.steps.at(-1)?.xml, '\t<presence from="room@conference.localhost/Juliet" />');
});

Deno.test("parseScript() reads the seed muc_password.code401.scs", async () => {
  const script = parseScript(await seed("muc_password.code401.scs"), "code401.scs");
  assert.equal(script.title, "MUC: Password-protected rooms");
  assert.equal(script.steps.length, 25);
  assert.match(script.steps[8].xml!, /code="401"/);
  assert.equal(script.steps[8].line, 59);
});

Deno.test("parseScript() keeps blank lines inside a block and ends it at the next action", () => {
  const text = HEADER + "Romeo connects\nRomeo sends:\n\t<message>\n\n\t\t<body>hi</body>\n" +
    "\n\t</message>\n\n\nRomeo disconnects\n";
  const script = parseScript(text, "t.scs");
  assert.equal(script.steps.length, 3);
  assert.equal(script.steps[1].xml, "\t<message>\n\n\t\t<body>hi</body>\n\n\t</message>");
  assert.deepEqual(script.steps[2], { line: 15, client: "Romeo", action: "disconnects" });
});

Deno.test("parseScript() tolerates CRLF line ends", () => {
  const lf = HEADER +
    "Romeo connects\nRomeo sends:\n  <presence/>\n\nRomeo receives\n  <presence/>\n";
  const crlf = parseScript(lf.replaceAll("\n", "\r\n"), "t.scs");
  assert.deepEqual(crlf, parseScript(lf, "t.scs"));
  assert.equal(crlf.steps[1].xml, "  <presence/>");
  assert.equal(crlf.clients.get("Romeo")?.password, "pw");
});

Deno.test("parseScript() reads names with spaces, space indents, all comment styles", () => {
  const text = "// first: the title\n# second\n-- third\n[Client] Juliet's Nurse\n" +
    "    jid: nurse@localhost/Kitchen\n    password: a: b  \n    resource: balcony\n" +
    "----------\n-- a comment\nJuliet's Nurse connects\n// another\n" +
    "Juliet's Nurse sends\n    <message to='${Juliet's Nurse's full JID}'/>\n" +
    "# a comment ends the block\nJuliet's Nurse receives:\n    <message/>\n";
  const script = parseScript(text, "t.scs");
  assert.equal(script.title, "first: the title");
  assert.deepEqual(script.clients.get("Juliet's Nurse"), {
    name: "Juliet's Nurse",
    jid: "nurse@localhost/Kitchen",
    password: "a: b",
    resource: "balcony",
    line: 4,
  });
  assert.deepEqual(script.steps.map((s) => [s.line, s.client, s.action]), [
    [10, "Juliet's Nurse", "connects"],
    [12, "Juliet's Nurse", "sends"],
    [15, "Juliet's Nurse", "receives"],
  ]);
});

Deno.test("parseScript() names file and line of a malformed header", () => {
  throwsAt(
    "# T\n[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: pw\n",
    1,
    /three or more dashes/,
  );
  throwsAt("# T\n[Client] Romeo\n\tjid: romeo@localhost\nRomeo sends\n---\n", 4, /header line/);
  throwsAt("# T\n[Client] Romeo\n\tjid: romeo@localhost\n---\n", 2, /no password/);
  throwsAt("# T\n[Client] Romeo\n\tpassword: x\n---\n", 2, /no jid/);
  throwsAt("[Client] Romeo\n\tjid: localhost\n\tpassword: x\n---\n", 2, /no localpart/);
  throwsAt(
    "[Client] Romeo\n\tjid: a@b\n\tpassword: x\n\thost: h\n---\n",
    4,
    /unknown client property/,
  );
  throwsAt("[Client] Romeo\n\tjid: a@b\n\tjid: a@c\n---\n", 3, /given twice/);
  throwsAt("\tjid: a@b\n---\n", 1, /outside of a \[Client\]/);
  throwsAt("[Component] Room\n---\n", 1, /unknown object/);
  throwsAt("[Client] R\n\tjid: a@b\n\tpassword: x\n[Client] R\n\tjid: a@b\n---\n", 4, /twice/);
});

Deno.test("parseScript() names file and line of malformed steps", () => {
  throwsAt(HEADER + "Juliet connects\n", 6, /unknown client "Juliet" \(declared: Romeo\)/);
  throwsAt(HEADER + "Romeo dances\n", 6, /cannot read line/);
  throwsAt(HEADER + "Romeo connects:\n", 6, /no colon/);
  throwsAt(HEADER + "Romeo connects\n\t<presence/>\n", 7, /outside of a sends\/receives block/);
  throwsAt(HEADER + "Romeo sends:\n\nRomeo connects\n", 6, /no indented XML block/);
  throwsAt(HEADER + "Romeo sends:\n\t<presence>\n\t</message>\n", 7, /Cannot parse XML block/);
  throwsAt(HEADER + "Romeo sends:\n\t<a/>\n\t<b to='${Juliet's JID}'/>\n", 8, /no client "Juliet"/);
  throwsAt(HEADER + "Romeo sends:\n\t<a to='${Romeo}'/>\n", 7, /unknown variable/);
  throwsAt(HEADER + "Romeo receives:\n\t<a scansion:strict='yes'/>\n", 7, /"true" or "false"/);
});
