import { strict as assert } from "node:assert";
import { NS } from "../stanza/ns.ts";
import { el } from "../xml/element.ts";
import { capsString, capsVer } from "./ver.ts";

const feature = (v: string) => el("feature", { var: v });

Deno.test("capsVer() gives XEP-0115 §5.2's simple example", () => {
  const query = el(
    "query",
    { xmlns: NS.DISCO_INFO },
    el("identity", { category: "client", type: "pc", name: "Exodus 0.9.1" }),
    feature("http://jabber.org/protocol/disco#info"),
    feature("http://jabber.org/protocol/disco#items"),
    feature("http://jabber.org/protocol/muc"),
    feature("http://jabber.org/protocol/caps"),
  );
  assert.equal(capsVer(query, "sha-1"), "QgayPKawpkPSDYmwT/WM94uAlu0=");
});

Deno.test("capsVer() gives XEP-0115 §5.3's complex example, forms and languages included", () => {
  const field = (v: string, type: string | undefined, ...values: string[]) =>
    el("field", { var: v, type }, ...values.map((value) => el("value", {}, value)));
  const query = el(
    "query",
    { xmlns: NS.DISCO_INFO },
    el("identity", { "xml:lang": "en", category: "client", name: "Psi 0.11", type: "pc" }),
    el("identity", { "xml:lang": "el", category: "client", name: "Ψ 0.11", type: "pc" }),
    feature("http://jabber.org/protocol/caps"),
    feature("http://jabber.org/protocol/disco#info"),
    feature("http://jabber.org/protocol/disco#items"),
    feature("http://jabber.org/protocol/muc"),
    el(
      "x",
      { xmlns: NS.DATA_FORMS, type: "result" },
      field("FORM_TYPE", "hidden", "urn:xmpp:dataforms:softwareinfo"),
      field("ip_version", "text-multi", "ipv4", "ipv6"),
      field("os", undefined, "Mac"),
      field("os_version", undefined, "10.5.1"),
      field("software", undefined, "Psi"),
      field("software_version", undefined, "0.11"),
    ),
  );
  assert.equal(capsVer(query, "sha-1"), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
});

Deno.test("capsString() refuses repeated features and identities (XEP-0115 §5.4)", () => {
  const twice = el("query", { xmlns: NS.DISCO_INFO }, feature("a"), feature("a"));
  assert.equal(capsString(twice), null);
  const identities = el(
    "query",
    { xmlns: NS.DISCO_INFO },
    el("identity", { category: "client", type: "pc" }),
    el("identity", { category: "client", type: "pc" }),
  );
  assert.equal(capsString(identities), null);
  assert.equal(capsVer(el("query", { xmlns: NS.DISCO_INFO }), "md5"), null);
});

Deno.test("capsString() sorts features by their UTF-8 bytes, characters beyond U+FFFF included", () => {
  // As UTF-16 code units U+1F600 (D83D DE00) sorts below U+FFFD; as UTF-8 (F0.. > EF..) above.
  const query = el(
    "query",
    { xmlns: NS.DISCO_INFO },
    el("identity", { category: "client", type: "pc" }),
    feature("urn:x:\u{1F600}"),
    feature("urn:x:\uFFFD"),
    feature("urn:x:z"),
    feature("urn:x:\u00E9"),
    feature("urn:x:a"),
  );
  assert.equal(
    capsString(query),
    "client/pc//<urn:x:a<urn:x:z<urn:x:\u00E9<urn:x:\uFFFD<urn:x:\u{1F600}<",
  );
});
