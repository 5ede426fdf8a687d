// Stream Management (XEP-0198): the counters and the queue of unacknowledged stanzas of one
// stream. §3 (enabling), §4 (acks: 'h' counts handled stanzas and wraps at 2^32), §5 (resumption:
// the SM-ID, the 'max' time), §6 (an 'h' higher than what was sent). The stream (stream.ts) owns
// the wire and the timers of hibernation; this file owns the numbers, so it is tested alone.
import { NS } from "../stanza/ns.ts";
import { el, type Element } from "../xml/element.ts";

/** Longest hibernation of a resumable session, in seconds, unless the client asks less (§3 'max'). */
export const DEFAULT_RESUME_TIMEOUT_S = 600;
/**
 * Unacknowledged stanzas a session may hold. Past this a connected resumable session drops its
 * connection (it may still be resumed); a hibernating one, or one that cannot be resumed, ends.
 */
export const DEFAULT_MAX_UNACKED_STANZAS = 5000;
/** Bytes of unacknowledged stanzas a session may hold; past this the same happens. */
export const DEFAULT_MAX_UNACKED_BYTES = 1024 * 1024;
/** The server asks for an ack (`<r/>`) after this many stanzas sent since its last request... */
export const REQUEST_ACK_EVERY = 5;
/** ...or after this long with stanzas unacknowledged and no request outstanding. */
export const REQUEST_ACK_IDLE_MS = 1000;

/** A stanza as it was sent: the element, or its serialized form (fan-out sends strings). */
export type Outbound = Element | string;

/** What `ack()` found. */
export type AckResult =
  | { ok: true; acked: number }
  /** §6: the client acknowledged more than it was sent. */
  | { ok: false; h: number; sent: number };

/** Bounds of the queue of one session. */
export interface SmLimits {
  maxUnackedStanzas: number;
  maxUnackedBytes: number;
}

const WRAP = 2 ** 32;

/**
 * The stream-management state of one session: created by `<enable/>`, so a session that never
 * enables it carries none.
 */
export class StreamManagement {
  /** The SM-ID (§5), when the session may be resumed. */
  readonly id: string | undefined;
  /** How long the session hibernates when its connection drops (§3 'max', §5). */
  readonly resumeTimeoutS: number;
  #limits: SmLimits;
  /** Stanzas handled from the client ('h' we report). */
  #handled = 0;
  /** Stanzas sent to the client that it acknowledged. */
  #acked = 0;
  #queue: { item: Outbound; bytes: number }[] = [];
  #bytes = 0;
  #sinceRequest = 0;
  /** An `<r/>` was sent and no `<a/>` has come since. */
  awaitingAck = false;

  constructor(
    options: { resume: false } | { resume: true; id: string; timeoutS: number },
    limits: SmLimits,
  ) {
    this.id = options.resume ? options.id : undefined;
    this.resumeTimeoutS = options.resume ? options.timeoutS : 0;
    this.#limits = limits;
  }

  /** Whether the session can hibernate when its connection drops. */
  get resumable(): boolean {
    return this.id !== undefined;
  }

  /** 'h' of the server: stanzas handled from the client, modulo 2^32 (§4). */
  get handled(): number {
    return this.#handled;
  }

  /** Stanzas sent, modulo 2^32. */
  get sent(): number {
    return (this.#acked + this.#queue.length) % WRAP;
  }

  /** How many stanzas wait for an ack, and their bytes. */
  get unackedCount(): number {
    return this.#queue.length;
  }

  get unackedBytes(): number {
    return this.#bytes;
  }

  /** Counts one stanza handled from the client. */
  countHandled(): void {
    this.#handled = (this.#handled + 1) % WRAP;
  }

  /**
   * Counts one stanza sent (or queued while hibernating). Returns false when the queue is now
   * past its bounds: the session can no longer be resumed without loss.
   */
  countSent(item: Outbound, bytes: number): boolean {
    this.#queue.push({ item, bytes });
    this.#bytes += bytes;
    this.#sinceRequest++;
    return this.#queue.length <= this.#limits.maxUnackedStanzas &&
      this.#bytes <= this.#limits.maxUnackedBytes;
  }

  /** Whether to send `<r/>` now: enough stanzas since the last request, none outstanding. */
  get shouldRequest(): boolean {
    return !this.awaitingAck && this.#sinceRequest >= REQUEST_ACK_EVERY;
  }

  /** Builds `<r/>` and notes that it is outstanding. */
  request(): Element {
    this.awaitingAck = true;
    this.#sinceRequest = 0;
    return el("r", { xmlns: NS.SM });
  }

  /**
   * The client handled stanzas up to `h` (from `<a/>` or `<resume/>`): drops them from the queue.
   * An `h` behind an earlier ack (a stale one) drops nothing.
   */
  ack(h: number): AckResult {
    const newly = (h - this.#acked + WRAP) % WRAP;
    if (newly > this.#queue.length) {
      if (newly >= WRAP / 2) return { ok: true, acked: 0 }; // behind: stale
      return { ok: false, h, sent: this.sent };
    }
    for (const { bytes } of this.#queue.splice(0, newly)) this.#bytes -= bytes;
    this.#acked = h;
    return { ok: true, acked: newly };
  }

  /** The stanzas not acknowledged, oldest first (they stay queued). */
  unacked(): Outbound[] {
    return this.#queue.map((entry) => entry.item);
  }

  /** Takes every unacknowledged stanza out of the queue, oldest first. */
  takeUnacked(): Outbound[] {
    const items = this.unacked();
    this.#acked = this.sent;
    this.#queue = [];
    this.#bytes = 0;
    return items;
  }

  /** `<a h=…/>` for the client (§4). */
  answer(): Element {
    return el("a", { xmlns: NS.SM, h: this.#handled });
  }
}

/** Parses an 'h' attribute: an xs:unsignedInt (§4), else undefined. */
export function parseH(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return undefined;
  const h = Number(value);
  return h < WRAP ? h : undefined;
}

/** The client's 'resume' attribute or the like: an xs:boolean. */
export function parseBoolean(value: string | undefined): boolean {
  return value === "true" || value === "1";
}

/** `<failed/>` with a stanza error condition (§6), and 'h' where known (§5). */
export function failed(condition: string, h?: number): Element {
  return el("failed", { xmlns: NS.SM, h }, el(condition, { xmlns: NS.STANZA_ERRORS }));
}

/**
 * The handled counts of resumable sessions that ended, for a while, so that a client trying to
 * resume one learns which of its stanzas the server handled (§5: `<failed h=…/>`, "MAY include
 * 'h' when failing to resume a session because it has been timed out"). Keyed by account and
 * SM-ID so no one learns about another's sessions; the oldest entries go past `capacity`.
 */
export class EndedResumptions {
  #handled = new Map<string, number>();
  #capacity: number;

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  /** Remembers what the session `id` of `bare` had handled when it ended. */
  record(bare: string, id: string, handled: number): void {
    const key = `${bare} ${id}`;
    this.#handled.delete(key);
    this.#handled.set(key, handled);
    if (this.#handled.size > this.#capacity) {
      this.#handled.delete(this.#handled.keys().next().value!);
    }
  }

  /** The handled count of an ended session, once (a second resume attempt gets none). */
  take(bare: string, id: string): number | undefined {
    const key = `${bare} ${id}`;
    const handled = this.#handled.get(key);
    this.#handled.delete(key);
    return handled;
  }
}

/**
 * A new SM-ID (§5: opaque, never reused while the server runs). It carries nothing about the
 * session: the session is found among the bound sessions of the authenticated account.
 */
export function newSmId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}
