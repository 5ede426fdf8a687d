// What the running server answers on its admin socket: its counts and each account's sessions.
import type { Router } from "../router/router.ts";
import type { BoundSession } from "../router/session.ts";
import type { AdminHandlers } from "./admin_socket.ts";

/** The server's own counts, as `verona status` prints them. */
export interface ServerStatus {
  connections: number;
  connectionsPerAddress: Record<string, number>;
  streams: number;
  sessions: number;
  rssBytes: number;
  heapUsedBytes: number;
  uptimeSeconds: number;
  /** Federation's streams and the remote domains they reach; absent while it is off. */
  s2s?: { inbound: number; outbound: number; queued: number; domains: string[] };
}

/** One bound session, as `verona user show` prints it. */
export interface LiveSession {
  jid: string;
  streamId: string;
  boundAt: number;
}

/** The admin commands, reading live state from the router and `status`. */
export function adminCommands(
  router: Router,
  status: () => ServerStatus,
): AdminHandlers {
  // Kept in memory: the moment each session bound (nothing is written per login).
  const boundAt = new WeakMap<BoundSession, number>();
  router.onSessionBound((session) => boundAt.set(session, Date.now()));
  return {
    ping: () => "pong",
    status,
    sessions: (args): LiveSession[] => {
      if (typeof args.username !== "string") throw new Error("sessions needs a username");
      return router.sessionsOf(`${args.username}@${router.domain}`)
        .map((session) => ({
          jid: session.jid.full,
          streamId: session.id,
          boundAt: boundAt.get(session) ?? 0,
        }))
        .sort((a, b) => a.boundAt - b.boundAt || a.jid.localeCompare(b.jid));
    },
  };
}

/** The status as one log line. */
export function statusLine(status: ServerStatus): string {
  const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
  return `status: ${status.connections} connections open, ${status.streams} streams, ` +
    `${status.sessions} sessions bound, rss ${mib(status.rssBytes)} MiB, ` +
    `heap ${mib(status.heapUsedBytes)} MiB used, up ${status.uptimeSeconds} s` +
    (status.s2s === undefined ? "" : `, s2s ${status.s2s.inbound} in / ${status.s2s.outbound} out` +
      (status.s2s.queued > 0 ? ` (${status.s2s.queued} stanzas waiting)` : ""));
}
