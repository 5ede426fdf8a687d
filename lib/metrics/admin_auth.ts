// Who may read `/metrics` and the status page: HTTP Basic authentication (RFC 7617) of an
// account listed in `admins`, its password checked by the PLAIN mechanism against the stored
// SCRAM keys (RFC 4616, RFC 5802 §3: no plain password is kept). Basic sends the password with
// every request, so it is accepted only where nobody can read it on the way: over TLS, or from
// loopback (a reverse proxy on the same host that terminated TLS, or a local scraper).
// Failed attempts are throttled per IP address, as c2s authentication is.
import { KeyedBuckets, type Rate } from "../net/token_bucket.ts";
import { createPlainServer } from "../sasl/plain_server.ts";
import type { SaslCredentialSource } from "../sasl/mechanism.ts";
import type { HttpRequestInfo } from "../http/server.ts";
import { isLoopback } from "./ip_allow.ts";

/** Options of {@linkcode AdminAuth}. */
export interface AdminAuthOptions {
  /** Where passwords are checked (the server's `Accounts`). */
  accounts: SaslCredentialSource;
  /** The XMPP domain: user names are its localparts (or full bare JIDs of it). */
  domain: string;
  /** Bare JIDs allowed in. */
  admins: readonly string[];
  /** The realm browsers show in their login prompt. */
  realm?: string;
  /** Failed logins one address may make (a burst, then `perSecond`); past it, 429. */
  failures?: Rate;
  /**
   * How long a checked password is remembered, so a page polling every second costs no PBKDF2;
   * a change of password or the account's removal ends it at once.
   */
  rememberMs?: number;
}

/** The outcome: the admin's bare JID, or the response that refuses. */
export type AdminCheck = { ok: true; jid: string } | { ok: false; response: Response };

interface Remembered {
  username: string;
  storedKey: string | null;
  until: number;
}

/** Ten failures, then one every ten seconds. */
export const DEFAULT_FAILURE_RATE: Rate = { perSecond: 0.1, burst: 10 };
const REMEMBERED_MAX = 64;

/**
 * Whether a request arrived where a password may travel: over TLS, or from loopback and not
 * forwarded from a plain-HTTP client by a proxy (`X-Forwarded-Proto`, RFC 7239 `Forwarded`).
 */
export function safeForPasswords(request: Request, info: HttpRequestInfo): boolean {
  if (info.secure) return true;
  if (!isLoopback(info.remoteAddress)) return false;
  const forwardedProto = request.headers.get("x-forwarded-proto") ??
    /(?:^|[;,\s])proto=("?)([a-z]+)\1/i.exec(request.headers.get("forwarded") ?? "")?.[2];
  return forwardedProto === undefined || forwardedProto === null ||
    forwardedProto.toLowerCase() === "https";
}

/** Whether a request came through a proxy (its peer address is then not the client's). */
export function isForwarded(request: Request): boolean {
  return request.headers.has("forwarded") || request.headers.has("x-forwarded-for");
}

/** Checks the Basic credentials of admin requests. */
export class AdminAuth {
  #options: AdminAuthOptions;
  #admins: Set<string>;
  #failures: KeyedBuckets;
  #realm: string;
  #rememberMs: number;
  // HMAC of the Authorization header (a key of this process) → the account it proved, the
  // StoredKey it was checked against, and until when.
  #remembered = new Map<string, Remembered>();
  #key = crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);

  constructor(options: AdminAuthOptions) {
    this.#options = options;
    this.#admins = new Set(options.admins);
    this.#failures = new KeyedBuckets(options.failures ?? DEFAULT_FAILURE_RATE);
    this.#realm = options.realm ?? "Verona admin";
    this.#rememberMs = options.rememberMs ?? 60_000;
  }

  /** Checks `request`; `httpsUrl` is where to send someone who tried plain HTTP. */
  async check(request: Request, info: HttpRequestInfo, httpsUrl?: string): Promise<AdminCheck> {
    if (!safeForPasswords(request, info)) {
      // No WWW-Authenticate: a browser must not be asked for a password it would send in clear.
      const where = httpsUrl ? ` at ${httpsUrl}` : "";
      return refuse(403, `Log in over HTTPS${where}: passwords are not accepted over plain HTTP\n`);
    }
    const header = request.headers.get("authorization");
    const credentials = header === null ? null : decodeBasic(header);
    if (credentials === null) return this.#challenge("Log in with an admin account\n");
    const address = info.remoteAddress;
    if (!this.#failures.has(address)) {
      return refuse(429, "Too many failed logins; try again later\n", { "retry-after": "10" });
    }
    const digest = await this.#digest(header!);
    const now = Date.now();
    let known = this.#remembered.get(digest);
    if (
      known !== undefined &&
      (known.until < now || await this.#storedKey(known.username) !== known.storedKey)
    ) {
      this.#remembered.delete(digest);
      known = undefined;
    }
    if (known === undefined) {
      const username = await this.#verify(credentials.user, credentials.password);
      if (username === null) {
        this.#failures.tryTake(address);
        return this.#challenge("Wrong user name or password\n");
      }
      known = {
        username,
        storedKey: await this.#storedKey(username),
        until: now + this.#rememberMs,
      };
      this.#remember(digest, known, now);
    }
    const jid = `${known.username}@${this.#options.domain}`;
    if (!this.#admins.has(jid)) return refuse(403, `${jid} is not an admin of this server\n`);
    return { ok: true, jid };
  }

  /** The account's current StoredKey (hex), which changes with its password; null if none. */
  async #storedKey(username: string): Promise<string | null> {
    const accounts = this.#options.accounts;
    const stored = await accounts.scram(username, "SHA-256") ??
      await accounts.scram(username, "SHA-1");
    return stored === null ? null : stored.storedKey.toHex();
  }

  /** The localpart whose password this is, or null. */
  async #verify(user: string, password: string): Promise<string | null> {
    const domain = this.#options.domain;
    const at = user.lastIndexOf("@");
    if (at >= 0 && user.slice(at + 1).toLowerCase() !== domain) return null;
    const localpart = at >= 0 ? user.slice(0, at) : user;
    if (localpart === "" || password === "" || /[\0]/.test(localpart + password)) return null;
    const plain = createPlainServer(this.#options.accounts, { domain });
    const step = await plain.step(new TextEncoder().encode(`\0${localpart}\0${password}`));
    return step.kind === "success" ? step.username ?? null : null;
  }

  #remember(digest: string, entry: Remembered, now: number): void {
    if (this.#remembered.size >= REMEMBERED_MAX) {
      for (const [key, value] of this.#remembered) {
        if (value.until < now) this.#remembered.delete(key);
      }
      while (this.#remembered.size >= REMEMBERED_MAX) {
        this.#remembered.delete(this.#remembered.keys().next().value!);
      }
    }
    this.#remembered.set(digest, entry);
  }

  async #digest(header: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", await this.#key, new TextEncoder().encode(header));
    return new Uint8Array(mac).toHex();
  }

  #challenge(text: string): AdminCheck {
    return refuse(401, text, {
      "www-authenticate": `Basic realm="${this.#realm}", charset="UTF-8"`,
    });
  }
}

/** `Basic base64(user:password)` (RFC 7617 §2, UTF-8), or null when it is not that. */
export function decodeBasic(header: string): { user: string; password: string } | null {
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (match === null) return null;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.fromBase64(match[1]));
  } catch {
    return null;
  }
  const colon = text.indexOf(":");
  if (colon < 0) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

function refuse(status: number, text: string, headers: Record<string, string> = {}): AdminCheck {
  return {
    ok: false,
    response: new Response(text, {
      status,
      headers: {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        ...headers,
      },
    }),
  };
}
