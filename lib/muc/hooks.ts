// MUC extension points: typed, prioritised hooks, declared config fields, room iq handlers and
// handlers of data-form messages to a room (by FORM_TYPE).
//
// A feature is `(hooks: MucHooks) => void`; features/mod.ts lists them. Three kinds of events,
// typed separately:
// - veto: may return (or throw) a StanzaError to stop the action; the first one wins;
// - contribute: handlers add to the mutable payload;
// - notify: handlers are told; they return nothing.
// Handlers run highest priority first (the `Priority` constants), in registration order within
// one priority. A handler that throws anything but a StanzaError is logged with the event name;
// a veto chain then answers `internal-server-error` for that stanza only, the other chains go on.
import type { Element } from "../xml/element.ts";
import type { Jid } from "../jid/jid.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { FieldOption, FieldType, FormField, ReadForm } from "../forms/data_form.ts";
import type { Affiliation, Role } from "./affiliation.ts";
import type { Occupant } from "./occupant.ts";
import type { Room } from "./room.ts";
import type { RoomConfig } from "./room_config.ts";

/** Handler priorities, highest first. Use these names, never bare numbers. */
export const Priority = {
  /** Is the request well-formed and the room in a state to take it (e.g. locked rooms)? */
  VALIDATE: 400,
  /** May this user do this (bans, members-only, passwords)? */
  ACCESS: 300,
  DEFAULT: 200,
  /** After everything else: logging, statistics. */
  LATE: 100,
} as const;

/** One of the {@linkcode Priority} values. */
export type Priority = typeof Priority[keyof typeof Priority];

/** Someone asks to create a room that does not exist yet. */
export interface RoomPreCreateEvent {
  roomJid: string;
  stanza: Element;
  origin: Jid;
}

/** A user asks to enter a room (XEP-0045 §7.2). */
export interface PreJoinEvent {
  room: Room;
  stanza: Element;
  origin: Jid;
  nick: string;
  /** The joiner's affiliation (service admins count as owners). */
  affiliation: Affiliation;
}

/** An occupant sends a subject change (XEP-0045 §8.1). */
export interface SubjectChangeEvent {
  room: Room;
  stanza: Element;
  origin: Jid;
  occupant: Occupant;
  /** The new subject; empty clears it. */
  subject: string;
}

/** Room disco#info is being built (XEP-0045 §6.4). */
export interface DiscoInfoEvent {
  room: Room;
  origin: Jid;
  /** Feature vars (`muc_persistent`, ...). */
  features: Set<string>;
  /** Fields of the `muc#roominfo` form, after FORM_TYPE and `muc#roominfo_occupants`. */
  fields: FormField[];
}

/** An entering occupant's role is being decided; handlers may change `role`. */
export interface OccupantRoleEvent {
  room: Room;
  origin: Jid;
  affiliation: Affiliation;
  role: Role;
}

/** A self-presence is being built; handlers may add status codes (XEP-0045 §15.6.2). */
export interface SelfPresenceEvent {
  room: Room;
  occupant: Occupant;
  kind: "join" | "update" | "leave";
  statuses: Set<number>;
}

/** An occupant asks to change its nickname (XEP-0045 §7.6). */
export interface NickChangeEvent {
  room: Room;
  stanza: Element;
  origin: Jid;
  occupant: Occupant;
  /** The new nickname, prepared. */
  nick: string;
}

/** An occupant sends a private message to another (XEP-0045 §7.5). */
export interface PrivateMessageEvent {
  room: Room;
  stanza: Element;
  origin: Jid;
  sender: Occupant;
  target: Occupant;
}

/** Someone invites `invitee` through the room (XEP-0045 §7.8.2). */
export interface InviteEvent {
  room: Room;
  stanza: Element;
  origin: Jid;
  /** The inviter's affiliation (service admins count as owners). */
  affiliation: Affiliation;
  /** The inviter as an occupant, if it is in the room. */
  occupant: Occupant | undefined;
  /** Bare or full JID of the invitee, prepared. */
  invitee: Jid;
  reason: string | undefined;
  /** The muc#user `<x/>` being sent to the invitee: handlers may append (e.g. `<password/>`). */
  x: Element;
}

/**
 * An occupant is created (on entering, or under a new nickname): handlers add the elements the
 * room puts into every presence and message it sends from that occupant JID (e.g. XEP-0421's
 * `<occupant-id/>`). Any child of the same name and namespace a client sent is removed.
 */
export interface OccupantTagsEvent {
  room: Room;
  /** The occupant's real bare JID. */
  bareJid: string;
  tags: Element[];
}

/** The owner changed the configuration: handlers add muc#user status codes (104, 172, ...). */
export interface ConfigStatusEvent {
  room: Room;
  changed: readonly (keyof RoomConfig)[];
  statuses: Set<number>;
}

/**
 * A groupchat message is about to be broadcast: handlers may change `message`, the stanza as it
 * goes out (its `to` varies), e.g. add a `<stanza-id/>` (XEP-0359) when archiving it.
 */
export interface GroupchatMessageEvent {
  room: Room;
  occupant: Occupant;
  /** The real full JID of the session that sent it. */
  origin: Jid;
  message: Element;
}

/** A groupchat message was broadcast; `message` is the stanza as broadcast (its `to` varies). */
export interface GroupchatEvent {
  room: Room;
  occupant: Occupant;
  message: Element;
}

/** An occupant is entering: its self-presence is out, the subject comes next (§7.2.15). */
export interface EnteringEvent {
  room: Room;
  occupant: Occupant;
  origin: Jid;
  /** The join presence. */
  stanza: Element;
}

/** A bare JID's affiliation changed. */
export interface AffiliationChangedEvent {
  room: Room;
  jid: string;
  previous: Affiliation;
  affiliation: Affiliation;
}

/** Something happened to a room. */
export interface RoomEvent {
  room: Room;
}

/** Something happened to an occupant session. */
export interface OccupantEvent {
  room: Room;
  occupant: Occupant;
  /** The real full JID of the session that joined or left. */
  origin: Jid;
}

/** An owner changed the room's configuration. */
export interface ConfigChangedEvent {
  room: Room;
  origin: Jid;
  /** The option keys whose value changed (may be empty: an instant room, a resubmitted form). */
  changed: readonly (keyof RoomConfig)[];
}

/** Events whose handlers may stop the action. */
export interface MucVetoEvents {
  "room-pre-create": RoomPreCreateEvent;
  "occupant-pre-join": PreJoinEvent;
  "subject-pre-change": SubjectChangeEvent;
  "nick-pre-change": NickChangeEvent;
  "private-message": PrivateMessageEvent;
  "pre-invite": InviteEvent;
}

/** Events whose handlers add to the payload. */
export interface MucContributeEvents {
  "disco-info": DiscoInfoEvent;
  "occupant-role": OccupantRoleEvent;
  "self-presence": SelfPresenceEvent;
  "invite": InviteEvent;
  "config-status": ConfigStatusEvent;
  "occupant-tags": OccupantTagsEvent;
  "groupchat-message": GroupchatMessageEvent;
}

/** Events whose handlers are only told. */
export interface MucNotifyEvents {
  "room-created": RoomEvent;
  "room-destroyed": RoomEvent;
  "occupant-joined": OccupantEvent;
  "occupant-left": OccupantEvent;
  "config-changed": ConfigChangedEvent;
  "occupant-entering": EnteringEvent;
  "groupchat": GroupchatEvent;
  "affiliation-changed": AffiliationChangedEvent;
}

/** Every MUC event by name. */
export type MucEvents = MucVetoEvents & MucContributeEvents & MucNotifyEvents;

/** What a veto handler returns: a StanzaError to stop, nothing to let the action go on. */
export type VetoResult = StanzaError | undefined | void;

/** A handler for event `K`; veto handlers may be async (a password check hashes). */
export type MucHandler<K extends keyof MucEvents> = (
  event: MucEvents[K],
) => K extends keyof MucVetoEvents ? VetoResult | Promise<VetoResult> : void;

/** Values a field shows in the owner's form. */
export type FieldValue = string | number | boolean | null | readonly string[];

/** A room option as a field of the owner's configuration form (XEP-0045 §10.2). */
export interface ConfigField {
  var: string;
  type: FieldType;
  label: string;
  options?: readonly FieldOption[];
  /** The current value shown in the form (booleans become "1"/"0", null no value). */
  get(config: Readonly<RoomConfig>): FieldValue;
  /**
   * Writes a submitted value into `draft`; throws a StanzaError (`modify`/`not-acceptable`) for a
   * bad value. `submission` holds the whole submitted form, for fields that depend on another.
   * The core commits the draft only when every field accepted its value.
   */
  set(
    draft: RoomConfig,
    values: readonly string[],
    submission: ReadonlyMap<string, readonly string[]>,
    room: Room,
  ): void | Promise<void>;
}

/** An iq addressed to a room's bare JID. */
export interface RoomIqEvent {
  room: Room;
  stanza: Element;
  /** The iq's single child. */
  query: Element;
  origin: Jid;
  /** Sends the result now (with an optional payload), so a handler can act after replying. */
  reply(payload?: Element): void;
}

/** Handles one kind of room iq; throws a StanzaError to answer an error. */
export type RoomIqHandler = (event: RoomIqEvent) => void | Promise<void>;

/**
 * A message to a room's bare JID (not groupchat) carrying a data form (XEP-0004) whose FORM_TYPE
 * a feature registered, e.g. a voice request (XEP-0045 §7.13).
 */
export interface RoomFormEvent {
  room: Room;
  stanza: Element;
  origin: Jid;
  /** The sender as an occupant, if it is in the room. */
  occupant: Occupant | undefined;
  /** The form as read; its `formType` is the one the handler was registered for. */
  form: ReadForm;
}

/** Handles one kind of form message; throws a StanzaError to answer an error. */
export type RoomFormHandler = (event: RoomFormEvent) => void | Promise<void>;

/** A feature of the MUC service: registers its hooks, fields and iq handlers. */
export type MucFeature = (hooks: MucHooks) => void;

interface Registered {
  priority: number;
  order: number;
  // Stored untyped; `on()` and the `fire*()` methods keep names and payloads paired.
  fn: (event: never) => unknown;
}

/** The hook registry of one MUC service. */
export class MucHooks {
  readonly #handlers = new Map<string, Registered[]>();
  readonly #fields: ConfigField[] = [];
  readonly #iq = new Map<string, RoomIqHandler>();
  readonly #forms = new Map<string, RoomFormHandler>();
  readonly #log: (line: string) => void;
  #order = 0;
  /** The service's secret, from which features derive opaque ids (XEP-0421 §4). */
  readonly secret: Uint8Array;

  constructor(options: { log?: (line: string) => void; secret?: Uint8Array } = {}) {
    this.#log = options.log ?? ((line) => console.error(line));
    this.secret = options.secret ?? crypto.getRandomValues(new Uint8Array(32));
  }

  /**
   * Adds a handler for an event.
   *
   * @example
   * ```ts
   * hooks.on("occupant-pre-join", ({ room, affiliation }) => {
   *   if (room.config.membersOnly && affiliation === "none") {
   *     return new StanzaError("auth", "registration-required");
   *   }
   * }, Priority.ACCESS);
   * ```
   */
  on<K extends keyof MucEvents>(
    name: K,
    handler: MucHandler<K>,
    priority: Priority = Priority.DEFAULT,
  ): void {
    const list = this.#handlers.get(name) ?? [];
    list.push({ priority, order: this.#order++, fn: handler as (event: never) => unknown });
    list.sort((a, b) => b.priority - a.priority || a.order - b.order);
    this.#handlers.set(name, list);
  }

  /** Runs a veto chain; resolves to the first StanzaError returned or thrown, if any. */
  async fireVeto<K extends keyof MucVetoEvents>(
    name: K,
    event: MucVetoEvents[K],
  ): Promise<StanzaError | undefined> {
    const list = this.#handlers.get(name);
    if (list === undefined) return undefined;
    for (const { fn } of list) {
      try {
        const result = await (fn as (event: MucVetoEvents[K]) => unknown)(event);
        if (result instanceof StanzaError) return result;
      } catch (error) {
        if (error instanceof StanzaError) return error;
        this.#failed(name, error);
        return new StanzaError("cancel", "internal-server-error");
      }
    }
    return undefined;
  }

  /** Runs a contribute chain over a payload the handlers mutate. */
  fireContribute<K extends keyof MucContributeEvents>(
    name: K,
    event: MucContributeEvents[K],
  ): void {
    this.#fireAll(name, event);
  }

  /** Runs a notify chain. */
  fireNotify<K extends keyof MucNotifyEvents>(name: K, event: MucNotifyEvents[K]): void {
    this.#fireAll(name, event);
  }

  /** Declares a configuration field; registration order is form order. */
  field(field: ConfigField): void {
    if (this.#fields.some((known) => known.var === field.var)) {
      throw new Error(`Cannot declare field "${field.var}": it is already declared`);
    }
    this.#fields.push(field);
  }

  /** The declared configuration fields, in form order. */
  get fields(): readonly ConfigField[] {
    return this.#fields;
  }

  /** Handles iq `type` whose child is `<name xmlns=xmlns/>`, sent to a room's bare JID. */
  iq(type: "get" | "set", xmlns: string, name: string, handler: RoomIqHandler): void {
    const key = iqKey(type, xmlns, name);
    if (this.#iq.has(key)) throw new Error(`Cannot handle iq ${key}: it already has a handler`);
    this.#iq.set(key, handler);
  }

  /** The handler for a room iq, if a feature registered one. */
  iqHandler(type: string, xmlns: string, name: string): RoomIqHandler | undefined {
    return this.#iq.get(iqKey(type, xmlns, name));
  }

  /**
   * Handles messages to a room's bare JID that carry a data form with FORM_TYPE `formType`.
   *
   * @example
   * ```ts
   * hooks.formMessage(NS.MUC_REQUEST, ({ room, occupant, form }) => {
   *   // form.fields.get("muc#role") ...
   * });
   * ```
   */
  formMessage(formType: string, handler: RoomFormHandler): void {
    if (this.#forms.has(formType)) {
      throw new Error(
        `Cannot handle form messages of type ${formType}: they already have a handler`,
      );
    }
    this.#forms.set(formType, handler);
  }

  /** The handler for form messages of `formType`, if a feature registered one. */
  formMessageHandler(formType: string): RoomFormHandler | undefined {
    return this.#forms.get(formType);
  }

  #fireAll(name: string, event: unknown): void {
    const list = this.#handlers.get(name);
    if (list === undefined) return;
    for (const { fn } of list) {
      try {
        (fn as (event: unknown) => unknown)(event);
      } catch (error) {
        this.#failed(name, error);
      }
    }
  }

  #failed(name: string, error: unknown): void {
    const detail = error instanceof Error ? error.stack ?? error.message : String(error);
    this.#log(`muc: hook "${name}" failed: ${detail}`);
  }
}

function iqKey(type: string, xmlns: string, name: string): string {
  return `${type}/${xmlns}:${name}`;
}
