// Address lists for `[metrics] allow_ips`: IPv4 and IPv6 addresses and CIDR prefixes
// (RFC 4632 §3.1, RFC 4291 §2.3), as Prosody's openmetrics_allow_ips and openmetrics_allow_cidr
// together. An IPv4-mapped IPv6 address (::ffff:127.0.0.1, RFC 4291 §2.5.5.2, what a dual-stack
// listener reports for IPv4 clients) matches as the IPv4 address it carries.

/** An address as 16 bytes (IPv4 mapped), or null when it is not an IP address. */
function parseIp(text: string): { bytes: Uint8Array; v4: boolean } | null {
  const zone = text.indexOf("%");
  const address = (zone >= 0 ? text.slice(0, zone) : text).replace(/^\[(.*)\]$/, "$1");
  const v4 = parseV4(address);
  if (v4 !== null) return { bytes: mapped(v4), v4: true };
  const v6 = parseV6(address);
  if (v6 === null) return null;
  const isMapped = v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return { bytes: v6, v4: isMapped };
}

function mapped(v4: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes[10] = bytes[11] = 0xff;
  bytes.set(v4, 12);
  return bytes;
}

function parseV4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i]) || Number(parts[i]) > 255) return null;
    bytes[i] = Number(parts[i]);
  }
  return bytes;
}

function parseV6(text: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.split("::").length > 2) return null;
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseV4(piece);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) out.push(parseInt(piece, 16));
      else return null;
    }
    return out;
  };
  const first = groups(head);
  const last = tail === undefined ? [] : groups(tail);
  if (first === null || last === null) return null;
  const missing = 8 - first.length - last.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const all = [...first, ...new Array(tail === undefined ? 0 : missing).fill(0), ...last];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** One entry: the address bytes and how many leading bits must match. */
interface Prefix {
  bytes: Uint8Array;
  bits: number;
}

/** Parses `entry` ("127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"); null when malformed. */
export function parsePrefix(entry: string): Prefix | null {
  const slash = entry.indexOf("/");
  const ip = parseIp(slash < 0 ? entry : entry.slice(0, slash));
  if (ip === null) return null;
  const max = ip.v4 && !entry.includes(":") ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const text = entry.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(text) || Number(text) > max) return null;
    bits = Number(text);
  }
  return { bytes: ip.bytes, bits: max === 32 ? bits + 96 : bits };
}

/** A set of addresses and prefixes that an address can be checked against. */
export class AddressList {
  #prefixes: Prefix[];

  /** Throws naming the entry that is neither an address nor a prefix. */
  constructor(entries: readonly string[]) {
    this.#prefixes = entries.map((entry) => {
      const prefix = parsePrefix(entry);
      if (prefix === null) {
        throw new TypeError(`Cannot parse "${entry}" as an IP address or prefix`);
      }
      return prefix;
    });
  }

  /** Whether `address` (as Deno reports a peer: no brackets, maybe a zone) is in the list. */
  has(address: string): boolean {
    const ip = parseIp(address);
    if (ip === null) return false;
    return this.#prefixes.some((prefix) => matches(prefix, ip.bytes));
  }
}

function matches(prefix: Prefix, bytes: Uint8Array): boolean {
  let bits = prefix.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((prefix.bytes[i] & mask) !== (bytes[i] & mask)) return false;
  }
  return true;
}

const LOOPBACK = new AddressList(["127.0.0.0/8", "::1"]);

/** Whether `address` is a loopback address (127/8, ::1, or 127/8 mapped to IPv6). */
export function isLoopback(address: string): boolean {
  return LOOPBACK.has(address);
}
