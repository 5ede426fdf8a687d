import { strict as assert } from "node:assert";
import { type Element, StreamParser } from "../xml/mod.ts";
import {
  assertStanza,
  BlockError,
  forSending,
  matchStanza,
  parseBlock,
  substituteVariables,
} from "./match.ts";

/** Parses received XML the way the client does: through the stream parser. */
function received(xml: string): Element {
  const stanzas: Element[] = [];
  const parser = new StreamParser({
    streamOpen() {},
    stanza: (stanza) => stanzas.push(stanza),
    streamClose() {},
    error: (condition, text) => {
      throw new Error(`${condition}: ${text}`);
    },
  });
  parser.writeText(
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + xml,
  );
  assert.equal(stanzas.length, 1);
  return stanzas[0];
}

function match(expectedXml: string, actualXml: string, captures = new Map<string, string>()) {
  const [expected] = parseBlock(expectedXml);
  return matchStanza(expected, received(actualXml), captures);
}

function ok(expectedXml: string, actualXml: string, captures?: Map<string, string>): void {
  const result = match(expectedXml, actualXml, captures);
  assert.deepEqual(result, { ok: true }, JSON.stringify(result));
}

function differs(
  expectedXml: string,
  actualXml: string,
  reason: RegExp,
  captures?: Map<string, string>,
): void {
  const result = match(expectedXml, actualXml, captures);
  assert.equal(result.ok, false, `expected a mismatch for ${actualXml}`);
  if (!result.ok) assert.match(result.reason, reason);
}

Deno.test("substituteVariables() replaces JIDs as text, escaped, and refuses unknown forms", () => {
  const jids: Record<string, string> = { "Romeo": "romeo@localhost", "Juliet's Nurse": "n@l" };
  const resolve = (name: string, form: string) => {
    if (!(name in jids)) throw new Error(`no client "${name}"`);
    return form === "JID" ? jids[name] : `${jids[name]}/a'b&c`;
  };
  assert.equal(
    substituteVariables("<a to='${Romeo's JID}' from='${Juliet's Nurse's full JID}'/>", resolve),
    "<a to='romeo@localhost' from='n@l/a&apos;b&amp;c'/>",
  );
  const [parsed] = parseBlock(substituteVariables("<a to='${Romeo's full JID}'/>", resolve));
  assert.equal(parsed.attrs.to, "romeo@localhost/a'b&c");
  assert.throws(
    () => substituteVariables("<a/>\n<b to='${Romeo}'/>", resolve),
    (e: unknown) => e instanceof BlockError && e.line === 2 && /unknown variable/.test(e.message),
  );
  assert.throws(
    () => substituteVariables("<b to='${Mercutio's JID}'/>", resolve),
    (e: unknown) => e instanceof BlockError && /no client "Mercutio"/.test(e.message),
  );
});

Deno.test("parseBlock() resolves namespaces, keeps xml:lang and scansion:strict, skips comments", () => {
  const stanzas = parseBlock(
    "\n\t<message xml:lang='en' scansion:strict='false'><!-- note -->\n" +
      "\t\t<x xmlns='urn:x' xmlns:p='urn:p'><p:y a='1'/></x>\n\t</message>\n\t<presence/>\n",
  );
  assert.equal(stanzas.length, 2);
  const [message, presence] = stanzas;
  assert.deepEqual(message.attrs, {
    xmlns: "jabber:client",
    "xml:lang": "en",
    "scansion:strict": "false",
  });
  const x = message.getChild("x", "urn:x")!;
  assert.deepEqual(x.attrs, { xmlns: "urn:x" });
  assert.deepEqual(x.elements()[0].attrs, { xmlns: "urn:p", a: "1" });
  assert.equal(presence.toString("jabber:client"), "<presence/>");
  assert.equal(
    forSending(message).toString("jabber:client"),
    "<message xml:lang='en'><x xmlns='urn:x'><y xmlns='urn:p' a='1'/></x></message>",
  );
  assert.equal(
    forSending(parseBlock("<message>\n\t<body> hi </body>\n</message>")[0]).toString(
      "jabber:client",
    ),
    "<message><body> hi </body></message>",
  );
  assert.throws(() => parseBlock("text <a/>"), /text outside of a stanza/);
  assert.throws(() => parseBlock("\n\n<a><b></a>"), BlockError);
  assert.throws(() => parseBlock("<a scansion:loose='true'/>"), /unknown attribute/);
});

Deno.test("matchStanza() top level is loose: extra attributes and children are ignored", () => {
  ok(
    "<presence from='a@b/c'/>",
    "<presence from='a@b/c' to='x@y/z' id='1'><x xmlns='urn:x'/></presence>",
  );
  differs(
    "<presence from='a@b/c'/>",
    "<presence from='a@b/d'/>",
    /^\/presence: attribute from: expected "a@b\/c", received "a@b\/d"/,
  );
  differs(
    "<presence type='unavailable'/>",
    "<presence/>",
    /^\/presence: missing attribute type="unavailable"/,
  );
  differs(
    "<presence/>",
    "<message/>",
    /^\/presence: expected <presence xmlns='jabber:client'>, received <message/,
  );
});

Deno.test("matchStanza() elements below the top are strict: no extra attributes, same children", () => {
  const expected =
    "<presence><x xmlns='urn:x'><status code='201'/><item role='moderator'/></x></presence>";
  ok(
    expected,
    "<presence><x xmlns='urn:x'><status code='201'/><item role='moderator'/></x></presence>",
  );
  differs(
    expected,
    "<presence><x xmlns='urn:x'><status code='201'/><item role='moderator' nick='r'/></x></presence>",
    /^\/presence\/x\/item: unexpected attribute nick="r" \(strict element\)/,
  );
  differs(
    expected,
    "<presence><x xmlns='urn:x'><status code='201'/><item role='moderator'/><status code='110'/></x></presence>",
    /^\/presence\/x: expected 2 child element\(s\) \(status, item\), received 3 \(status, item, status\)/,
  );
  differs(
    expected,
    "<presence><x xmlns='urn:x'><status code='201'/></x></presence>",
    /^\/presence\/x: expected 2 child element/,
  );
  differs(
    "<iq><query xmlns='urn:q'/></iq>",
    "<iq><query xmlns='urn:q'><item/></query></iq>",
    /^\/iq\/query: expected 0 child element/,
  );
});

Deno.test("matchStanza() strict children match pairwise in document order", () => {
  const expected =
    "<presence><x xmlns='urn:x'><status code='201'/><item/><status code='110'/></x></presence>";
  ok(
    expected,
    "<presence><x xmlns='urn:x'><status code='201'/><item/><status code='110'/></x></presence>",
  );
  differs(
    expected,
    "<presence><x xmlns='urn:x'><status code='110'/><item/><status code='201'/></x></presence>",
    /^\/presence\/x\/status\[1\]: attribute code: expected "201", received "110"/,
  );
  differs(
    expected,
    "<presence><x xmlns='urn:x'><item/><status code='201'/><status code='110'/></x></presence>",
    /^\/presence\/x\/status\[1\]: expected <status xmlns='urn:x'>, received <item xmlns='urn:x'>/,
  );
});

Deno.test("matchStanza() loose children match in any order, each a different received child", () => {
  ok(
    "<message><b xmlns='urn:b'/><a xmlns='urn:a'/></message>",
    "<message><a xmlns='urn:a'/><c xmlns='urn:c'/><b xmlns='urn:b'/></message>",
  );
  differs(
    "<message><a xmlns='urn:a'/><a xmlns='urn:a'/></message>",
    "<message><a xmlns='urn:a'/></message>",
    /^\/message: the expected children \(a, a\) cannot each match a different received child \(a\)/,
  );
  differs(
    "<message><body>hi</body></message>",
    "<message><subject>hi</subject></message>",
    /^\/message\/body: no child <body xmlns='jabber:client'> received \(children: subject\)/,
  );
  differs(
    "<message><body>hi</body></message>",
    "<message><body>ho</body></message>",
    /^\/message\/body: text: expected "hi", received "ho"/,
  );
});

Deno.test("matchStanza() backtracks so a greedy choice does not cause a false failure", () => {
  // <item/> alone would take the first received item, leaving none for <item role='x'/>.
  ok(
    "<message><item xmlns='urn:i' scansion:strict='false'/><item xmlns='urn:i' role='x'/></message>",
    "<message><item xmlns='urn:i' role='x'/><item xmlns='urn:i' role='y'/></message>",
  );
  // Same with captures: the first choice binds a capture that the second child then contradicts.
  ok(
    "<message><a xmlns='urn:a' v='{scansion:capture:v}'/><b xmlns='urn:a' v='{scansion:capture:v}'/></message>",
    "<message><a xmlns='urn:a' v='1'/><a xmlns='urn:a' v='2'/><b xmlns='urn:a' v='2'/></message>",
  );
});

Deno.test("matchStanza() treats a stanza's <error/> as loose, its children strict", () => {
  const expected = "<presence type='error'><error type='auth' by='room@c.l'>" +
    "<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>";
  ok(
    expected,
    "<presence type='error' from='r'><error type='auth' code='401' by='room@c.l'>" +
      "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Password required</text>" +
      "<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
  );
  differs(
    expected,
    "<presence type='error'><error type='auth' by='room@c.l'>" +
      "<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' extra='1'/></error></presence>",
    /^\/presence\/error\/not-authorized: unexpected attribute extra="1"/,
  );
  // The seed's two revisions: the expected code='401' must be there; an unexpected one is fine.
  differs(
    "<presence><error type='auth' code='401'/></presence>",
    "<presence><error type='auth'/></presence>",
    /^\/presence\/error: missing attribute code="401"/,
  );
  // Only the stanza's own error is loose; an <error/> deeper down is strict.
  differs(
    "<iq><x xmlns='urn:x'><error/></x></iq>",
    "<iq><x xmlns='urn:x'><error a='1'/></x></iq>",
    /^\/iq\/x\/error: unexpected attribute a="1"/,
  );
});

Deno.test("matchStanza() scansion:strict sets the mode of its own element both ways", () => {
  // true on the top level: extra attributes and children fail.
  differs(
    "<presence scansion:strict='true'/>",
    "<presence id='1'/>",
    /^\/presence: unexpected attribute id="1"/,
  );
  differs(
    "<presence scansion:strict='true'/>",
    "<presence><x xmlns='urn:x'/></presence>",
    /expected 0 child element/,
  );
  ok("<presence scansion:strict='true' id='1'/>", "<presence id='1'/>");
  // false below the top: extras ignored on that element, but its children are strict again.
  ok(
    "<message><x xmlns='urn:x' scansion:strict='false'/></message>",
    "<message><x xmlns='urn:x' a='1'><y/></x></message>",
  );
  differs(
    "<message><x xmlns='urn:x' scansion:strict='false'><y/></x></message>",
    "<message><x xmlns='urn:x'><z/><y b='2'/></x></message>",
    /^\/message\/x\/y: unexpected attribute b="2"/,
  );
  // false on <error/> is a no-op; true on <error/> makes it strict.
  differs(
    "<iq><error type='cancel' scansion:strict='true'/></iq>",
    "<iq><error type='cancel' code='503'/></iq>",
    /unexpected attribute code="503"/,
  );
});

Deno.test("matchStanza() {scansion:any} matches any value but the attribute must be there", () => {
  ok("<iq id='{scansion:any}'/>", "<iq id='abc'/>");
  differs("<iq id='{scansion:any}'/>", "<iq/>", /missing attribute id/);
  ok("<iq><x xmlns='urn:x' id='{scansion:any}'/></iq>", "<iq><x xmlns='urn:x' id='1'/></iq>");
});

Deno.test("matchStanza() captures bind on first use, must be equal on reuse, persist on success", () => {
  const captures = new Map<string, string>();
  ok("<iq id='{scansion:capture:id}'/>", "<iq id='abc'/>", captures);
  assert.equal(captures.get("id"), "abc");
  ok("<iq id='{scansion:capture:id}'/>", "<iq id='abc'/>", captures);
  differs(
    "<iq id='{scansion:capture:id}'/>",
    "<iq id='xyz'/>",
    /^\/iq: attribute id="xyz" differs from capture id="abc"/,
    captures,
  );
  // Within one stanza.
  differs(
    "<iq a='{scansion:capture:n}' b='{scansion:capture:n}'/>",
    "<iq a='1' b='2'/>",
    /capture n="1"/,
  );
  // A failing match binds nothing.
  const fresh = new Map<string, string>();
  differs("<iq a='{scansion:capture:n}' b='x'/>", "<iq a='1' b='2'/>", /attribute b/, fresh);
  assert.equal(fresh.size, 0);
});

Deno.test("matchStanza() compares trimmed text, and only when the expected text is not empty", () => {
  ok(
    "<message><body>\n\t\thello world\n\t</body></message>",
    "<message><body>hello world</body></message>",
  );
  ok("<message><body>hi</body></message>", "<message><body>  hi </body></message>");
  ok("<message><subject/></message>", "<message><subject>Anything</subject></message>");
  ok("<message><subject>  </subject></message>", "<message><subject>x</subject></message>");
  differs(
    "<message><body>hi</body></message>",
    "<message><body>hi there</body></message>",
    /text: expected "hi", received "hi there"/,
  );
  differs(
    "<message><body>hi</body></message>",
    "<message><body/></message>",
    /text: expected "hi", received ""/,
  );
});

Deno.test("matchStanza() requires equal namespaces; xmlns declarations are not attributes", () => {
  differs(
    "<presence><x xmlns='http://jabber.org/protocol/muc#user'/></presence>",
    "<presence><x xmlns='http://jabber.org/protocol/muc'/></presence>",
    /no child <x xmlns='http:\/\/jabber.org\/protocol\/muc#user'> received/,
  );
  differs(
    "<iq><query xmlns='urn:q'><item/></query></iq>",
    "<iq><query xmlns='urn:q'><item xmlns='urn:other'/></query></iq>",
    /^\/iq\/query\/item: expected <item xmlns='urn:q'>, received <item xmlns='urn:other'>/,
  );
  // Same namespace written through a prefix, or declared again: equal, and strict sees no extra attribute.
  ok(
    "<iq><p:query xmlns:p='urn:q'><p:item/></p:query></iq>",
    "<iq><query xmlns='urn:q'><item xmlns='urn:q'/></query></iq>",
  );
  differs(
    "<message xmlns='jabber:server'/>",
    "<message/>",
    /expected <message xmlns='jabber:server'>/,
  );
});

Deno.test("matchStanza() matches the seed's self-presence against a server's reply", () => {
  const expected = `<presence from='room@conference.localhost/Romeo'>
		<x xmlns='http://jabber.org/protocol/muc#user'>
			<status code='201'/>
			<item jid="romeo@localhost/r1" affiliation='owner' role='moderator'/>
			<status code='110'/>
		</x>
	</presence>`;
  const reply = "<presence from='room@conference.localhost/Romeo' to='romeo@localhost/r1'>" +
    "<x xmlns='http://jabber.org/protocol/muc#user'><status code='201'/>" +
    "<item jid='romeo@localhost/r1' affiliation='owner' role='moderator'/><status code='110'/></x>" +
    "<x xmlns='vcard-temp:x:update'/></presence>";
  ok(expected, reply);
  assertStanza(received(reply), expected);
  assert.throws(
    () => assertStanza(received("<presence/>"), expected),
    /Stanza does not match: \/presence: missing attribute from/,
  );
});
