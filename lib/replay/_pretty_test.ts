import { strict as assert } from "node:assert";
import { parseBlock } from "./match.ts";
import { prettyXml } from "./_pretty.ts";

Deno.test("prettyXml() indents children, keeps text on its element's line, hides jabber:client", () => {
  const [stanza] = parseBlock(
    "<message to='a&amp;b'>\n\t<body>\n\t\thi &lt;3\n\t</body><x xmlns='urn:x'><y/></x>\n</message>",
  );
  assert.equal(
    prettyXml(stanza),
    "<message to='a&amp;b'>\n  <body>hi &lt;3</body>\n  <x xmlns='urn:x'>\n    <y/>\n  </x>\n</message>",
  );
});

Deno.test("prettyXml() writes the namespace before the other attributes", () => {
  const [stanza] = parseBlock("<iq><query a='1' xmlns='urn:q'/></iq>");
  assert.equal(prettyXml(stanza), "<iq>\n  <query xmlns='urn:q' a='1'/>\n</iq>");
});
