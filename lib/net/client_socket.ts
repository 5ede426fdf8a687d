// The client side of a c2s connection, for our own tools (spec replay, load generator):
// TCP with a timeout, and STARTTLS or direct TLS (XEP-0368) that encrypt without verifying (test
// servers are self-signed).
import type { Buffer } from "node:buffer";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { ALPN_XMPP_CLIENT } from "./transport.ts";

/** Opens a TCP connection (from `localAddress` if given), or rejects after `timeoutMs`. */
export function openTcp(
  host: string,
  port: number,
  timeoutMs: number,
  localAddress?: string,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, localAddress });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    // Stays registered: a later error is then handled (and reported by the owner's listener).
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Runs the TLS handshake over `raw` after `<proceed/>`. The certificate is not verified: the
 * tools talk to test servers with self-signed certificates. `session` (what a TLS socket's
 * `session` event gave) asks the server to resume that session.
 */
export function upgradeToTls(
  raw: Socket,
  servername: string,
  timeoutMs: number,
  session?: Uint8Array,
): Promise<TLSSocket> {
  raw.removeAllListeners("data");
  raw.removeAllListeners("close");
  raw.removeAllListeners("error");
  raw.on("error", () => {}); // the TLS socket reports it
  return handshake({ socket: raw, servername, session: session as Buffer | undefined }, timeoutMs);
}

/**
 * Opens a connection that is TLS from the first byte (XEP-0368 §3: SNI `servername`, the
 * domain, and ALPN `xmpp-client`), with TCP_NODELAY; each step may take `timeoutMs`. The
 * certificate is not verified, as with {@linkcode upgradeToTls}.
 */
export async function openDirectTls(
  host: string,
  port: number,
  options: { servername: string; timeoutMs: number; localAddress?: string; session?: Uint8Array },
): Promise<TLSSocket> {
  const raw = await openTcp(host, port, options.timeoutMs, options.localAddress);
  raw.setNoDelay(true);
  raw.on("error", () => {}); // the TLS socket reports it
  const { servername } = options;
  return handshake(
    {
      socket: raw,
      servername,
      ALPNProtocols: [ALPN_XMPP_CLIENT],
      session: options.session as Buffer | undefined,
    },
    options.timeoutMs,
  );
}

function handshake(options: ConnectionOptions, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ ...options, rejectUnauthorized: false });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    secure.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(secure);
    });
    secure.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`TLS handshake failed: ${error.message}`));
    });
  });
}
