// Stanza errors (RFC 6120 §8.3) with XEP-0086 legacy codes.
import { el, type Element } from "../xml/element.ts";
import { NS } from "./ns.ts";

export type ErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

export type ErrorCondition =
  | "bad-request"
  | "conflict"
  | "feature-not-implemented"
  | "forbidden"
  | "gone"
  | "internal-server-error"
  | "item-not-found"
  | "jid-malformed"
  | "not-acceptable"
  | "not-allowed"
  | "not-authorized"
  | "policy-violation"
  | "recipient-unavailable"
  | "redirect"
  | "registration-required"
  | "remote-server-not-found"
  | "remote-server-timeout"
  | "resource-constraint"
  | "service-unavailable"
  | "subscription-required"
  | "undefined-condition"
  | "unexpected-request";

/** XEP-0086 §3: the legacy code for each condition. */
const LEGACY_CODES: Readonly<Record<ErrorCondition, number>> = {
  "bad-request": 400,
  "conflict": 409,
  "feature-not-implemented": 501,
  "forbidden": 403,
  "gone": 302,
  "internal-server-error": 500,
  "item-not-found": 404,
  "jid-malformed": 400,
  "not-acceptable": 406,
  "not-allowed": 405,
  "not-authorized": 401,
  "policy-violation": 405,
  "recipient-unavailable": 404,
  "redirect": 302,
  "registration-required": 407,
  "remote-server-not-found": 404,
  "remote-server-timeout": 504,
  "resource-constraint": 500,
  "service-unavailable": 503,
  "subscription-required": 407,
  "undefined-condition": 500,
  "unexpected-request": 400,
};

export interface StanzaErrorOptions {
  /** Human-readable explanation, sent as `<text/>`. */
  text?: string;
  /** The entity that raised the error (`by` attribute). */
  by?: string;
  /** Emit the XEP-0086 `code` attribute too (MUC clients still read it). */
  legacyCode?: boolean;
  /** Application-specific condition element. */
  extra?: Element;
}

/** A stanza-level failure; handlers throw it, the router turns it into an error reply. */
export class StanzaError extends Error {
  readonly type: ErrorType;
  readonly condition: ErrorCondition;
  readonly options: StanzaErrorOptions;

  constructor(type: ErrorType, condition: ErrorCondition, options: StanzaErrorOptions = {}) {
    super(options.text ?? condition);
    this.name = "StanzaError";
    this.type = type;
    this.condition = condition;
    this.options = options;
  }

  /** The `<error/>` child, with an optional default `by`. */
  toElement(by?: string): Element {
    const { text, legacyCode, extra } = this.options;
    return el(
      "error",
      {
        type: this.type,
        code: legacyCode ? LEGACY_CODES[this.condition] : undefined,
        by: this.options.by ?? by,
      },
      el(this.condition, { xmlns: NS.STANZA_ERRORS }),
      text ? el("text", { xmlns: NS.STANZA_ERRORS }, text) : undefined,
      extra,
    );
  }
}
