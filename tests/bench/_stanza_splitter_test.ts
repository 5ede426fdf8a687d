import { strict as assert } from "node:assert";
import { attribute, elementName, StanzaSplitter } from "./_stanza_splitter.ts";

const STANZAS = [
  "<presence from='r@muc/a' to='u@h/r'><x xmlns='http://jabber.org/protocol/muc#user'>" +
  "<item affiliation='none' role='participant'/><status code='110'/></x></presence>",
  "<message from='r@muc' to='u@h/r' type='groupchat'><subject/></message>",
  "<iq type='result' id='p1'/>",
  "<message to='u@h/r'><body>a &lt;b&gt; — é ü 😀</body></message>",
];

function split(text: string, at: number[]): { stanzas: string[]; closed: boolean } {
  const stanzas: string[] = [];
  let closed = false;
  const splitter = new StanzaSplitter({
    stanza: (raw) => stanzas.push(raw),
    streamClose: () => closed = true,
  });
  let from = 0;
  for (const cut of [...at, text.length]) {
    splitter.write(text.slice(from, cut));
    from = cut;
  }
  return { stanzas, closed };
}

Deno.test("StanzaSplitter yields each top-level stanza whole at every split point", () => {
  const text = STANZAS.join(" \n") + "</stream:stream>";
  for (let a = 0; a <= text.length; a++) {
    const result = split(text, [a]);
    assert.deepEqual(result.stanzas, STANZAS, `split at ${a}`);
    assert.deepEqual(result.closed, true);
  }
});

Deno.test("StanzaSplitter handles one character at a time", () => {
  const text = STANZAS.join("");
  const cuts = Array.from({ length: text.length }, (_, i) => i);
  const result = split(text, cuts);
  assert.deepEqual(result.stanzas, STANZAS);
  assert.deepEqual(result.closed, false);
});

Deno.test("StanzaSplitter holds back an incomplete stanza", () => {
  const splitter = new StanzaSplitter({ stanza: () => {}, streamClose: () => {} });
  splitter.write(STANZAS[0]);
  assert.deepEqual(splitter.pending, 0);
  splitter.write("<message><bo");
  assert.deepEqual(splitter.pending, 12);
});

Deno.test("attribute() reads either quote style and elementName() the tag name", () => {
  assert.deepEqual(attribute(`<iq type="result" id='a&apos;b'><x id='no'/></iq>`, "id"), "a'b");
  assert.deepEqual(attribute(`<iq type="result" id='a'/>`, "type"), "result");
  assert.deepEqual(attribute(`<iq type="result"><x id='no'/></iq>`, "id"), undefined);
  assert.deepEqual(elementName("<stream:error><x/></stream:error>"), "stream:error");
  assert.deepEqual(elementName("<iq/>"), "iq");
});
