import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { NS_FRAMING, OutgoingFramer, translateIncoming } from "./framing.ts";
import { loadXml } from "../xml/stored.ts";

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams' id='abc' from='localhost' version='1.0' " +
  "xml:lang='en'>";
const FEATURES = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
  "<mechanism>PLAIN</mechanism></mechanisms></stream:features>";
const MESSAGE = "<message to='a@localhost' from='b@localhost/r'><body>1 &lt; 2 &amp; " +
  "'&gt;'</body><x xmlns='urn:example' v=\"a>b\"/></message>";
const ERROR_AND_END = "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" +
  "</stream:error></stream:stream>";

const EXPECTED = [
  {
    kind: "open",
    text: `<open xmlns='${NS_FRAMING}' id='abc' from='localhost' version='1.0' xml:lang='en'/>`,
  },
  {
    kind: "element",
    text: "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>" +
      FEATURES.slice("<stream:features>".length),
  },
  { kind: "element", text: "<message xmlns='jabber:client'" + MESSAGE.slice("<message".length) },
  { kind: "element", text: "<presence xmlns='jabber:client'/>" },
  { kind: "element", text: "<r xmlns='urn:xmpp:sm:3'/>" },
  {
    kind: "element",
    text: "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>" +
      "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
  },
  { kind: "close", text: `<close xmlns='${NS_FRAMING}'/>` },
];
const OUTPUT = HEADER + FEATURES + MESSAGE + " <presence/>\n<r xmlns='urn:xmpp:sm:3'/>" +
  ERROR_AND_END;

Deno.test("OutgoingFramer turns a stream into standalone messages", () => {
  assertEquals(new OutgoingFramer().write(OUTPUT), EXPECTED);
});

Deno.test("OutgoingFramer gives the same messages whatever the split", () => {
  for (let at = 0; at <= OUTPUT.length; at++) {
    const framer = new OutgoingFramer();
    const got = [...framer.write(OUTPUT.slice(0, at)), ...framer.write(OUTPUT.slice(at))];
    assertEquals(got, EXPECTED, `split at ${at}`);
    assertEquals(framer.pending, 0);
  }
});

Deno.test("every framed element parses on its own, in the namespace it had", () => {
  for (const { kind, text } of EXPECTED) {
    if (kind === "open") continue;
    const element = loadXml(text);
    if (kind === "close") assertEquals(element.attrs.xmlns, NS_FRAMING);
  }
  assertEquals(loadXml(EXPECTED[2].text).getChildText("body"), "1 < 2 & '>'");
});

Deno.test("translateIncoming() makes <open/> a stream header and <close/> its end", () => {
  assertEquals(
    translateIncoming(`<open xmlns="${NS_FRAMING}" to="localhost" version="1.0" xml:lang="en"/>`),
    {
      kind: "open",
      header: "<stream:stream xmlns='jabber:client' " +
        "xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' " +
        "xml:lang='en'>",
    },
  );
  assertEquals(translateIncoming(`<close xmlns='${NS_FRAMING}'/>`), {
    kind: "close",
    text: "</stream:stream>",
  });
});

Deno.test("translateIncoming() escapes what it copies into the header", () => {
  const got = translateIncoming(`<open xmlns='${NS_FRAMING}' to='a&apos;&lt;b' version='1.0'/>`);
  assertEquals(got.kind, "open");
  if (got.kind === "open") assertEquals(got.header.includes("to='a&apos;&lt;b'"), true);
});

Deno.test("translateIncoming() passes stanzas and anything not framing on unchanged", () => {
  for (
    const text of [
      "<message xmlns='jabber:client'><body>hi</body></message>",
      "<open/>", // not in the framing namespace: the stream refuses it
      `<open xmlns='${NS_FRAMING}'`, // not XML
      `<open xmlns='urn:other'/>`,
      " ",
    ]
  ) {
    assertEquals(translateIncoming(text), { kind: "data", text });
  }
});
