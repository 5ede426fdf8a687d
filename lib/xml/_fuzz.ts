// Deterministic input mutation for fuzzing the stream parser and the c2s stream.
//
// A seeded PRNG picks byte-level mutations (flip, insert, delete, duplicate, truncate,
// splice, invalid UTF-8, NULs, huge repeats) and structure-level ones (deep nesting, many
// attributes, long names, duplicate headers, unclosed tags, XML declarations in the
// middle, garbage after the close). The same seed always gives the same inputs.
import { strict as assert } from "node:assert";
import { type ParserErrorCondition, StreamParser } from "./stream_parser.ts";

/** A small, fast, seedable PRNG (mulberry32). */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** A client stream header, as clients send it. */
export const FUZZ_HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='en'>";

/** Real client traffic: what the streams of common clients look like, without the header. */
export const CLIENT_STANZAS: readonly string[] = [
  "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
  "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>" +
  "biwsbj1yb21lbyxyPWZ5a28rZDJsYmJGZ09OUnYzcXJ4ZUt3</auth>",
  "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AHJvbWVvAHNlY3JldA==</auth>",
  "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
  "Yz1iaXdzLHI9ZnlrbytkMmxiYkZnT05SdjNxcnhlS3czckhmZ1U=</response>",
  "<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>" +
  "<resource>balcony</resource></bind></iq>",
  "<iq type='set' id='sess_1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
  "<iq type='get' id='roster_1'><query xmlns='jabber:iq:roster' ver=''/></iq>",
  "<presence><priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' " +
  "node='https://conversations.im' ver='QRTBC5fKo4mVpA7Ae5mW8Ni2kCg='/></presence>",
  "<message to='juliet@localhost' type='chat' id='m1'><body>Art thou not Romeo, " +
  "and a Montague? caf\u00e9 \u{1F339} &amp; &lt;3</body>" +
  "<active xmlns='http://jabber.org/protocol/chatstates'/>" +
  "<request xmlns='urn:xmpp:receipts'/></message>",
  "<presence to='garden@conference.localhost/romeo'><x xmlns='http://jabber.org/protocol/muc'>" +
  "<history maxstanzas='20'/><password>s3cret</password></x></presence>",
  "<message to='garden@conference.localhost' type='groupchat' id='g1'><body>hi all</body></message>",
  "<iq type='get' id='disco1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
  "<iq type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
  "<iq type='set' id='carbons1'><enable xmlns='urn:xmpp:carbons:2'/></iq>",
  "<iq type='get' id='vc1'><vCard xmlns='vcard-temp'/></iq>",
  "<iq type='set' id='pub1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>" +
  "<publish node='urn:xmpp:avatar:metadata'><item id='abc'><metadata xmlns='urn:xmpp:avatar:metadata'>" +
  "<info bytes='1024' id='abc' height='64' width='64' type='image/png'/></metadata></item>" +
  "</publish></pubsub></iq>",
  "<presence type='subscribe' to='juliet@localhost'/>",
  "<presence type='unavailable'><status>Parting is such sweet sorrow</status></presence>",
  "<message to='juliet@localhost'><body><![CDATA[if (a < b && c > d) {}]]></body></message>",
  " ",
  "\n",
  "</stream:stream>",
];

/** Complete client streams: header, negotiation, traffic, close. */
export function clientStreams(): string[] {
  const s = CLIENT_STANZAS;
  return [
    FUZZ_HEADER + s[0],
    FUZZ_HEADER + s[2],
    FUZZ_HEADER + s[1] + s[3],
    FUZZ_HEADER + s[4] + s[5] + s[6] + s[7],
    FUZZ_HEADER + s[8] + s[9] + s[10] + "</stream:stream>",
    FUZZ_HEADER + s.slice(11, 20).join(" ") + "</stream:stream>",
    FUZZ_HEADER + s.slice(4).join(""),
  ];
}

const MUTATIONS = [
  "flip",
  "insert",
  "delete",
  "duplicate",
  "truncate",
  "splice",
  "invalid-utf8",
  "nul",
  "control",
  "huge-repeat",
  "deep-nesting",
  "many-attributes",
  "long-name",
  "long-value",
  "duplicate-header",
  "unclosed",
  "xml-decl",
  "after-close",
  "stanza-before-header",
  "broken-attribute",
  "comment-or-pi",
  "entity",
] as const;

/** The name of a mutation. */
export type Mutation = typeof MUTATIONS[number];

const INVALID_UTF8: readonly number[][] = [
  [0xff],
  [0xc0, 0x80], // overlong NUL
  [0xed, 0xa0, 0x80], // surrogate
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82], // truncated
  [0x80],
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xef, 0xbf, 0xbe], // U+FFFE: valid UTF-8, not an XML character
];

const SNIPPETS = [
  "<",
  ">",
  "/>",
  "</",
  "'",
  '"',
  "=",
  "&",
  "&amp;",
  "&#0;",
  "&#x1F600;",
  "&nope;",
  "]]>",
  "<![CDATA[",
  "xmlns:p='urn:p'",
  "p:x",
  ":",
  "<a>",
  "</a>",
  " a='1'",
  "\u00e9",
  "\u{1F600}",
  FUZZ_HEADER,
  "</stream:stream>",
];

const encoder = new TextEncoder();

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes repeated until `size`. */
function repeatTo(unit: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(Math.max(size, unit.length));
  out.set(unit);
  for (let filled = unit.length; filled < out.length; filled *= 2) {
    out.copyWithin(filled, 0, filled);
  }
  return out;
}

const STRUCTURAL: ReadonlySet<Mutation> = new Set<Mutation>([
  "deep-nesting",
  "many-attributes",
  "long-name",
  "duplicate-header",
  "unclosed",
  "xml-decl",
  "comment-or-pi",
]);

/** A random offset just after a ">". */
function afterTag(input: Uint8Array, rng: Prng): number {
  const ends: number[] = [];
  for (let i = 0; i < input.length; i++) if (input[i] === 0x3e) ends.push(i + 1);
  return ends.length ? rng.pick(ends) : rng.int(input.length + 1);
}

/** Applies one mutation, chosen by the PRNG unless named. */
export function mutate(
  input: Uint8Array,
  rng: Prng,
  options: { other?: Uint8Array; mutation?: Mutation; maxRepeat?: number } = {},
): { bytes: Uint8Array; mutation: Mutation } {
  const mutation = options.mutation ?? rng.pick(MUTATIONS);
  const maxRepeat = options.maxRepeat ?? 1 << 20;
  const n = input.length;
  // Structure-level mutations mostly land between tags, where they mean something.
  const at = STRUCTURAL.has(mutation) && rng.chance(0.7) ? afterTag(input, rng) : rng.int(n + 1);
  const head = input.subarray(0, at), tail = input.subarray(at);
  const text = (s: string) => encoder.encode(s);
  let bytes: Uint8Array;
  switch (mutation) {
    case "flip": {
      bytes = input.slice();
      for (let k = 1 + rng.int(4); k > 0 && n > 0; k--) bytes[rng.int(n)] ^= 1 << rng.int(8);
      break;
    }
    case "insert":
      bytes = concat(head, text(rng.pick(SNIPPETS)), tail);
      break;
    case "delete": {
      const len = 1 + rng.int(Math.min(16, Math.max(1, n - at)));
      bytes = concat(head, input.subarray(at + len));
      break;
    }
    case "duplicate": {
      const len = 1 + rng.int(Math.max(1, Math.min(200, n - at)));
      const piece = input.subarray(at, at + len);
      bytes = concat(head, piece, piece, input.subarray(at + len));
      break;
    }
    case "truncate":
      bytes = input.slice(0, at);
      break;
    case "splice": {
      const other = options.other ?? input;
      const from = rng.int(other.length + 1);
      bytes = concat(head, other.subarray(from));
      break;
    }
    case "invalid-utf8":
      bytes = concat(head, rng.pick(INVALID_UTF8), tail);
      break;
    case "nul":
      bytes = concat(head, [0], tail);
      break;
    case "control":
      bytes = concat(head, [rng.pick([1, 8, 0x0b, 0x0c, 0x1b, 0x1f])], tail);
      break;
    case "huge-repeat": {
      const unit = rng.chance(0.5)
        ? text(rng.pick(["x", " ", "\u20ac", "<a>", " a='b'", "&amp;", "</a>"]))
        : input.subarray(at, at + 1 + rng.int(8));
      bytes = concat(head, repeatTo(unit.length ? unit : text("x"), rng.int(maxRepeat)), tail);
      break;
    }
    case "deep-nesting":
      bytes = concat(head, repeatTo(text("<a>"), 3 * (20 + rng.int(maxRepeat / 3))), tail);
      break;
    case "many-attributes": {
      const count = 10 + rng.int(Math.min(maxRepeat / 8, 20_000));
      const attrs = Array.from({ length: count }, (_, i) => ` a${i}='${i}'`).join("");
      bytes = concat(head, text(rng.chance(0.5) ? attrs : `<x${attrs}/>`), tail);
      break;
    }
    case "long-name":
      bytes = concat(
        head,
        text("<"),
        repeatTo(text("n"), 100 + rng.int(maxRepeat)),
        text("/>"),
        tail,
      );
      break;
    case "long-value":
      bytes = concat(
        head,
        text(" v='"),
        repeatTo(text(rng.pick(["v", "\u20ac", "&amp;"])), rng.int(maxRepeat)),
        text("'"),
        tail,
      );
      break;
    case "duplicate-header":
      bytes = concat(
        head,
        text(rng.chance(0.5) ? FUZZ_HEADER : FUZZ_HEADER.slice(FUZZ_HEADER.indexOf("?>") + 2)),
        tail,
      );
      break;
    case "unclosed":
      bytes = concat(
        head,
        text(rng.pick(["<message>", "<iq type='get'>", "<a", "<a b='", "<![CDATA["])),
      );
      break;
    case "xml-decl":
      bytes = concat(head, text("<?xml version='1.0'?>"), tail);
      break;
    case "after-close":
      bytes = concat(
        input,
        text(rng.pick(["</stream:stream>garbage", "</stream:stream><message/>", "junk"])),
      );
      break;
    case "stanza-before-header":
      bytes = concat(text("<message to='juliet@localhost'><body>hi</body></message>"), input);
      break;
    case "broken-attribute":
      bytes = concat(
        head,
        text(rng.pick([" a", " a=", " a=b", " a='1'b='2'", " ='x'", " a='<'", " a\"x'"])),
        tail,
      );
      break;
    case "comment-or-pi":
      bytes = concat(
        head,
        text(rng.pick(["<!-- c -->", "<?pi x?>", "<!DOCTYPE x>", "<!ENTITY e 'x'>"])),
        tail,
      );
      break;
    case "entity":
      bytes = concat(
        head,
        text(rng.pick(["&e;", "&#0;", "&#xD800;", "&#65;", "&;", "&#x110000;"])),
        tail,
      );
      break;
  }
  return { bytes, mutation };
}

/** Splits bytes at random boundaries (some inside UTF-8 sequences), as a socket might. */
export function randomChunks(bytes: Uint8Array, rng: Prng): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const size = rng.chance(0.3) ? 1 + rng.int(4) : 1 + rng.int(rng.chance(0.5) ? 64 : 65536);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** All mutation names, for reports. */
export const ALL_MUTATIONS: readonly Mutation[] = MUTATIONS;

/** What a parser made of an input. */
export interface Outcome {
  stanzas: string[];
  opens: number;
  closed: boolean;
  errors: ParserErrorCondition[];
  /** Callbacks after the error (must be none). */
  late: number;
  idle: boolean;
}

/** Feeds the chunks to a fresh parser and records everything it reports. */
export function runParser(chunks: Uint8Array[]): Outcome {
  const out: Outcome = { stanzas: [], opens: 0, closed: false, errors: [], late: 0, idle: true };
  const after = () => out.errors.length > 0 && out.late++;
  const parser = new StreamParser({
    streamOpen: () => after() || out.opens++,
    stanza: (s) => after() || out.stanzas.push(s.toString()),
    streamClose: () => after() || (out.closed = true),
    error: (condition) => out.errors.push(condition),
  });
  for (const chunk of chunks) parser.write(chunk);
  out.idle = parser.idle;
  if (out.errors.length === 0 && !out.closed) {
    // Still listening: a NUL must get exactly one answer.
    parser.write(new Uint8Array([0]));
    assert.deepEqual(out.errors, ["not-well-formed"], "a NUL after the input");
    out.errors = [];
  }
  return out;
}
