import { strict as assert } from "node:assert";
import { type Element } from "./element.ts";
import { type ParserErrorCondition, StreamParser } from "./stream_parser.ts";

interface Recorded {
  opens: { name: string; ns: string; attrs: Record<string, string> }[];
  stanzas: Element[];
  closed: boolean;
  errors: { condition: ParserErrorCondition; text: string }[];
}

function recorder(limits = {}): { parser: StreamParser; seen: Recorded } {
  const seen: Recorded = { opens: [], stanzas: [], closed: false, errors: [] };
  const parser = new StreamParser({
    streamOpen: (name, ns, attrs) => seen.opens.push({ name, ns, attrs }),
    stanza: (stanza) => seen.stanzas.push(stanza),
    streamClose: () => seen.closed = true,
    error: (condition, text) => seen.errors.push({ condition, text }),
  }, limits);
  return { parser, seen };
}

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const STREAM = HEADER +
  "<message to='a@b' type='chat'><body>caf\u00e9 \u{1F600} &amp; &lt;ok&gt;</body>" +
  "<x xmlns='urn:x'><y/></x></message> \n<presence/></stream:stream>";

Deno.test("StreamParser splits a stream into header, stanzas and close", () => {
  const { parser, seen } = recorder();
  parser.write(new TextEncoder().encode(STREAM));
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.opens[0].name, "stream");
  assert.equal(seen.opens[0].ns, "http://etherx.jabber.org/streams");
  assert.equal(seen.opens[0].attrs.xmlns, "jabber:client");
  assert.equal(seen.opens[0].attrs.to, "localhost");
  assert.equal(seen.stanzas.length, 2);
  const message = seen.stanzas[0];
  assert.equal(message.attrs.xmlns, "jabber:client");
  assert.equal(message.getChildText("body"), "caf\u00e9 \u{1F600} & <ok>");
  assert.ok(message.getChild("x", "urn:x")?.getChild("y"));
  assert.equal(
    message.toString("jabber:client"),
    "<message to='a@b' type='chat'><body>caf\u00e9 \u{1F600} &amp; &lt;ok&gt;</body>" +
      "<x xmlns='urn:x'><y/></x></message>",
  );
  assert.ok(seen.closed);
});

Deno.test("StreamParser accepts the stream split at every byte offset", () => {
  const bytes = new TextEncoder().encode(STREAM);
  const whole = recorder();
  whole.parser.write(bytes);
  for (let cut = 1; cut < bytes.length; cut++) {
    const { parser, seen } = recorder();
    parser.write(bytes.subarray(0, cut));
    parser.write(bytes.subarray(cut));
    assert.deepEqual(seen.errors, [], `cut at ${cut}`);
    assert.deepEqual(
      seen.stanzas.map((s) => s.toString()),
      whole.seen.stanzas.map((s) => s.toString()),
      `cut at ${cut}`,
    );
  }
});

Deno.test("StreamParser accepts the stream one byte at a time", () => {
  const { parser, seen } = recorder();
  for (const byte of new TextEncoder().encode(STREAM)) parser.write(new Uint8Array([byte]));
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.stanzas.length, 2);
});

for (
  const [label, input, condition] of [
    ["a DTD", "<!DOCTYPE stream>", "restricted-xml"],
    ["a comment", HEADER + "<!-- hi -->", "restricted-xml"],
    ["a processing instruction", HEADER + "<?foo bar?>", "restricted-xml"],
    ["an undefined entity", HEADER + "<message><body>&foo;</body></message>", "restricted-xml"],
    ["mismatched tags", HEADER + "<message></presence>", "not-well-formed"],
    ["invalid UTF-8", HEADER + "<message>\xff</message>", "not-well-formed"],
  ] as const
) {
  Deno.test(`StreamParser rejects ${label} with ${condition}`, () => {
    const { parser, seen } = recorder();
    const bytes = label === "invalid UTF-8"
      ? Uint8Array.from(input, (c) => c.charCodeAt(0))
      : new TextEncoder().encode(input);
    parser.write(bytes);
    assert.equal(seen.errors[0]?.condition, condition);
    assert.equal(seen.stanzas.length, 0);
  });
}

Deno.test("StreamParser rejects an oversized stanza, even fed in small chunks", () => {
  const { parser, seen } = recorder({ maxStanzaSize: 1000 });
  parser.writeText(HEADER + "<message><body>");
  for (let i = 0; i < 100; i++) parser.writeText("x".repeat(50));
  assert.equal(seen.errors[0]?.condition, "policy-violation");
});

Deno.test("StreamParser rejects an oversized stanza arriving in one chunk", () => {
  const { parser, seen } = recorder({ maxStanzaSize: 1000 });
  parser.writeText(HEADER + "<message><body>" + "x".repeat(5000) + "</body></message><presence/>");
  assert.equal(seen.errors[0]?.condition, "policy-violation");
  assert.equal(seen.stanzas.length, 0);
});

Deno.test("StreamParser rejects nesting past the depth limit", () => {
  const { parser, seen } = recorder({ maxDepth: 5 });
  parser.writeText(HEADER + "<a><a><a><a><a><a><a>");
  assert.equal(seen.errors[0]?.condition, "policy-violation");
});

Deno.test("StreamParser.reset() accepts a new stream header", () => {
  const { parser, seen } = recorder();
  parser.writeText(HEADER + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  parser.reset();
  parser.writeText(HEADER + "<iq type='get' id='1'/>");
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.opens.length, 2);
  assert.equal(seen.stanzas[1].name, "iq");
});

Deno.test("StreamParser lets keepalives go on forever, but bounds a whitespace flood", () => {
  const { parser, seen } = recorder({ maxStanzaSize: 1000 });
  parser.writeText(HEADER);
  for (let i = 0; i < 100; i++) parser.writeText(`<presence/>${" ".repeat(50)}`);
  for (let i = 0; i < 19; i++) parser.writeText(" ".repeat(50));
  assert.equal(seen.errors.length, 0);
  assert.equal(seen.stanzas.length, 100);
  parser.writeText(" ".repeat(100));
  assert.equal(seen.errors[0]?.condition, "policy-violation");
});

Deno.test("StreamParser measures a stanza from its own start, not the stream's", () => {
  const { parser, seen } = recorder({ maxStanzaSize: 1000 });
  parser.writeText(HEADER + `<message><body>${"x".repeat(900)}</body></message>`);
  parser.writeText(`<message><body>${"x".repeat(900)}</body></message>`);
  assert.equal(seen.errors.length, 0);
  parser.writeText(`<message><body>${"x".repeat(700)}`);
  parser.writeText("x".repeat(300));
  assert.equal(seen.errors[0]?.condition, "policy-violation");
});

const encoder = new TextEncoder();

/** Feeds bytes in 64 KiB chunks, as a socket delivers them; returns the time taken. */
function feed(parser: StreamParser, bytes: Uint8Array): number {
  const started = performance.now();
  for (let at = 0; at < bytes.length; at += 65536) parser.write(bytes.subarray(at, at + 65536));
  return performance.now() - started;
}

Deno.test("StreamParser counts the stanza limit in bytes, not characters", () => {
  const { parser, seen } = recorder({ maxStanzaSize: 1000 });
  // 400 characters, 1200 bytes.
  parser.write(encoder.encode(HEADER + `<message><body>${"\u20ac".repeat(400)}</body></message>`));
  assert.equal(seen.errors[0]?.condition, "policy-violation");
  assert.equal(seen.stanzas.length, 0);
});

Deno.test("StreamParser accepts a stanza of exactly the limit, from '<' to '>'", () => {
  const stanza = `<message><body>${"\u20ac".repeat(300)}</body></message>`;
  const { parser, seen } = recorder({ maxStanzaSize: encoder.encode(stanza).length });
  parser.write(encoder.encode(HEADER + stanza + stanza));
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.stanzas.length, 2);
});

for (
  const [label, input, pattern] of [
    ["a stream header over 8 KiB", `<stream:stream ${"  ".repeat(5000)}`, /header larger/],
    [
      "more than 32 attributes on the header",
      "<stream:stream " + Array.from({ length: 33 }, (_, i) => `a${i}='1' `).join(""),
      /attributes on the stream header/,
    ],
    [
      "a 10 MB header attribute",
      `<stream:stream to='${"x".repeat(10_000_000)}`,
      /attribute longer/,
    ],
    ["a 10 MB element name", HEADER + `<m${"x".repeat(10_000_000)}`, /name longer/],
    ["a 10 MB attribute name", HEADER + `<m ${"x".repeat(10_000_000)}`, /name longer/],
    ["1 MB of nested tags", HEADER + "<a>".repeat(350_000), /nested deeper/],
    [
      "1 MB of attributes in a stanza",
      HEADER + "<message " + Array.from({ length: 100_000 }, (_, i) => `a${i}='x'`).join(" "),
      /attributes on an element/,
    ],
    ["10 MB of whitespace between stanzas", HEADER + " ".repeat(10_000_000), /whitespace/],
    ["a 10 MB text run", HEADER + `<message><body>${"x".repeat(10_000_000)}`, /stanza larger/],
  ] as const
) {
  Deno.test(`StreamParser refuses ${label} at once with policy-violation`, () => {
    const { parser, seen } = recorder();
    const ms = feed(parser, encoder.encode(input));
    assert.equal(seen.errors.length, 1);
    assert.equal(seen.errors[0].condition, "policy-violation");
    assert.match(seen.errors[0].text, pattern);
    assert.ok(ms < 200, `took ${ms.toFixed(1)} ms`);
  });
}

Deno.test("StreamParser stops parsing at the error: nothing after it in the chunk is reported", () => {
  const { parser, seen } = recorder({ maxDepth: 2 });
  parser.write(encoder.encode(HEADER + "<presence/><a><b><c/></b></a><presence/><message/>"));
  assert.equal(seen.stanzas.length, 1);
  assert.equal(seen.errors.length, 1);
  parser.write(encoder.encode("<presence/>"));
  assert.equal(seen.stanzas.length, 1);
});

for (
  const [label, input, condition] of [
    ["a NUL in text", HEADER + "<message><body>\0</body></message>", "not-well-formed"],
    ["a NUL in an attribute", HEADER + "<message to='\0'/>", "not-well-formed"],
    ["a NUL in the header", "<stream:stream\0", "not-well-formed"],
    ["an ESC in a name", HEADER + "<mes\x1bsage/>", "not-well-formed"],
    ["U+FFFE", HEADER + "<message><body>\ufffe</body></message>", "not-well-formed"],
    ["an attribute without a value", HEADER + "<message to/>", "not-well-formed"],
    ["an attribute without quotes", HEADER + "<message to=x/>", "not-well-formed"],
    ["attributes without space between", HEADER + "<message a='1'b='2'/>", "not-well-formed"],
    ["a duplicate attribute", HEADER + "<message a='1' a='2'/>", "not-well-formed"],
    ["'<' in an attribute value", HEADER + "<message a='<'/>", "not-well-formed"],
    ["a bare '&'", HEADER + "<message><body>a & b</body></message>", "not-well-formed"],
    ["a reference to NUL", HEADER + "<message><body>&#0;</body></message>", "not-well-formed"],
    ["an undefined entity in an attribute", HEADER + "<message a='&x;'/>", "restricted-xml"],
    ["a second stream header", HEADER + HEADER.slice(HEADER.indexOf("?>") + 2), "bad-format"],
    [
      "an XML declaration in the middle",
      HEADER + "<presence/><?xml version='1.0'?>",
      "not-well-formed",
    ],
    ["text between stanzas", HEADER + "<presence/>hello", "not-well-formed"],
    ["text before the header", "hello" + HEADER, "not-well-formed"],
    ["an end tag before the header", "</stream:stream>", "not-well-formed"],
    ["an unbound prefix", HEADER + "<p:message/>", "not-well-formed"],
    ["CDATA between stanzas", HEADER + "<![CDATA[x]]>", "not-well-formed"],
    ["a comment before the header", "<!-- x -->" + HEADER, "restricted-xml"],
  ] as const
) {
  Deno.test(`StreamParser answers ${label} with ${condition}, split anywhere`, () => {
    const bytes = encoder.encode(input);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { parser, seen } = recorder();
      parser.write(bytes.subarray(0, cut));
      parser.write(bytes.subarray(cut));
      assert.deepEqual(seen.errors.map((e) => e.condition), [condition], `cut at ${cut}`);
    }
  });
}

Deno.test("StreamParser delivers the stanzas before invalid UTF-8, then the error", () => {
  const bytes = [...encoder.encode(HEADER + "<presence/><message><body>"), 0xed, 0xa0, 0x80];
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { parser, seen } = recorder();
    parser.write(Uint8Array.from(bytes.slice(0, cut)));
    parser.write(Uint8Array.from(bytes.slice(cut)));
    assert.equal(seen.stanzas.length, 1, `cut at ${cut}`);
    assert.deepEqual(seen.errors.map((e) => e.condition), ["not-well-formed"]);
    assert.match(seen.errors[0].text, /UTF-8/);
  }
});

Deno.test("StreamParser delivers the stanza before a mismatched end tag", () => {
  const { parser, seen } = recorder();
  parser.write(encoder.encode(HEADER + "<presence/><message></presence>"));
  assert.equal(seen.stanzas.length, 1);
  assert.match(seen.errors[0].text, /<\/presence> does not match <message>/);
});

Deno.test("StreamParser takes a stanza before the header for the root, which the stream refuses", () => {
  const { parser, seen } = recorder();
  parser.write(encoder.encode("<message to='a@b'><body>hi</body></message>" + HEADER));
  assert.equal(seen.opens[0].name, "message");
  assert.ok(seen.closed);
  assert.deepEqual(seen.errors, []);
});

Deno.test("StreamParser ignores what follows the stream's close", () => {
  const { parser, seen } = recorder();
  parser.write(encoder.encode(HEADER + "<presence/></stream:stream>garbage<message/>\0"));
  assert.ok(seen.closed);
  assert.equal(seen.stanzas.length, 1);
  assert.deepEqual(seen.errors, []);
});

Deno.test("StreamParser accepts a byte order mark, an XML declaration and CDATA", () => {
  const { parser, seen } = recorder();
  parser.write(Uint8Array.from([0xef, 0xbb, 0xbf, ...encoder.encode(HEADER)]));
  parser.write(encoder.encode("<message><body><![CDATA[a < b]]>&#x1F600;&amp;</body></message>"));
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.stanzas[0].getChildText("body"), "a < b\u{1F600}&");
});

Deno.test("StreamParser after reset() reads a new stream afresh: its byte order mark, no cut character", () => {
  const { parser, seen } = recorder();
  const bom = [0xef, 0xbb, 0xbf];
  parser.write(Uint8Array.from([...bom, ...encoder.encode(HEADER + "<presence/>")]));
  parser.reset(); // as after STARTTLS or SASL: the decoder is used again
  parser.write(Uint8Array.from([...bom, ...encoder.encode(HEADER + "<message><body>caf")]));
  parser.write(Uint8Array.from([0xc3])); // the first byte of "é", and the stream restarts
  parser.reset();
  parser.write(encoder.encode(HEADER + "<message><body>\u00e9</body></message>"));
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.opens.length, 3);
  assert.equal(seen.stanzas.map((s) => s.name).join(" "), "presence message");
  assert.equal(seen.stanzas[1].getChildText("body"), "\u00e9");
});

Deno.test("StreamParser.reset() from a stanza handler drops the rest of the chunk", () => {
  const seen: string[] = [];
  const parser: StreamParser = new StreamParser({
    streamOpen: () => seen.push("open"),
    stanza: (stanza) => {
      seen.push(stanza.name);
      if (stanza.name === "starttls") parser.reset();
    },
    streamClose: () => seen.push("close"),
    error: (condition) => seen.push(condition),
  });
  parser.writeText(HEADER + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><auth/>junk");
  assert.deepEqual(seen, ["open", "starttls"]);
  parser.writeText(HEADER + "<iq type='get' id='1'/>");
  assert.deepEqual(seen, ["open", "starttls", "open", "iq"]);
});

Deno.test("StreamParser.idle tells a complete input from a partial one", () => {
  const { parser } = recorder();
  assert.ok(parser.idle);
  parser.writeText(HEADER.slice(0, 30));
  assert.ok(!parser.idle);
  parser.writeText(HEADER.slice(30) + "<presence>");
  assert.ok(!parser.idle);
  parser.writeText("</presence> ");
  assert.ok(parser.idle);
});

Deno.test("StreamParser.writeText() counts UTF-16 code units, for text already decoded", () => {
  const { parser, seen } = recorder({ maxStanzaSize: 1000 });
  parser.writeText(HEADER + `<message><body>${"\u20ac".repeat(900)}</body></message>`);
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.stanzas.length, 1);
});

Deno.test("StreamParser refuses other encodings than UTF-8 with unsupported-encoding", () => {
  for (
    const bytes of [
      encoder.encode("<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream>"),
      Uint8Array.from([0xff, 0xfe, 0x3c, 0x00]),
      Uint8Array.from([0xfe, 0xff, 0x00, 0x3c]),
    ]
  ) {
    const { parser, seen } = recorder();
    parser.write(bytes);
    assert.deepEqual(seen.errors.map((e) => e.condition), ["unsupported-encoding"]);
    assert.equal(seen.opens.length, 0);
  }
  const { parser, seen } = recorder();
  parser.write(encoder.encode("<?xml version='1.0' encoding='utf-8'?>" + HEADER.slice(21)));
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.opens.length, 1);
});

Deno.test("StreamParser.release() frees the parser between stanzas; the stream goes on the same", () => {
  const text = (parser: StreamParser, xml: string) => parser.write(new TextEncoder().encode(xml));
  const { parser, seen } = recorder();
  assert.equal(parser.release(), false, "nothing to free before any input");
  text(parser, HEADER + "<x:presence xmlns:x='jabber:client'/><message to='a@b'><bo");
  assert.equal(parser.release(), false, "a stanza half read is kept");
  text(parser, "dy>one</body></message>");
  assert.ok(parser.release(), "freed between stanzas");
  assert.equal(parser.release(), false, "already freed");
  // The new parser knows the header's namespaces: the default one and the stream prefix.
  text(parser, "<message to='c@d'><body>two</body></message><stream:error/>");
  assert.ok(parser.release());
  text(parser, "</stream:stream>");
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.opens.length, 1, "the re-opened header is not reported again");
  assert.deepEqual(seen.stanzas.map((s) => [s.name, s.attrs.xmlns]), [
    ["presence", "jabber:client"],
    ["message", "jabber:client"],
    ["message", "jabber:client"],
    ["error", "http://etherx.jabber.org/streams"],
  ]);
  assert.equal(seen.stanzas[2].getChildText("body"), "two");
  assert.ok(seen.closed);
});

Deno.test("StreamParser after release() decodes UTF-8 again, a character cut between chunks too", () => {
  const { parser, seen } = recorder();
  parser.write(new TextEncoder().encode(HEADER + "<message><body>\u00e9</body></message>"));
  assert.ok(parser.release(), "freed between stanzas");
  const bytes = new TextEncoder().encode("<message><body>\u00e9\u{1f600}</body></message>");
  const cut = bytes.indexOf(0xf0) + 2;
  parser.write(bytes.subarray(0, cut));
  parser.write(bytes.subarray(cut));
  assert.ok(parser.release(), "freed again");
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.stanzas.map((s) => s.getChildText("body")), ["\u00e9", "\u00e9\u{1f600}"]);
});

Deno.test("StreamParser after release() still refuses a second header and a wrong end tag", () => {
  const text = (parser: StreamParser, xml: string) => parser.write(new TextEncoder().encode(xml));
  const second = recorder();
  text(second.parser, HEADER);
  assert.ok(second.parser.release());
  text(second.parser, HEADER.replace("<?xml version='1.0'?>", ""));
  assert.equal(second.seen.errors[0]?.condition, "bad-format");
  const wrong = recorder();
  text(wrong.parser, HEADER + "<presence/>");
  assert.ok(wrong.parser.release());
  text(wrong.parser, "</stream>");
  assert.equal(wrong.seen.errors[0]?.condition, "not-well-formed");
  assert.equal(wrong.seen.closed, false);
});
