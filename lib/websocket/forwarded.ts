// Who the client is behind a reverse proxy: `X-Forwarded-For` and `X-Forwarded-Proto`, believed
// only from the proxies the configuration trusts (by default loopback, where a proxy on the same
// machine connects from), as Prosody's mod_http does with `trusted_proxies`.

/** The client's address and whether its connection to the first proxy was TLS. */
export interface ForwardedClient {
  address: string;
  secure: boolean;
}

/**
 * From the connection's peer `address`: when it is a trusted proxy, the last address in
 * `X-Forwarded-For` that is not one (each proxy appends the peer it saw, so earlier entries are
 * the client's word only), and TLS when `X-Forwarded-Proto` is `https`.
 *
 * @example
 * ```ts
 * const headers = new Headers({ "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https" });
 * forwardedClient(headers, { address: "127.0.0.1", secure: false }, new Set(["127.0.0.1"]));
 * // { address: "203.0.113.9", secure: true }
 * ```
 */
export function forwardedClient(
  headers: Headers,
  peer: ForwardedClient,
  trusted: ReadonlySet<string>,
): ForwardedClient {
  if (!trusted.has(normalize(peer.address))) return peer;
  let address = peer.address;
  const chain = (headers.get("x-forwarded-for") ?? "").split(",").map((entry) => entry.trim())
    .filter(Boolean);
  for (let i = chain.length - 1; i >= 0; i--) {
    address = chain[i];
    if (!trusted.has(normalize(address))) break;
  }
  const proto = headers.get("x-forwarded-proto")?.split(",")[0].trim().toLowerCase();
  return { address: normalize(address), secure: peer.secure || proto === "https" };
}

/** `::ffff:127.0.0.1` is 127.0.0.1; `[::1]` is ::1. */
function normalize(address: string): string {
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  return bare.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
}
