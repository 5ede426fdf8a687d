// The verification string of Entity Capabilities (XEP-0115 §5.1 generation, §5.4 the
// well-formedness checks of a disco#info response before its hash is trusted).
import { createHash } from "node:crypto";
import { NS } from "../stanza/ns.ts";
import type { Element } from "../xml/element.ts";

/** The hash functions supported, by their IANA name as used in the `hash` attribute. */
const ALGORITHMS: Readonly<Record<string, string>> = {
  "sha-1": "sha1",
  "sha-224": "sha224",
  "sha-256": "sha256",
  "sha-384": "sha384",
  "sha-512": "sha512",
};

/** Whether `hash` (the `<c/>` attribute) names a supported hash function. */
export function supportedHash(hash: string): boolean {
  return Object.hasOwn(ALGORITHMS, hash);
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** i;octet collation (RFC 4790 §9.3): compare the UTF-8 bytes. */
function octetCompare(a: string, b: string): number {
  // UTF-8 bytes sort as code points do, and so do UTF-16 code units outside surrogate pairs
  // (which sort below U+E000..U+FFFF as units, above them as code points).
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  const length = Math.min(x.length, y.length);
  for (let i = 0; i < length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * The string S of XEP-0115 §5.1 for a disco#info `<query/>`, or null when the response is
 * ill-formed (§5.4 3.3–3.5: a repeated identity, feature or FORM_TYPE). Forms without a hidden
 * FORM_TYPE are left out (§5.4 3.6).
 */
export function capsString(query: Element): string | null {
  const identities = query.getChildren("identity", NS.DISCO_INFO).map((identity) =>
    [
      identity.attrs.category ?? "",
      identity.attrs.type ?? "",
      identity.attrs["xml:lang"] ?? "",
      identity.attrs.name ?? "",
    ].join("/")
  );
  const features = query.getChildren("feature", NS.DISCO_INFO).map((f) => f.attrs.var ?? "");
  if (new Set(identities).size !== identities.length) return null;
  if (new Set(features).size !== features.length) return null;
  const forms: { type: string; text: string }[] = [];
  for (const x of query.getChildren("x", NS.DATA_FORMS)) {
    const fields = x.getChildren("field");
    const formType = fields.find((field) => field.attrs.var === "FORM_TYPE");
    if (formType === undefined || formType.attrs.type !== "hidden") continue;
    const typeValues = new Set(formType.getChildren("value").map((v) => v.getText()));
    if (typeValues.size !== 1) return null;
    const [type] = typeValues;
    if (forms.some((form) => form.type === type)) return null;
    let text = type + "<";
    const others = fields.filter((field) => field.attrs.var !== "FORM_TYPE")
      .sort((a, b) => octetCompare(a.attrs.var ?? "", b.attrs.var ?? ""));
    for (const field of others) {
      text += (field.attrs.var ?? "") + "<";
      const values = field.getChildren("value").map((v) => v.getText()).sort(octetCompare);
      for (const value of values) text += value + "<";
    }
    forms.push({ type, text });
  }
  return identities.sort(octetCompare).map((i) => i + "<").join("") +
    features.sort(octetCompare).map((f) => f + "<").join("") +
    forms.sort((a, b) => octetCompare(a.type, b.type)).map((form) => form.text).join("");
}

/**
 * The verification string of a disco#info `<query/>` with the named hash function (XEP-0115
 * §5.1 steps 8–9: UTF-8, then Base64 of the binary digest); null when the response is ill-formed
 * or the hash function unsupported.
 *
 * @example
 * ```ts
 * capsVer(query, "sha-1"); // "QgayPKawpkPSDYmwT/WM94uAlu0=" for §5.2's example
 * ```
 */
export function capsVer(query: Element, hash: string): string | null {
  if (!supportedHash(hash)) return null;
  const text = capsString(query);
  if (text === null) return null;
  return createHash(ALGORITHMS[hash]).update(text, "utf8").digest("base64");
}
