// Typed, prioritised routing hooks: where the instant-messaging modules (lib/im) plug into the
// router. One crashing handler is logged and answered with internal-server-error for that stanza.
import type { Jid } from "../jid/jid.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { Element } from "../xml/element.ts";
import type { BoundSession } from "./session.ts";

/** Handler order, highest first: validation, then access control, then the feature, then observers. */
export const Priority = { VALIDATE: 300, ACCESS: 200, DEFAULT: 100, LATE: 0 } as const;

/** The events of the router and their payloads. */
export interface RouterEvents {
  /**
   * A stanza from a local client with a `to` (presence) or any message or iq, before it is routed.
   * A handler returns true when it consumed the stanza (nothing is routed), or throws a
   * `StanzaError` to bounce it.
   */
  "client-stanza": { stanza: Element; origin: BoundSession };
  /**
   * Available presence from a local client, broadcast or directed, before anything else sees
   * it. A handler may put a changed copy in `stanza` (never change the element itself: it may be
   * shared). Notify only.
   */
  "client-presence": { stanza: Element; origin: BoundSession };
  /**
   * A stanza for a local account that exists, before delivery to its sessions. Return true when
   * consumed (handled or dropped); throw a `StanzaError` to bounce.
   */
  "inbound": { stanza: Element; to: Jid };
  /**
   * A session broadcast presence (no `to`): available, or unavailable also when its stream ended.
   * The user's own resources have been told already. Notify only.
   */
  "presence-broadcast": {
    stanza: Element;
    origin: BoundSession;
    /** The session's broadcast presence before this one (null: this is initial presence). */
    previous: Element | null;
    /** The session's priority before this presence. */
    previousPriority: number;
  };
  /** A message was handed to these sessions of `to`. Notify only. */
  "message-delivered": { stanza: Element; to: Jid; sessions: readonly BoundSession[] };
  /**
   * A message to an account with no session to take it (RFC 6121 §8.5.2.2). Return true when
   * stored; otherwise the router answers `service-unavailable` (or drops a headline).
   */
  "message-undelivered": { stanza: Element; to: Jid };
  /**
   * A session whose connection is gone waits to be resumed (XEP-0198 §5) and holds these
   * stanzas for it: all it had not had acknowledged when it began to hibernate, then each one
   * queued while it waits. Strings are stanzas already serialized. Notify only (e.g. push,
   * XEP-0357, wakes the device).
   */
  "held-for-resumption": { session: BoundSession; stanzas: readonly (Element | string)[] };
}

/** A handler; true means "consumed, stop here" where the event allows it. */
export type RouterHandler<E extends keyof RouterEvents> = (
  event: RouterEvents[E],
) => boolean | void;

type Entry<E extends keyof RouterEvents> = { handler: RouterHandler<E>; priority: number };

/** The router's hook registry. Handlers are synchronous so that stanza order is kept. */
export class RouterHooks {
  #handlers: { [E in keyof RouterEvents]?: Entry<E>[] } = {};
  #log: (line: string) => void;

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  /** Adds a handler; among equal priorities, the earlier registration runs first. */
  on<E extends keyof RouterEvents>(
    event: E,
    handler: RouterHandler<E>,
    priority: number = Priority.DEFAULT,
  ): void {
    const list = (this.#handlers[event] ??= []) as Entry<E>[];
    list.push({ handler, priority });
    list.sort((a, b) => b.priority - a.priority);
  }

  /** Whether any handler listens to `event` (lets hot paths skip building payloads). */
  has(event: keyof RouterEvents): boolean {
    return (this.#handlers[event]?.length ?? 0) > 0;
  }

  /**
   * Runs the handlers until one returns true; returns whether one did. A `StanzaError` propagates
   * (the router bounces the stanza); any other error is logged and becomes internal-server-error.
   */
  fire<E extends keyof RouterEvents>(event: E, payload: RouterEvents[E]): boolean {
    const list = this.#handlers[event] as Entry<E>[] | undefined;
    if (list === undefined) return false;
    for (const { handler } of list) {
      let consumed: boolean | void;
      try {
        consumed = handler(payload);
      } catch (error) {
        if (error instanceof StanzaError) throw error;
        this.#log(
          `error in ${event} handler: ${
            error instanceof Error ? error.stack ?? error.message : String(error)
          }`,
        );
        throw new StanzaError("cancel", "internal-server-error");
      }
      if (consumed === true) return true;
    }
    return false;
  }

  /** Runs every handler of a notify event; one that throws is logged and the others still run. */
  notify<E extends keyof RouterEvents>(event: E, payload: RouterEvents[E]): void {
    const list = this.#handlers[event] as Entry<E>[] | undefined;
    if (list === undefined) return;
    for (const { handler } of list) {
      try {
        handler(payload);
      } catch (error) {
        this.#log(
          `error in ${event} handler: ${
            error instanceof Error ? error.stack ?? error.message : String(error)
          }`,
        );
      }
    }
  }
}
