// Registering with a room. XEP-0045 §7.10 (registration: the muc#register form, reserved
// nicknames), §7.12 (discovering one's reserved nickname: disco node x-roomuser-item, answered by
// disco.ts from the stored nick), §16.5.2 (muc#register). Registering makes an unaffiliated user a
// member with a reserved nickname; nobody else may then enter or rename themselves under it
// (conflict). Removing the registration removes the membership, with its consequences (§9.4): in a
// members-only room the occupant is taken out with status 321.
import { el } from "../../xml/element.ts";
import type { Jid } from "../../jid/jid.ts";
import { NS } from "../../stanza/ns.ts";
import { StanzaError } from "../../stanza/stanza_error.ts";
import { buildForm, readFormOrBadRequest } from "../../forms/data_form.ts";
import { type MucHooks, Priority } from "../hooks.ts";
import type { Room } from "../room.ts";
import { NickError, prepNick } from "../_nick.ts";

const NICK_FIELD = "muc#register_roomnick";

/** Registration with a room and reserved nicknames. */
export function registerFeature(hooks: MucHooks): void {
  hooks.on("disco-info", ({ features }) => {
    features.add(NS.REGISTER);
  });

  hooks.iq("get", NS.REGISTER, "query", ({ room, origin, reply }) => {
    const record = room.affiliationRecord(origin.bare);
    if (record?.affiliation === "outcast") throw banned();
    if (record?.nick !== undefined) {
      reply(el(
        "query",
        { xmlns: NS.REGISTER },
        el("registered"),
        el("username", {}, record.nick),
      ));
      return;
    }
    reply(el(
      "query",
      { xmlns: NS.REGISTER },
      el("instructions", {}, "Choose a nickname to reserve in this room."),
      buildForm({
        type: "form",
        formType: NS.MUC_REGISTER,
        title: `Registration with ${room.title}`,
        fields: [{ var: NICK_FIELD, type: "text-single", label: "Nickname", required: true }],
      }),
    ));
  });

  hooks.iq("set", NS.REGISTER, "query", ({ room, origin, query }) => {
    const record = room.affiliationRecord(origin.bare);
    if (record?.affiliation === "outcast") throw banned();
    if (query.getChild("remove") !== undefined) {
      if (record === undefined) {
        throw new StanzaError("cancel", "item-not-found", { text: "You are not registered" });
      }
      if (record.affiliation === "member") room.changeAffiliation(origin.bare, "none");
      else room.setAffiliation(origin.bare, record.affiliation, { reason: record.reason });
      return;
    }
    const x = query.getChild("x", NS.DATA_FORMS);
    if (x === undefined) {
      throw new StanzaError("modify", "bad-request", { text: "Expected the muc#register form" });
    }
    const form = readFormOrBadRequest(x);
    if (form.type === "cancel") return;
    if (form.type !== "submit" || (form.formType ?? NS.MUC_REGISTER) !== NS.MUC_REGISTER) {
      throw new StanzaError("modify", "bad-request", {
        text: "Expected a muc#register submission",
      });
    }
    const raw = form.fields.get(NICK_FIELD)?.[0]?.trim() ?? "";
    if (raw === "") {
      throw new StanzaError("modify", "not-acceptable", { text: `${NICK_FIELD} is required` });
    }
    let nick: string;
    try {
      nick = prepNick(raw);
    } catch (error) {
      if (!(error instanceof NickError)) throw error;
      throw new StanzaError("modify", "jid-malformed", {
        text: `Invalid nickname: ${error.message}`,
      });
    }
    checkNickFree(room, origin, nick);
    if (record === undefined) {
      if (room.config.membersOnly && room.affiliationOf(origin.bare) === "none") {
        throw new StanzaError("cancel", "not-allowed", {
          text: "Only members may register with a members-only room",
        });
      }
      room.changeAffiliation(origin.bare, "member", { nick });
    } else {
      room.setAffiliation(origin.bare, record.affiliation, { nick, reason: record.reason });
    }
  });

  hooks.on("occupant-pre-join", ({ room, origin, nick }) => {
    const owner = room.reservedBy(nick);
    if (owner !== undefined && owner !== origin.bare) return reserved();
    return undefined;
  }, Priority.VALIDATE);

  hooks.on("nick-pre-change", ({ room, origin, nick }) => {
    const owner = room.reservedBy(nick);
    if (owner !== undefined && owner !== origin.bare) return reserved();
    return undefined;
  }, Priority.VALIDATE);
}

function checkNickFree(room: Room, origin: Jid, nick: string): void {
  const owner = room.reservedBy(nick);
  const occupant = room.occupant(nick);
  if (
    (owner !== undefined && owner !== origin.bare) ||
    (occupant?.bareJid ?? origin.bare) !== origin.bare
  ) {
    throw new StanzaError("cancel", "conflict", { text: "That nickname is already taken" });
  }
}

function reserved(): StanzaError {
  return new StanzaError("cancel", "conflict", {
    text: "That nickname is reserved by someone else",
  });
}

function banned(): StanzaError {
  return new StanzaError("auth", "forbidden", { text: "You are banned from this room" });
}
