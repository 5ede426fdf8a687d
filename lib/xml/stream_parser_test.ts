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
