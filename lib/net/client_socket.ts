// The client side of a c2s connection, for our own tools (spec replay, load generator):
// TCP with a timeout, and STARTTLS that encrypts without verifying (test servers are self-signed).
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";

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
 * tools talk to test servers with self-signed certificates.
 */
export function upgradeToTls(
  raw: Socket,
  servername: string,
  timeoutMs: number,
): Promise<TLSSocket> {
  raw.removeAllListeners("data");
  raw.removeAllListeners("close");
  raw.removeAllListeners("error");
  raw.on("error", () => {}); // the TLS socket reports it
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ socket: raw, servername, rejectUnauthorized: false });
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
