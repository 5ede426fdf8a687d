// The upload check does what a client does before its first upload (XEP-0363 §4, §5): it asks
// the service for a slot, then sends the CORS preflight a web client's browser would send before
// the PUT, as the Conversations Compliance Tester does: `OPTIONS` with `Origin`,
// `Access-Control-Request-Method: PUT` and `Access-Control-Request-Headers: content-type`. The
// preflight goes over a socket of its own so that a self-signed test certificate is accepted
// (the check is about the protocol, not about the certificate's issuer).
import { connect as connectPlain } from "node:net";
import { connect as connectTls } from "node:tls";
import { el, type Element } from "../../lib/xml/element.ts";

const UPLOAD = "urn:xmpp:http:upload:0";

/** What the upload check saw. */
export interface UploadProbe {
  /** The slot's PUT URL, or why there was none. */
  putUrl: string | null;
  /** The preflight's status and the CORS headers it carried, or null when it was not sent. */
  preflight: { status: number; headers: Record<string, string> } | null;
}

/** Requests a slot from `service` and preflights its PUT URL. */
export async function probeUpload(
  iq: (to: string, type: string, payload: Element) => Promise<Element>,
  service: string,
  timeoutMs: number,
): Promise<UploadProbe> {
  const answer = await iq(
    service,
    "get",
    el("request", {
      xmlns: UPLOAD,
      filename: "compliance.txt",
      size: "5",
      "content-type": "text/plain",
    }),
  );
  const putUrl = answer.attrs.type === "result"
    ? answer.getChild("slot", UPLOAD)?.getChild("put")?.attrs.url ?? null
    : null;
  if (putUrl === null) return { putUrl, preflight: null };
  const preflight = await corsPreflight(new URL(putUrl), timeoutMs).catch(() => null);
  return { putUrl, preflight };
}

/** Whether a preflight answer lets a page of another origin PUT with a Content-Type. */
export function preflightAllowsPut(preflight: UploadProbe["preflight"]): boolean {
  if (preflight === null || preflight.status < 200 || preflight.status > 299) return false;
  const origin = preflight.headers["access-control-allow-origin"];
  const methods = (preflight.headers["access-control-allow-methods"] ?? "").toUpperCase();
  const headers = (preflight.headers["access-control-allow-headers"] ?? "").toLowerCase();
  return (origin === "*" || origin === "https://compliance.example") &&
    methods.split(/\s*,\s*/).includes("PUT") &&
    (headers === "*" || headers.split(/\s*,\s*/).includes("content-type"));
}

function corsPreflight(
  url: URL,
  timeoutMs: number,
): Promise<{ status: number; headers: Record<string, string> }> {
  const secure = url.protocol === "https:";
  const port = Number(url.port || (secure ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const socket = secure
      ? connectTls({ host, port, servername: host, rejectUnauthorized: false })
      : connectPlain({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("preflight timed out"));
    }, timeoutMs);
    let text = "";
    socket.on(secure ? "secureConnect" : "connect", () => {
      socket.write(
        `OPTIONS ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
          "Origin: https://compliance.example\r\nAccess-Control-Request-Method: PUT\r\n" +
          "Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n",
      );
    });
    socket.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      clearTimeout(timer);
      socket.destroy();
      const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        if (colon > 0) {
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers });
    });
    socket.on("error", (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
