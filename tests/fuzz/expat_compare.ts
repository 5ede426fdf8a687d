// Compares StreamParser with a strict XML parser (Python's expat, with namespaces) on the same
// inputs: targeted malformed streams plus mutated client streams. Prints every input that one
// parser refuses and the other does not, grouped by kind.
//
//   deno run --allow-run=python3 --allow-write --allow-read tests/fuzz/expat_compare.ts [--count N] [--seed S]
import { parseArgs } from "node:util";
import { join } from "node:path";
import { clientStreams, FUZZ_HEADER, mutate, type Mutation, Prng } from "../../lib/xml/_fuzz.ts";
import { StreamParser } from "../../lib/xml/stream_parser.ts";

const EXPAT = `
import sys, json, xml.parsers.expat
out = []
for path in sys.argv[1:]:
    data = open(path, 'rb').read()
    p = xml.parsers.expat.ParserCreate(namespace_separator='}')
    try:
        p.Parse(data, False)
        out.append(None)
    except xml.parsers.expat.ExpatError as e:
        out.append(xml.parsers.expat.ErrorString(e.code))
print(json.dumps(out))
`;

const enc = new TextEncoder();
const H = FUZZ_HEADER;
const TARGETED: [string, Uint8Array][] = [
  ["invalid UTF-8 (0xff)", new Uint8Array([...enc.encode(H + "<message><body>"), 0xff])],
  ["overlong NUL", new Uint8Array([...enc.encode(H + "<message><body>"), 0xc0, 0x80])],
  ["surrogate", new Uint8Array([...enc.encode(H + "<message><body>"), 0xed, 0xa0, 0x80])],
  ["U+FFFE", enc.encode(H + "<message><body>\ufffe")],
  ["NUL in text", enc.encode(H + "<message><body>\0")],
  ["NUL in header", enc.encode("<stream:stream\0")],
  ["C0 control", enc.encode(H + "<message a='\x01'/>")],
  ["attribute without value", enc.encode(H + "<message a/>")],
  ["attribute without quotes", enc.encode(H + "<message a=b/>")],
  ["attributes without space", enc.encode(H + "<message a='1'b='2'/>")],
  ["duplicate attribute", enc.encode(H + "<message a='1' a='2'/>")],
  ["'<' in attribute", enc.encode(H + "<message a='<'/>")],
  ["unbound prefix", enc.encode(H + "<p:message/>")],
  ["second stream header", enc.encode(H + H.slice(H.indexOf("?>") + 2))],
  ["second header with declaration", enc.encode(H + H)],
  ["garbage after close", enc.encode(H + "</stream:stream>garbage")],
  ["stanza after close", enc.encode(H + "</stream:stream><message/>")],
  ["stanza before header", enc.encode("<message/>" + H)],
  ["XML declaration in the middle", enc.encode(H + "<message/><?xml version='1.0'?>")],
  ["text outside stanzas", enc.encode(H + "hello")],
  ["text before header", enc.encode("hello" + H)],
  ["whitespace before XML declaration", enc.encode(" " + H)],
  ["mismatched end tag", enc.encode(H + "<message></presence>")],
  ["end tag before header", enc.encode("</stream:stream>")],
  ["undefined entity", enc.encode(H + "<message>&foo;</message>")],
  ["bare ampersand", enc.encode(H + "<message>a & b</message>")],
  ["char ref to NUL", enc.encode(H + "<message>&#0;</message>")],
  ["char ref to surrogate", enc.encode(H + "<message>&#xD800;</message>")],
  ["]]> in text", enc.encode(H + "<message>]]></message>")],
  ["CDATA outside stanza", enc.encode(H + "<![CDATA[x]]>")],
  ["comment", enc.encode(H + "<!-- c -->")],
  ["DOCTYPE", enc.encode("<!DOCTYPE x>" + H)],
  ["processing instruction", enc.encode(H + "<?pi x?>")],
  ["xmlns:xml rebound", enc.encode(H + "<message xmlns:xml='urn:x'/>")],
  ["empty prefix declaration", enc.encode(H + "<message xmlns:p=''/>")],
  ["name starting with digit", enc.encode(H + "<1message/>")],
  ["colon-only name", enc.encode(H + "<:/>")],
];

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { count: { type: "string", default: "3000" }, seed: { type: "string", default: "7" } },
  });
  const rng = new Prng(Number(values.seed));
  const corpus = clientStreams().map((s) => enc.encode(s));
  const cases: { kind: string; bytes: Uint8Array }[] = TARGETED.map(([kind, bytes]) => ({
    kind,
    bytes,
  }));
  for (let i = 0; i < Number(values.count); i++) {
    const m = mutate(rng.pick(corpus), rng, { other: rng.pick(corpus), maxRepeat: 4096 });
    cases.push({ kind: `mutation ${m.mutation}` satisfies `mutation ${Mutation}`, bytes: m.bytes });
  }
  const dir = await Deno.makeTempDir({ prefix: "verona-expat-" });
  const paths = cases.map((_, i) => join(dir, `${i}.xml`));
  await Promise.all(cases.map((c, i) => Deno.writeFile(paths[i], c.bytes)));
  const expat: (string | null)[] = [];
  for (let i = 0; i < paths.length; i += 500) {
    const run = await new Deno.Command("python3", {
      args: ["-c", EXPAT, ...paths.slice(i, i + 500)],
    }).output();
    expat.push(...JSON.parse(new TextDecoder().decode(run.stdout)));
  }
  await Deno.remove(dir, { recursive: true });

  const differences = new Map<string, string[]>();
  let same = 0;
  for (const [i, c] of cases.entries()) {
    let ours: string | null = null;
    let closed = false;
    const parser = new StreamParser({
      streamOpen: () => {},
      stanza: () => {},
      streamClose: () => closed = true,
      error: (condition, text) => ours = `${condition}: ${text}`,
    });
    parser.write(c.bytes);
    const theirs = expat[i];
    if ((ours === null) === (theirs === null)) {
      same++;
      continue;
    }
    const key = ours === null
      ? `we accept, expat: ${theirs}${closed ? " (after our close)" : ""}`
      : `we refuse (${(ours as string).split(":")[0]}), expat accepts`;
    const list = differences.get(key) ?? [];
    list.push(c.kind);
    differences.set(key, list);
  }
  console.log(`${cases.length} inputs, ${same} with the same verdict`);
  for (const [key, kinds] of differences) {
    const counts = new Map<string, number>();
    for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
    console.log(`\n${kinds.length} × ${key}`);
    for (const [k, n] of counts) console.log(`    ${n} × ${k}`);
  }
}
