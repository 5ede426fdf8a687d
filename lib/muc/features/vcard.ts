// Room vCards and avatars: vcard-temp (XEP-0054) on the room's bare JID, as Prosody's
// mod_vcard_muc and ejabberd's mod_muc do, and the avatar as XEP-0486 (MUC Avatars) and XEP-0153
// describe it.
// - get: anyone the room is visible to (as for its disco#info, which carries the avatar's hash
//   anyway) reads the vCard: non-members of members-only rooms and outcasts too, as on Prosody and
//   ejabberd, where a room's avatar is shown before one enters (invitations, bookmarks, search).
//   A room without one answers an empty <vCard/> (XEP-0054 §3.1 allows it; Prosody answers
//   item-not-found), as the account vCards do (lib/vcard).
// - set: owners only (service admins count), others `forbidden`; at most `maxBytes` of XML (the
//   account vCards' limit) else `policy-violation`; a PHOTO whose BINVAL is not base64,
//   `bad-request`. An empty <vCard/> removes it.
// - disco#info: the `vcard-temp` feature always; with a PHOTO, `muc#roominfo_avatarhash`
//   (text-multi, XEP-0486) holds the hex SHA-1 of the image bytes (XEP-0153 §3.1).
// - A changed photo: every occupant gets a presence from the room's bare JID with
//   <x xmlns='vcard-temp:x:update'><photo>HASH</photo></x> (XEP-0153 §3.1; an empty <photo/>,
//   §4.1, when it was removed), and any change status 104 (XEP-0045 §10.2.1), both as Prosody
//   does, so clients refetch. An entering occupant gets that presence after its self-presence when
//   the room has a photo (ejabberd does; Prosody sends it even without one).
// - The vCard goes with the room (destroyed, or a temporary room emptied), and a new room never
//   inherits one left by an earlier room of the same name.
import type { DatabaseSync } from "node:sqlite";
import { imageHash } from "../../avatars/avatars.ts";
import { NS_VCARD_UPDATE } from "../../avatars/presence_hash.ts";
import { NS } from "../../stanza/ns.ts";
import { StanzaError } from "../../stanza/stanza_error.ts";
import { text, textOrNull } from "../../storage/sql.ts";
import { VCARD_MAX_BYTES } from "../../vcard/vcard.ts";
import { el, type Element } from "../../xml/element.ts";
import { loadXml, storeXml } from "../../xml/stored.ts";
import type { MucFeature } from "../hooks.ts";
import type { Room } from "../room.ts";

/** XEP-0486's room-info field. */
export const AVATAR_HASH_FIELD = "muc#roominfo_avatarhash";

/** A room's stored vCard. */
export interface StoredRoomVcard {
  /** The `<vCard xmlns='vcard-temp'/>` as XML. */
  xml: string;
  /** Hex SHA-1 of its PHOTO's image, or null without one. */
  photoHash: string | null;
}

/** Where room vCards live, by bare room JID. */
export interface RoomVcardStore {
  get(room: string): StoredRoomVcard | null;
  set(room: string, vcard: StoredRoomVcard): void;
  remove(room: string): void;
}

/** {@linkcode RoomVcardStore} on the muc module's `muc_vcards` table (lib/muc/mod.ts). */
export class SqliteRoomVcardStore implements RoomVcardStore {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  get(room: string): StoredRoomVcard | null {
    const row = this.#db.prepare("SELECT xml, photo_hash FROM muc_vcards WHERE room = ?").get(room);
    if (row === undefined) return null;
    return { xml: text(row, "xml"), photoHash: textOrNull(row, "photo_hash") };
  }

  set(room: string, vcard: StoredRoomVcard): void {
    this.#db.prepare(
      "INSERT INTO muc_vcards (room, xml, photo_hash) VALUES (?, ?, ?) " +
        "ON CONFLICT (room) DO UPDATE SET xml = excluded.xml, photo_hash = excluded.photo_hash",
    ).run(room, vcard.xml, vcard.photoHash);
  }

  remove(room: string): void {
    this.#db.prepare("DELETE FROM muc_vcards WHERE room = ?").run(room);
  }
}

/** {@linkcode RoomVcardStore} in memory, for tests. */
export class MemoryRoomVcardStore implements RoomVcardStore {
  readonly #vcards = new Map<string, StoredRoomVcard>();

  get(room: string): StoredRoomVcard | null {
    return this.#vcards.get(room) ?? null;
  }

  set(room: string, vcard: StoredRoomVcard): void {
    this.#vcards.set(room, { ...vcard });
  }

  remove(room: string): void {
    this.#vcards.delete(room);
  }
}

/** What {@linkcode vcardFeature} needs. */
export interface RoomVcardOptions {
  store: RoomVcardStore;
  /** Largest vCard accepted, in bytes of XML; default the account vCards' (lib/vcard). */
  maxBytes?: number;
}

/**
 * The hex SHA-1 of the vCard's PHOTO (XEP-0153 §3.1: of the image bytes, not of the base64), or
 * undefined without a PHOTO holding a BINVAL (an EXTVAL is no avatar for XEP-0153).
 * @throws {StanzaError} `bad-request` when the BINVAL is not base64.
 */
export function photoHash(vcard: Element): string | undefined {
  const binval = vcard.getChild("PHOTO")?.getChildText("BINVAL");
  if (binval === undefined || binval.trim() === "") return undefined;
  const hash = imageHash(binval);
  if (hash === undefined) {
    throw new StanzaError("modify", "bad-request", { text: "The PHOTO's BINVAL is not base64" });
  }
  return hash.sha1;
}

/** vcard-temp on rooms: owners set the room's vCard, its photo is the room's avatar. */
export function vcardFeature(options: RoomVcardOptions): MucFeature {
  const { store } = options;
  const maxBytes = options.maxBytes ?? VCARD_MAX_BYTES;
  // Photo hashes by room (null: none), read once: disco#info and every join need them.
  const hashes = new Map<string, string | null>();
  const hashOf = (room: Room): string | null => {
    let hash = hashes.get(room.jid);
    if (hash === undefined) {
      hash = store.get(room.jid)?.photoHash ?? null;
      hashes.set(room.jid, hash);
    }
    return hash;
  };
  const forget = (room: Room) => {
    hashes.delete(room.jid);
    store.remove(room.jid);
  };

  return (hooks) => {
    hooks.iq("get", NS.VCARD, "vCard", ({ room, reply }) => {
      const stored = store.get(room.jid);
      reply(stored === null ? el("vCard", { xmlns: NS.VCARD }) : loadXml(stored.xml));
    });

    hooks.iq("set", NS.VCARD, "vCard", ({ room, origin, query, reply }) => {
      if (room.affiliationOf(origin.bare) !== "owner") {
        throw new StanzaError("auth", "forbidden", {
          text: "Only owners may set the room's vCard",
        });
      }
      const vcard = query.clone();
      const xml = storeXml(vcard);
      if (new TextEncoder().encode(xml).length > maxBytes) {
        throw new StanzaError("modify", "policy-violation", {
          text: `A vCard may have at most ${maxBytes} bytes`,
        });
      }
      const hash = photoHash(vcard) ?? null;
      const before = store.get(room.jid);
      const previousHash = before?.photoHash ?? null;
      const empty = vcard.elements().length === 0;
      if (empty) store.remove(room.jid);
      else store.set(room.jid, { xml, photoHash: hash });
      hashes.set(room.jid, hash);
      reply();
      if ((before?.xml ?? null) === (empty ? null : xml)) return;
      if (hash !== previousHash) {
        const update = avatarPresence(room, hash);
        for (const [sessionJid] of room.sessions()) room.send(update, sessionJid);
      }
      room.broadcastStatus(104);
    });

    hooks.on("disco-info", ({ room, features, fields }) => {
      features.add(NS.VCARD);
      const hash = hashOf(room);
      if (hash !== null) {
        fields.push({
          var: AVATAR_HASH_FIELD,
          type: "text-multi",
          label: "Avatar hash",
          values: [hash],
        });
      }
    });

    hooks.on("occupant-entering", ({ room, origin }) => {
      const hash = hashOf(room);
      if (hash !== null) room.send(avatarPresence(room, hash), origin.full);
    });

    hooks.on("room-created", ({ room }) => forget(room));
    hooks.on("room-destroyed", ({ room }) => forget(room));
  };
}

/** XEP-0153 §3.1's update, from the room's bare JID; an empty `<photo/>` for no avatar. */
function avatarPresence(room: Room, hash: string | null): Element {
  return el(
    "presence",
    { from: room.jid, to: "" },
    el("x", { xmlns: NS_VCARD_UPDATE }, el("photo", {}, hash ?? "")),
  );
}
