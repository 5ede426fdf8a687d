// Stream errors (RFC 6120 §4.9): the conditions and their XML.
import { NS } from "../stanza/ns.ts";
import { el } from "../xml/element.ts";

export type StreamErrorCondition =
  | "bad-format"
  | "bad-namespace-prefix"
  | "conflict"
  | "connection-timeout"
  | "host-unknown"
  | "improper-addressing"
  | "internal-server-error"
  | "invalid-from"
  | "invalid-namespace"
  | "invalid-xml"
  | "not-authorized"
  | "not-well-formed"
  | "policy-violation"
  | "reset"
  | "resource-constraint"
  | "restricted-xml"
  | "system-shutdown"
  | "undefined-condition"
  | "unsupported-encoding"
  | "unsupported-stanza-type"
  | "unsupported-version";

/** `<stream:error>` with the condition and an optional text. */
export function streamErrorXml(condition: StreamErrorCondition, text?: string): string {
  return el(
    "stream:error",
    {},
    el(condition, { xmlns: NS.STREAM_ERRORS }),
    text ? el("text", { xmlns: NS.STREAM_ERRORS }, text) : undefined,
  ).toString();
}
