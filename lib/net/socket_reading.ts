// Pausing a socket's reads for real, so that TCP pushes back on the peer.
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";

/** The TCP handle under a TLSSocket, in this runtime's node:tls (not public API). */
interface WrappedTcpHandle {
  readStop?(): unknown;
  readStart?(): unknown;
}

function tcpHandleUnder(socket: Socket | TLSSocket): WrappedTcpHandle | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  return (socket as unknown as { _handle?: { _parent?: WrappedTcpHandle } })._handle?._parent;
}

/**
 * Stops reading a socket. For a TLSSocket, pause() alone stops only its 'data' events: its TLS
 * layer goes on reading the TCP handle into memory (measured: ~900 MB buffered in 2 s from one
 * flooding peer), so the handle under it is stopped as well and TCP pushes back on the peer.
 */
export function pauseReading(socket: Socket | TLSSocket): void {
  socket.pause();
  tcpHandleUnder(socket)?.readStop?.();
}

export function resumeReading(socket: Socket | TLSSocket): void {
  tcpHandleUnder(socket)?.readStart?.();
  socket.resume();
}
