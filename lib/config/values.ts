// Readers for configuration values: each checks one value and names its key when it is wrong.
// Shared by the core configuration (config.ts) and by every server module's section.

/**
 * A value that fails validation. Its message names the key and still lacks the "Cannot load
 * config" prefix, which the parser adds with the file's name.
 */
export class InvalidValue extends Error {
  override name = "InvalidValue";
}

/** Throws {@linkcode InvalidValue}: `key must be <expected>, got <value>`. */
export function invalid(key: string, expected: string, value: unknown): never {
  throw new InvalidValue(`${key} must be ${expected}, got ${show(value)}`);
}

/** A value as an error message shows it. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return "a date";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "a table";
  return String(value);
}

/** An integer from `min` to `max`. */
export function integer(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    invalid(key, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** A port, or `false` for none. */
export function portOrOff(key: string, value: unknown): number | null {
  if (value === false) return null;
  if (typeof value !== "number") invalid(key, "a port number or false", value);
  return integer(key, value, 0, 65535);
}

/** `true` or `false`. */
export function boolean(key: string, value: unknown): boolean {
  if (typeof value !== "boolean") invalid(key, "true or false", value);
  return value;
}

/** A string that is not empty. */
export function nonEmptyString(key: string, value: unknown): string {
  if (typeof value !== "string" || value === "") invalid(key, "a non-empty string", value);
  return value;
}

/** A TOML table (`[key]`). */
export function subTable(key: string, value: unknown): Record<string, unknown> {
  if (
    typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date
  ) {
    invalid(key, `a table ([${key}])`, value);
  }
  return value as Record<string, unknown>;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `value` is a lowercase DNS name. */
export function isDomainName(value: string): boolean {
  return value.length <= 253 && value.split(".").every((label) => LABEL.test(label));
}

/** A lowercase DNS name such as `example.org`. */
export function domainName(key: string, value: unknown): string {
  if (typeof value !== "string" || !isDomainName(value)) {
    invalid(key, 'a lowercase DNS name such as "example.org"', value);
  }
  return value;
}

/** An IP address or host name to listen on. */
export function address(key: string, value: unknown): string {
  // Host names, IPv4 and IPv6 literals; the listener reports addresses it cannot bind.
  if (typeof value !== "string" || !/^[0-9A-Za-z.:%_-]+$/.test(value)) {
    invalid(key, 'an IP address or host name such as "0.0.0.0" or "::"', value);
  }
  return value;
}

// Characters RFC 7622 §3.3.1 forbids in a localpart, plus whitespace and controls.
const LOCALPART = /^[^\s\p{Cc}"&'/:<>@]{1,1023}$/u;

/** An array of lowercase bare JIDs `local@domain`. */
export function bareJids(key: string, value: unknown): string[] {
  if (!Array.isArray(value)) {
    invalid(key, 'an array of bare JIDs such as ["admin@example.org"]', value);
  }
  return value.map((item: unknown, i) => {
    const at = typeof item === "string" ? item.indexOf("@") : -1;
    if (
      typeof item !== "string" || at < 0 || !LOCALPART.test(item.slice(0, at)) ||
      !isDomainName(item.slice(at + 1)) || item !== item.toLowerCase()
    ) {
      invalid(`${key}[${i}]`, 'a lowercase bare JID "local@domain"', item);
    }
    return item;
  });
}

// A URI with a scheme (RFC 3986 §3.1), e.g. "mailto:abuse@example.org" or "xmpp:admin@example.org".
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"]+$/;

/** An array of URIs with a scheme, such as `mailto:abuse@example.org`. */
export function uris(key: string, value: unknown): string[] {
  if (!Array.isArray(value)) {
    invalid(key, 'an array of URIs such as ["mailto:abuse@example.org"]', value);
  }
  return value.map((item: unknown, i) => {
    if (typeof item !== "string" || !URI.test(item)) {
      invalid(`${key}[${i}]`, 'a URI such as "mailto:abuse@example.org"', item);
    }
    return item;
  });
}
