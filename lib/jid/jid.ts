// JIDs (RFC 7622): parsing, a preparation subset, bare/full forms.
//
// Localparts and domains are case-folded and NFKC-normalized, resourceparts
// NFC-normalized; characters RFC 7622 §3.3.1 forbids in localparts are refused.
// This is a subset of PRECIS, enough to compare addresses reliably.

const LOCAL_FORBIDDEN = /["&'/:<>@\s]/u;
// deno-lint-ignore no-control-regex -- control characters are exactly what JIDs may not hold
const CONTROL = /[\u0000-\u001f\u007f]/u;
const MAX_PART_BYTES = 1023;
const encoder = new TextEncoder();

/** An XMPP address. Parts are already prepared; compare with `equals` or the string forms. */
export class Jid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;

  constructor(local: string, domain: string, resource = "") {
    this.local = local;
    this.domain = domain;
    this.resource = resource;
  }

  /** `local@domain`, or `domain` for a server or component. */
  get bare(): string {
    return this.local ? `${this.local}@${this.domain}` : this.domain;
  }

  /** The whole address, with the resource if there is one. */
  get full(): string {
    return this.resource ? `${this.bare}/${this.resource}` : this.bare;
  }

  /** True for `local@domain` or `domain` without a resource. */
  get isBare(): boolean {
    return this.resource === "";
  }

  /** The same address without its resource. */
  toBare(): Jid {
    return this.resource ? new Jid(this.local, this.domain) : this;
  }

  /** The same bare address with another resource. */
  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, resource);
  }

  equals(other: Jid): boolean {
    return this.full === other.full;
  }

  toString(): string {
    return this.full;
  }
}

/** Why a string is not a JID, for error texts. */
export class JidError extends Error {}

/** Parses and prepares a JID; throws `JidError` saying what is wrong. */
export function parseJid(text: string): Jid {
  const slash = text.indexOf("/");
  const rawResource = slash === -1 ? "" : text.slice(slash + 1);
  const head = slash === -1 ? text : text.slice(0, slash);
  const at = head.indexOf("@");
  const rawLocal = at === -1 ? "" : head.slice(0, at);
  const rawDomain = at === -1 ? head : head.slice(at + 1);
  if (at !== -1 && rawLocal === "") {
    throw new JidError(`Cannot parse JID "${text}": empty localpart`);
  }
  if (slash !== -1 && rawResource === "") {
    throw new JidError(`Cannot parse JID "${text}": empty resourcepart`);
  }
  const local = rawLocal === "" ? "" : prepLocal(rawLocal);
  const domain = prepDomain(rawDomain);
  const resource = rawResource === "" ? "" : prepResource(rawResource);
  return new Jid(local, domain, resource);
}

/** Parses a JID, or returns null if it is not valid. */
export function tryParseJid(text: string | undefined): Jid | null {
  if (text === undefined) return null;
  try {
    return parseJid(text);
  } catch {
    return null;
  }
}

/** Prepares a localpart (username); throws `JidError` if it cannot be one. */
export function prepLocal(local: string): string {
  const prepared = local.normalize("NFKC").toLowerCase();
  if (prepared === "") throw new JidError("Invalid localpart: empty");
  if (LOCAL_FORBIDDEN.test(prepared) || CONTROL.test(prepared)) {
    throw new JidError(`Invalid localpart "${local}": contains a forbidden character`);
  }
  checkLength(prepared, "localpart");
  return prepared;
}

/** Prepares a domainpart; throws `JidError` if it cannot be one. */
export function prepDomain(domain: string): string {
  const prepared = domain.normalize("NFKC").toLowerCase().replace(/\.$/, "");
  if (prepared === "") throw new JidError("Invalid domainpart: empty");
  if (/[\s@/"&'<>:]/u.test(prepared.replace(/^\[[0-9a-f:.]+\]$/, "")) || CONTROL.test(prepared)) {
    throw new JidError(`Invalid domainpart "${domain}": contains a forbidden character`);
  }
  checkLength(prepared, "domainpart");
  return prepared;
}

/** Prepares a resourcepart (also a MUC nickname); throws `JidError` if it cannot be one. */
export function prepResource(resource: string): string {
  const prepared = resource.normalize("NFC");
  if (prepared.trim() === "") throw new JidError("Invalid resourcepart: empty or only spaces");
  if (CONTROL.test(prepared)) {
    throw new JidError(`Invalid resourcepart "${resource}": contains a control character`);
  }
  checkLength(prepared, "resourcepart");
  return prepared;
}

function checkLength(part: string, what: string): void {
  if (encoder.encode(part).length > MAX_PART_BYTES) {
    throw new JidError(`Invalid ${what}: longer than ${MAX_PART_BYTES} bytes`);
  }
}
