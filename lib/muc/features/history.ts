// Discussion history. XEP-0045 §7.2.14 (the joiner's <history/> limits: maxstanzas, maxchars,
// seconds, since), §7.2.15 (history after the occupants' presence and before the subject, each
// message with an XEP-0203 <delay/> from the room), §10.2 and §16.5.3
// (muc#roomconfig_historylength, Prosody's default of 20). Kept in memory for every room and in
// the RoomStore for persistent ones, so it survives a restart.
import { Element, StreamParser } from "../../xml/mod.ts";
import { NS } from "../../stanza/ns.ts";
import { type MucHooks } from "../hooks.ts";
import { parseCount } from "../config_form.ts";
import type { Room } from "../room.ts";
import { delayFrom } from "../room.ts";
import { readMucJoin } from "../_codec.ts";

const FIELD = "muc#roomconfig_historylength";

/** The most messages a room keeps and replays. */
export const MAX_HISTORY_LENGTH = 1000;

interface Entry {
  /** The message as broadcast, without `to`. */
  message: Element;
  /** Its serialization: what is stored, and what maxchars counts. */
  xml: string;
  stamp: number;
}

/** Keeps groupchat messages and replays them to whoever enters. */
export function historyFeature(hooks: MucHooks): void {
  const histories = new WeakMap<Room, Entry[]>();
  // Appends since the store was last trimmed, per room: trimming every message would double the
  // writes, so the store may hold up to twice the length between trims (loads take the newest).
  const untrimmed = new WeakMap<Room, number>();

  const historyOf = (room: Room): Entry[] => {
    let entries = histories.get(room);
    if (entries === undefined) {
      entries = room.isStored ? restore(room) : [];
      histories.set(room, entries);
    }
    return entries;
  };

  hooks.field({
    var: FIELD,
    type: "text-single",
    label: "Number of messages replayed on entering",
    get: (config) => config.historyLength,
    set: (draft, values) => {
      draft.historyLength = parseCount(FIELD, values, MAX_HISTORY_LENGTH);
    },
  });

  hooks.on("groupchat", ({ room, occupant, message }) => {
    const length = room.config.historyLength;
    if (length === 0 || message.getChild("body") === undefined) return;
    const { to: _to, ...attrs } = message.attrs;
    const kept = new Element("message", attrs, message.children);
    const entry: Entry = { message: kept, xml: kept.toString(NS.CLIENT), stamp: Date.now() };
    const entries = historyOf(room);
    entries.push(entry);
    if (entries.length > length) entries.splice(0, entries.length - length);
    if (!room.isStored) return;
    room.store.appendHistory(room.jid, {
      nick: occupant.nick,
      stanza: entry.xml,
      stamp: entry.stamp,
    });
    const appended = (untrimmed.get(room) ?? 0) + 1;
    if (appended >= length) {
      room.store.trimHistory(room.jid, length);
      untrimmed.set(room, 0);
    } else {
      untrimmed.set(room, appended);
    }
  });

  hooks.on("occupant-entering", ({ room, origin, stanza }) => {
    const entries = historyOf(room);
    if (entries.length === 0) return;
    const request = readMucJoin(stanza)?.history ?? {};
    const maxStanzas = Math.min(request.maxStanzas ?? Infinity, room.config.historyLength);
    const maxChars = request.maxChars ?? Infinity;
    const now = Date.now();
    const after = Math.max(
      request.seconds === undefined ? -Infinity : now - request.seconds * 1000,
      request.since ?? -Infinity,
    );
    let first = entries.length;
    let chars = 0;
    while (first > 0 && entries.length - first < maxStanzas) {
      const entry = entries[first - 1];
      if (entry.stamp < after) break;
      chars += entry.xml.length;
      if (chars > maxChars) break;
      first--;
    }
    for (let i = first; i < entries.length; i++) {
      const { message, stamp } = entries[i];
      room.send(
        new Element("message", { ...message.attrs, to: "" }, [
          ...message.children,
          delayFrom(room.jid, stamp),
        ]),
        origin.full,
      );
    }
  });

  hooks.on("config-changed", ({ room, changed }) => {
    const entries = histories.get(room);
    if (changed.includes("historyLength")) {
      const length = room.config.historyLength;
      if (entries !== undefined && entries.length > length) {
        entries.splice(0, entries.length - length);
      }
      if (room.isStored) room.store.trimHistory(room.jid, length);
    }
    // A room that became persistent keeps what was said so far.
    if (changed.includes("persistent") && room.isStored && entries !== undefined) {
      for (const entry of entries) {
        const nick = entry.message.attrs.from?.slice(room.jid.length + 1) ?? "";
        room.store.appendHistory(room.jid, { nick, stanza: entry.xml, stamp: entry.stamp });
      }
    }
  });
}

/** A stored room's history, parsed back into messages. */
function restore(room: Room): Entry[] {
  const entries: Entry[] = [];
  for (const stored of room.store.loadHistory(room.jid, room.config.historyLength)) {
    const message = parseMessage(stored.stanza);
    if (message !== undefined) entries.push({ message, xml: stored.stanza, stamp: stored.stamp });
  }
  return entries;
}

function parseMessage(xml: string): Element | undefined {
  let found: Element | undefined;
  const parser = new StreamParser({
    streamOpen: () => {},
    stanza: (stanza) => found ??= stanza,
    streamClose: () => {},
    error: () => {},
  });
  parser.writeText(`<stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAMS}'>${xml}`);
  return found?.name === "message" ? found : undefined;
}
