// Issuing upload slots: XEP-0363 §4 (a request names the file, its size and maybe its type; the
// answer is a PUT URL with the headers to send and a GET URL), §6 (file-too-large with the
// maximum, quotas as wait/resource-constraint with <retry stamp/>, who may not upload: forbidden)
// and §8 (a PUT URL valid for about 300 s). The policy follows Prosody's mod_http_file_share;
// the PUT is authorized by a bearer token whose hash the slot's row keeps.
import { KeyedBuckets } from "../net/token_bucket.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import type { HttpUploadConfig } from "./_options.ts";
import { base64url, newId } from "./files.ts";
import type { UploadStore } from "./upload_store.ts";

/** XEP-0363's namespace (kept here: lib/stanza/ns.ts belongs to the core). */
export const UPLOAD = "urn:xmpp:http:upload:0";
/** §5 (upload purpose): the purposes' namespace; `#message` and `#ephemeral` are supported. */
export const PURPOSE = "urn:xmpp:http:upload:purpose:0";

// XEP-0082 §3.2 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD.
const DATE_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** Longest file name accepted, in UTF-8 bytes (a common file system limit). */
export const MAX_FILENAME_BYTES = 255;
const DAY_MS = 86_400_000;

/** What a client asked for (§4 <request/>). */
export interface SlotRequest {
  filename: string;
  size: number;
  /** The declared type, lowercased; undefined when the request names none. */
  contentType: string | undefined;
  /** The ephemeral purpose's expire-before (Unix ms): the file is not served after it. */
  expireBefore?: number;
}

/** A slot as answered (§4 <slot/>). */
export interface Slot {
  id: string;
  putUrl: string;
  getUrl: string;
  /** The headers the PUT must carry (§4: only Authorization, Cookie, Expires are allowed). */
  headers: { name: string; value: string }[];
}

/** What the issuer needs. */
export interface SlotIssuerOptions {
  config: Readonly<HttpUploadConfig>;
  store: UploadStore;
  /** The public URL of an HTTP path (the http module's `url`). */
  url(path: string): string;
  now?: () => number;
}

/** The hex SHA-256 of a bearer token, as the row keeps it. */
export async function tokenHash(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The slot's URL path: `/upload/<id>/<file name, percent-encoded>` (§4: RFC 3986, non-ASCII encoded). */
export function slotPath(id: string, filename: string): string {
  return `/upload/${id}/${encodeURIComponent(filename)}`;
}

/** Reads §4's <request filename size content-type/>; bad-request when it is malformed. */
export function readRequest(request: Element): SlotRequest {
  const { filename, size, "content-type": type } = request.attrs;
  if (filename === undefined || size === undefined) {
    throw new StanzaError("modify", "bad-request", {
      text: "A request needs the filename and size attributes",
    });
  }
  // Only '/' (and NUL, which XML cannot carry) cannot be in a Unix file name; the name is also a
  // URL segment and a header value, so control characters and the dot names go too.
  if (
    filename.trim() === "" || filename === "." || filename === ".." || /[\/\\]/.test(filename) ||
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f]/.test(filename) ||
    new TextEncoder().encode(filename).length > MAX_FILENAME_BYTES
  ) {
    throw new StanzaError("modify", "bad-request", {
      text:
        `Invalid filename: no '/' or '\\', no control characters, at most ${MAX_FILENAME_BYTES} bytes`,
    });
  }
  if (!/^\d{1,16}$/.test(size) || !Number.isSafeInteger(Number(size))) {
    throw new StanzaError("modify", "bad-request", {
      text: "File size must be a non-negative integer",
    });
  }
  let contentType: string | undefined;
  if (type !== undefined && type !== "") {
    contentType = mediaType(type);
    if (contentType === undefined) {
      throw new StanzaError("modify", "bad-request", { text: "Invalid content-type" });
    }
  }
  const read: SlotRequest = { filename, size: Number(size), contentType };
  // The purpose (§5): none or <message/> is the default; <ephemeral expire-before/> bounds the
  // file's life; others (profile, permanent) are not offered, so they get the default too.
  const ephemeral = request.getChild("ephemeral", PURPOSE);
  if (ephemeral !== undefined) {
    const match = DATE_TIME.exec(ephemeral.attrs["expire-before"] ?? "");
    const at = match === null
      ? NaN
      : Date.parse(`${match[1]}.${(match[2] ?? "").padEnd(3, "0").slice(0, 3)}${match[3]}`);
    if (Number.isNaN(at)) {
      throw new StanzaError("modify", "bad-request", {
        text: "expire-before must be a XEP-0082 DateTime such as 2025-09-10T23:08:25Z",
      });
    }
    read.expireBefore = at;
  }
  return read;
}

/** The media type of a Content-Type value, lowercased and without parameters; undefined if none. */
export function mediaType(value: string): string | undefined {
  const essence = value.split(";")[0].trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(essence) &&
      essence.length <= 255
    ? essence
    : undefined;
}

/** Whether `type` is one of `allowed` (`image/*` names a whole type); an empty list allows all. */
export function typeAllowed(allowed: readonly string[], type: string): boolean {
  if (allowed.length === 0) return true;
  return allowed.includes(type) || allowed.includes(type.replace(/\/.*/, "/*"));
}

/** The §6 error for a file over the size limit, with <file-too-large><max-file-size/>. */
export function fileTooLarge(max: number): StanzaError {
  return new StanzaError("modify", "not-acceptable", {
    text: `File too large: the maximum file size is ${max} bytes`,
    extra: el("file-too-large", { xmlns: UPLOAD }, el("max-file-size", {}, String(max))),
  });
}

/** §6: a temporary refusal, with the time the client may try again. */
function tryLater(text: string, at: number): StanzaError {
  return new StanzaError("wait", "resource-constraint", {
    text,
    extra: el("retry", {
      xmlns: UPLOAD,
      stamp: new Date(at).toISOString().replace(/\.\d+Z$/, "Z"),
    }),
  });
}

/** Issues slots to the server's users within the configured limits. */
export class SlotIssuer {
  #config: Readonly<HttpUploadConfig>;
  #store: UploadStore;
  #url: (path: string) => string;
  #now: () => number;
  #rate: KeyedBuckets;

  constructor(options: SlotIssuerOptions) {
    this.#config = options.config;
    this.#store = options.store;
    this.#url = options.url;
    this.#now = options.now ?? Date.now;
    const perMinute = options.config.slotsPerMinute;
    this.#rate = new KeyedBuckets({ perSecond: perMinute / 60, burst: perMinute });
  }

  /** A slot for `username` (a local account), or the StanzaError that says why not. */
  async issue(username: string, request: SlotRequest): Promise<Slot> {
    const config = this.#config;
    const now = this.#now();
    if (request.size > config.maxFileSize) throw fileTooLarge(config.maxFileSize);
    const type = request.contentType ?? "application/octet-stream";
    if (!typeAllowed(config.allowedTypes, type)) {
      throw new StanzaError("modify", "not-acceptable", {
        text: `File type not allowed: ${type}`,
      });
    }
    if (!this.#rate.tryTake(username)) {
      throw tryLater(
        `Too many upload slots requested: at most ${config.slotsPerMinute} a minute`,
        now + Math.ceil(60_000 / config.slotsPerMinute),
      );
    }
    if (config.quotaBytes > 0) {
      const held = this.#store.bytesHeld(username, now);
      if (held + request.size > config.quotaBytes) {
        throw new StanzaError("wait", "resource-constraint", {
          text: `Quota reached: ${held} of ${config.quotaBytes} bytes in use`,
        });
      }
    }
    if (config.dailyQuotaBytes > 0) {
      const today = this.#store.bytesSince(username, now - DAY_MS, now);
      if (today + request.size > config.dailyQuotaBytes) {
        throw tryLater(
          `Daily quota reached: ${today} of ${config.dailyQuotaBytes} bytes in 24 hours`,
          now + DAY_MS / 24,
        );
      }
    }
    if (request.expireBefore !== undefined && request.expireBefore <= now) {
      throw new StanzaError("modify", "bad-request", { text: "expire-before is in the past" });
    }
    const id = newId();
    const token = base64url(crypto.getRandomValues(new Uint8Array(24)));
    this.#store.add({
      id,
      username,
      filename: request.filename,
      size: request.size,
      contentType: request.contentType ?? null,
      tokenHash: await tokenHash(token),
      createdAt: now,
      slotExpiresAt: now + config.slotTimeout * 1000,
      expiresAt: request.expireBefore ?? null,
    });
    const url = this.#url(slotPath(id, request.filename));
    return {
      id,
      putUrl: url,
      getUrl: url,
      headers: [{ name: "Authorization", value: `Bearer ${token}` }],
    };
  }
}
