// The upload service's HTTP side under /upload/: XEP-0363 §7 (the PUT: Content-Length must be the
// slot's size, Content-Type the slot's if it named one; 201 once the file can be fetched), §8
// (a PUT URL valid for a short time; CORS for web clients) and §9.1 (files served so that a
// browser runs nothing: Content-Security-Policy, nosniff, attachment for unsafe types, as
// Prosody's mod_http_file_share does). Bodies are streamed both ways, never held in memory.
import { corsHeaders, type HttpHandler, preflight } from "../http/mod.ts";
import type { Counter } from "../metrics/metrics.ts";
import { type FileStore, isId } from "./files.ts";
import { mediaType, tokenHash } from "./slots.ts";
import type { UploadRecord, UploadStore } from "./upload_store.ts";

/** The route's prefix. */
export const UPLOAD_PREFIX = "/upload";
const METHODS = ["GET", "HEAD", "PUT", "OPTIONS"];
/** §8: a web client sends these with its PUT. */
const REQUEST_HEADERS = ["Authorization", "Content-Type"];
const CORS = corsHeaders(METHODS, REQUEST_HEADERS);
/** Types a browser may show in place (Prosody's http_file_share_safe_file_types); SVG can script. */
const INLINE = /^(image\/(?!svg)|video\/|audio\/|text\/plain$)/;
/** §9.1: nothing active from the upload origin, and no framing of it. */
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

/** What the handler needs. */
export interface UploadHttpOptions {
  store: UploadStore;
  files: FileStore;
  /** How long a file is served after its upload, ms; 0 forever. */
  expiresAfter: number;
  /** Ids of the slots whose PUT is streaming now (shared with the sweep, which spares them). */
  receiving: Set<string>;
  now?: () => number;
  log(line: string): void;
  counters: {
    uploads: Counter;
    uploadedBytes: Counter;
    downloads: Counter;
  };
}

function respond(status: number, text?: string, headers: Record<string, string> = {}): Response {
  return new Response(text === undefined ? null : text + "\n", {
    status,
    headers: {
      ...CORS,
      ...(text === undefined ? {} : { "content-type": "text/plain; charset=utf-8" }),
      ...headers,
    },
  });
}

/** Constant-time comparison of two strings of hex digits. */
function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The handler of `/upload/<id>/<name>`. */
export function uploadHandler(options: UploadHttpOptions): HttpHandler {
  const now = options.now ?? Date.now;
  // A second PUT into a slot whose first is streaming gets 409, as after it.
  const receiving = options.receiving;

  async function put(request: Request, record: UploadRecord): Promise<Response> {
    const auth = request.headers.get("authorization") ?? "";
    const bearer = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
    if (bearer === undefined) {
      return respond(401, "An Authorization header from the slot is required", {
        "www-authenticate": "Bearer",
      });
    }
    if (!sameHex(await tokenHash(bearer), record.tokenHash)) {
      return respond(401, "This token is not the slot's", { "www-authenticate": "Bearer" });
    }
    if (record.uploadedAt !== null || receiving.has(record.id)) {
      return respond(409, "This slot has been used");
    }
    if (now() >= record.slotExpiresAt) return respond(410, "This slot has expired");
    if (record.expiresAt !== null && now() >= record.expiresAt) {
      return respond(410, "This slot's expire-before has passed");
    }
    // §7: the Content-Length must be the slot's size.
    const length = request.headers.get("content-length");
    if (length === null) return respond(411, "Content-Length is required");
    if (!/^\d{1,16}$/.test(length)) return respond(400, "Invalid Content-Length");
    if (Number(length) > record.size) {
      return respond(413, `Content-Length must be the slot's size, ${record.size} bytes`);
    }
    if (Number(length) < record.size) {
      return respond(400, `Content-Length must be the slot's size, ${record.size} bytes`);
    }
    // §7: the Content-Type must be the slot's, if the request named one (a PUT without one is
    // taken to be of the slot's type).
    const given = request.headers.get("content-type");
    if (record.contentType !== null && given !== null && mediaType(given) !== record.contentType) {
      return respond(415, `Content-Type must be ${record.contentType}, as in the slot request`);
    }
    receiving.add(record.id);
    try {
      let result;
      try {
        result = await options.files.receive(record.id, request.body, record.size);
      } catch (error) {
        options.log(
          `http_upload: upload of ${record.id} aborted: ${
            error instanceof Error ? error.message : error
          }`,
        );
        return respond(400, "The upload was interrupted");
      }
      if (result === "too-long") return respond(413, "More bytes than the slot's size");
      if (result === "too-short") return respond(400, "Fewer bytes than the slot's size");
      const at = now();
      const expiresAt = options.expiresAfter === 0 ? null : at + options.expiresAfter;
      if (!options.store.complete(record.id, at, expiresAt)) {
        // The slot went while the body streamed in (its account was removed).
        await options.files.remove(record.id);
        return respond(410, "This slot is gone");
      }
      options.counters.uploads.inc();
      options.counters.uploadedBytes.inc([], record.size);
      options.log(`http_upload: ${record.username} uploaded ${record.id} (${record.size} bytes)`);
      return respond(201, "Created");
    } finally {
      receiving.delete(record.id);
    }
  }

  async function get(request: Request, record: UploadRecord): Promise<Response> {
    const type = record.contentType ?? "application/octet-stream";
    const modified = new Date(record.uploadedAt!);
    modified.setMilliseconds(0);
    const lastModified = modified.toUTCString();
    const etag = `"${record.id}"`;
    const maxAge = record.expiresAt === null
      ? 31_556_952
      : Math.max(0, Math.floor((record.expiresAt - now()) / 1000));
    const headers: Record<string, string> = {
      ...CORS,
      ...SECURITY_HEADERS,
      "content-type": type,
      "content-disposition": `${INLINE.test(type) ? "inline" : "attachment"}; filename*=UTF-8''${
        encodeRfc5987(record.filename)
      }`,
      "last-modified": lastModified,
      etag,
      "cache-control": `public, max-age=${maxAge}, immutable`,
      "accept-ranges": "bytes",
    };
    const ifNoneMatch = request.headers.get("if-none-match");
    if (
      ifNoneMatch !== null
        ? ifNoneMatch.split(",").some((tag) => tag.trim() === etag || tag.trim() === "*")
        : request.headers.get("if-modified-since") === lastModified
    ) {
      return new Response(null, { status: 304, headers });
    }
    // Ranges: one, `bytes=a-`, `bytes=a-b` or `bytes=-n` (resuming downloads).
    let start = 0;
    let end = record.size; // exclusive
    let status = 200;
    const range = request.headers.get("range");
    const parsed = range === null ? null : /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (parsed !== null && (parsed[1] !== "" || parsed[2] !== "")) {
      if (parsed[1] === "") {
        start = Math.max(0, record.size - Number(parsed[2]));
      } else {
        start = Number(parsed[1]);
        if (parsed[2] !== "") end = Math.min(record.size, Number(parsed[2]) + 1);
      }
      if (start >= end) {
        return respond(416, "Range not satisfiable", { "content-range": `bytes */${record.size}` });
      }
      status = 206;
      headers["content-range"] = `bytes ${start}-${end - 1}/${record.size}`;
    }
    headers["content-length"] = String(end - start);
    if (request.method === "HEAD") return new Response(null, { status, headers });
    const file = await options.files.open(record.id);
    if (file === null) return respond(404, "Not Found");
    if (start > 0) await file.seek(start, Deno.SeekMode.Start);
    options.counters.downloads.inc();
    const body = end === record.size
      ? file.readable
      : file.readable.pipeThrough(limit(end - start));
    return new Response(body, { status, headers });
  }

  return async (request, { url }) => {
    if (request.method === "OPTIONS") return preflight(METHODS, REQUEST_HEADERS);
    const [id] = url.pathname.slice(UPLOAD_PREFIX.length + 1).split("/");
    if (!METHODS.includes(request.method)) {
      return respond(405, "Method Not Allowed", { allow: METHODS.join(", ") });
    }
    const record = id !== undefined && isId(id) ? options.store.get(id) : undefined;
    if (record === undefined) return respond(404, "Not Found");
    if (request.method === "PUT") return await put(request, record);
    // A file is served once uploaded and until it expires (the sweep removes it later).
    if (record.uploadedAt === null) return respond(404, "Not Found");
    if (record.expiresAt !== null && now() >= record.expiresAt) return respond(410, "Gone");
    return await get(request, record);
  };
}

/** RFC 8187 §3.2.1's value-chars: what encodeURIComponent leaves, minus ' ( ) *. */
function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*!]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** Passes the first `bytes` bytes on, then ends the stream. */
function limit(bytes: number): TransformStream<Uint8Array, Uint8Array> {
  let left = bytes;
  return new TransformStream({
    transform(chunk, controller) {
      if (left <= 0) return;
      const part = chunk.length <= left ? chunk : chunk.subarray(0, left);
      left -= part.length;
      controller.enqueue(part);
      if (left === 0) controller.terminate();
    },
  });
}
