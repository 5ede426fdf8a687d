// The fast path for whole stanzas against saxes: the same stream gives the same stanzas, element
// for element and text node for text node, and the same errors, with the fast path on or off.
import { strict as assert } from "node:assert";
import { clientStreams, FUZZ_HEADER, mutate, Prng, randomChunks } from "./_fuzz.ts";
import { Element } from "./element.ts";
import { StreamParser } from "./stream_parser.ts";
import { WholeStanzaReader } from "./whole_stanza.ts";

/** An element as nested arrays: name, attributes in order, children (text nodes apart). */
function shape(node: Element | string): unknown {
  if (typeof node === "string") return node;
  return [node.name, Object.entries(node.attrs), node.children.map(shape)];
}

interface Run {
  opens: unknown[];
  stanzas: unknown[];
  closed: boolean;
  errors: string[];
}

function run(chunks: Uint8Array[], wholeStanzas: boolean): Run {
  const out: Run = { opens: [], stanzas: [], closed: false, errors: [] };
  const parser = new StreamParser(
    {
      streamOpen: (name, ns, attrs) => out.opens.push([name, ns, Object.entries(attrs)]),
      stanza: (stanza) => out.stanzas.push(shape(stanza)),
      streamClose: () => out.closed = true,
      error: (condition) => out.errors.push(condition),
    },
    {},
    { wholeStanzas },
  );
  for (const chunk of chunks) parser.write(chunk);
  return out;
}

const encode = (text: string) => new TextEncoder().encode(text);

/** Stanzas that test the edges of what the fast path reads, and what it leaves to saxes. */
const EDGES = [
  "<message to='a@b' id='1'><body>plain</body></message>",
  `<message to="a@b" xml:lang='fr'><body xml:lang="en">q&amp;a &lt;&gt; &quot;&apos;</body></message>`,
  "<message><body>&#65;&#x42;&#x1F339;&#10;&#9;&#13;</body></message>",
  "<message a='&#x1F339; &amp; &#13;&#10;' b=\"'\" c='\"'/>",
  "<message><body>caf\u00e9 \u{1F339} \u4e2d\u6587</body></message>",
  "<iq type='get'><query xmlns='jabber:iq:roster'><item jid='x'><group>g</group></item></query></iq>",
  "<iq><a xmlns='urn:a'><b><c xmlns='urn:c'/><d/></b></a><e/></iq>",
  "<iq xmlns='jabber:client'><a xmlns=''/></iq>",
  "<presence xmlns='jabber:server'/>",
  "<presence\n  to='x'\tfrom='y' />",
  "<message><body>  </body><body></body><x/>text<y/> tail </message>",
  "<message><body>]]&gt; ]] > ]></body></message>",
  // Left to saxes: each is either unusual or broken, and saxes says which.
  "<message><body>]]></body></message>",
  "<message><body>a\r\nb\rc</body></message>",
  "<message a='x\ty'/>",
  "<message a='1' a='2'/>",
  "<message xmlns='urn:a' xmlns='urn:b'/>",
  "<message a='1'b='2'/>",
  "<foo:message xmlns:foo='jabber:client'/>",
  "<message xmlns:foo='urn:foo' foo:a='1'/>",
  "<message><foo:body xmlns:foo='urn:foo'>x</foo:body></message>",
  "<message xml:space='preserve'/>",
  "<message><body><![CDATA[a < b]]></body></message>",
  "<message><!-- no --></message>",
  "<message><?pi x?></message>",
  "<message><body>&nbsp;</body></message>",
  "<message><body>&#0;</body></message>",
  "<message><body>&#xD800;</body></message>",
  "<message><body>&#X41;</body></message>",
  "<message><body>\uFFFE</body></message>",
  "<message><body>a</bodyx></message>",
  "<message></message >",
  "<message/ >",
  "<m\u00e9ssage/>",
  "<message \u00e9='1'/>",
  "<message xmlns='http://www.w3.org/XML/1998/namespace'/>",
  "<message __proto__='x' constructor='y'/>",
  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>",
  "<stream xmlns='http://etherx.jabber.org/streams'/>",
  "text between",
  "<message><body>unclosed</body>",
  "<message><body>x</body></message></stream:stream>",
];

Deno.test("whole stanzas: the fast path and saxes give the same stanzas and errors", () => {
  for (const stanza of EDGES) {
    for (const text of [FUZZ_HEADER + stanza, FUZZ_HEADER + " " + stanza + " " + stanza]) {
      const chunks = [encode(FUZZ_HEADER), encode(text.slice(FUZZ_HEADER.length))];
      assert.deepEqual(run(chunks, true), run(chunks, false), stanza);
      assert.deepEqual(run([encode(text)], true), run([encode(text)], false), stanza);
    }
  }
});

/** Stream headers: the usual ones the fast path reads, and others saxes reads or refuses. */
const HEADERS = [
  FUZZ_HEADER,
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
  `<?xml version="1.0" encoding="UTF-8"?>\n<stream:stream to="localhost" ` +
  `xmlns:stream="http://etherx.jabber.org/streams" xmlns="jabber:client" version="1.0">`,
  "<?xml version='1.0' standalone='yes' ?><stream:stream xmlns:stream='urn:other'>",
  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'>",
  "<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns:stream='urn:s'>",
  "<?xml version='1.1'?><stream:stream xmlns:stream='urn:s'>",
  "<?xml version='1.0' standalone='yes' encoding='UTF-8'?><stream:stream xmlns:stream='urn:s'>",
  "<?xml encoding='UTF-8'?><stream:stream xmlns:stream='urn:s'>",
  "<stream:stream xmlns='jabber:client'>",
  "<stream:stream xmlns:stream=''>",
  "<stream:stream xmlns:stream='urn:s' to='a' to='b'>",
  "<stream:stream xmlns:stream='urn:s'to='a'>",
  "<stream xmlns='http://etherx.jabber.org/streams'>",
  "<stream:stream xmlns:stream='urn:s' xml:lang='en' id='a&amp;b'>",
  "<stream:stream xmlns:stream='urn:s'/>",
  " <stream:stream xmlns:stream='urn:s'>",
];

Deno.test("whole headers: the fast path and saxes open the stream alike", () => {
  for (const header of HEADERS) {
    const stanza = "<message><body>x</body></message>";
    const whole = [encode(header + stanza)];
    const split = [encode(header), encode(stanza)];
    const halves = [encode(header.slice(0, 9)), encode(header.slice(9) + stanza)];
    for (const chunks of [whole, split, halves]) {
      assert.deepEqual(run(chunks, true), run(chunks, false), header);
    }
  }
});

Deno.test("whole stanzas: the reader takes the plain ones and declines the rest", () => {
  const reader = new WholeStanzaReader();
  const plain = "<message to='a'><body>hi &amp; bye</body></message>";
  const element = reader.read(` ${plain} <presence/>`, 1, "jabber:client");
  // The stanza's namespace comes last, as StreamParser sets it after saxes's attributes.
  assert.equal(element?.toString(), plain.replace("to='a'", "to='a' xmlns='jabber:client'"));
  assert.equal(reader.end, 1 + plain.length);
  for (const declined of [plain.slice(0, -1), "<a><![CDATA[x]]></a>", "<a b='\r'/>", "<p:a/>"]) {
    assert.equal(reader.read(declined, 0, "jabber:client"), null, declined);
  }
});

Deno.test("whole stanzas: 3000 fuzzed streams, whole and split, parse alike either way", () => {
  const rng = new Prng(20261203);
  const corpus = [
    ...clientStreams(),
    ...EDGES.map((stanza) => FUZZ_HEADER + stanza + stanza),
    ...HEADERS.map((header) => header + EDGES[0] + EDGES[1]),
  ].map(encode);
  let withStanzas = 0;
  for (let round = 0; round < 3000; round++) {
    let input: Uint8Array = rng.pick(corpus);
    for (let k = rng.int(3); k > 0; k--) {
      input = mutate(input, rng, { other: rng.pick(corpus), maxRepeat: 1 << 12 }).bytes;
    }
    const label = `round ${round}: ${new TextDecoder().decode(input.subarray(0, 300))}`;
    const reference = run([input], false);
    assert.deepEqual(run([input], true), reference, label);
    assert.deepEqual(run(randomChunks(input, rng), true), reference, label);
    if (reference.stanzas.length > 0) withStanzas++;
  }
  // Many inputs still hold stanzas to compare, not only early errors.
  assert.ok(withStanzas > 900, `only ${withStanzas} inputs had stanzas`);
});
