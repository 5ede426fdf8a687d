// Voice requests. XEP-0045 §7.13 (requesting voice), §8.6 (approving voice requests), §16.5
// (the http://jabber.org/protocol/muc#request FORM_TYPE). Done as Prosody 0.12 does it:
//
// - A message (not groupchat) to the room's bare JID with a muc#request form is a request when
//   its sender is not a moderator and an answer when it is (Prosody decides by the sender's role
//   too, so a moderator cannot "request" anything).
// - A visitor's request goes to every moderator session as the form of §7.13 Example 79, in the
//   example's order: FORM_TYPE, muc#role, muc#jid (the requesting session, only to moderators who
//   may see real JIDs — all of them, §4.2), muc#roomnick, muc#request_allow (false). The requester
//   gets no reply, as in the XEP.
// - It is the role that counts, not the room option: a visitor in an unmoderated room (one a
//   moderator took the voice from) may ask for it back, as in Prosody. A request from an occupant
//   who has voice already is ignored, as in Prosody. Differences from Prosody, which accepts the
//   request of a non-occupant and ignores muc#role: a non-occupant gets `not-acceptable` (as for
//   groupchat), and a request for another role than participant gets `bad-request` (voice is the
//   only request §7.13 defines).
// - A moderator's submission with muc#request_allow true makes the occupant named by muc#jid
//   (else by muc#roomnick) a participant, with the usual role-change presence (actor: the
//   moderator; reason "Voice granted", Prosody's). A cancelled form, muc#request_allow false, an
//   occupant who has left or has voice already: nothing happens, no error (Prosody).
//
// TODO(#muc-voice): no throttle yet; a visitor can send moderators as many requests as it likes.
import { el, type Element } from "../../xml/element.ts";
import { tryParseJid } from "../../jid/jid.ts";
import { NS } from "../../stanza/ns.ts";
import { StanzaError } from "../../stanza/stanza_error.ts";
import { buildForm, type FormField, type ReadForm } from "../../forms/data_form.ts";
import type { MucHooks, RoomFormEvent } from "../hooks.ts";
import type { Occupant } from "../occupant.ts";
import type { Room } from "../room.ts";

const ROLE = "muc#role";
const JID = "muc#jid";
const NICK = "muc#roomnick";
const ALLOW = "muc#request_allow";

/** Visitors ask moderators for voice; moderators grant it by submitting the form. */
export function voiceRequestFeature(hooks: MucHooks): void {
  // Every room takes voice requests (as Prosody advertises it).
  hooks.on("disco-info", ({ features }) => {
    features.add(NS.MUC_REQUEST);
  });

  hooks.formMessage(NS.MUC_REQUEST, (event) => {
    const { occupant, form } = event;
    if (occupant === undefined) {
      throw new StanzaError("cancel", "not-acceptable", {
        text: "Only occupants may request voice",
      });
    }
    if (form.type === "cancel") return;
    if (form.type !== "submit") {
      throw new StanzaError("modify", "bad-request", {
        text: "Expected a muc#request submission",
      });
    }
    if (occupant.role === "moderator") approve(event, occupant);
    else request(event, occupant);
  });
}

/** §7.13: a visitor's request, passed on to the moderators. */
function request({ room, origin, form }: RoomFormEvent, occupant: Occupant): void {
  const role = form.fields.get(ROLE)?.[0] ?? "participant";
  if (role !== "participant") {
    throw new StanzaError("modify", "bad-request", {
      text: `Cannot request the role "${role}": only voice (participant) may be requested`,
    });
  }
  if (occupant.role !== "visitor") return; // it has voice already
  let plain: Element | undefined;
  let full: Element | undefined;
  for (const [sessionJid, recipient] of room.sessions()) {
    if (recipient.role !== "moderator") continue;
    const message = room.canSeeRealJids(recipient)
      ? full ??= requestMessage(room, occupant.nick, origin.full)
      : plain ??= requestMessage(room, occupant.nick, undefined);
    room.send(message, sessionJid);
  }
}

/** The form of §7.13 Example 79, from the room. */
function requestMessage(room: Room, nick: string, realJid: string | undefined): Element {
  const fields: FormField[] = [
    { var: ROLE, type: "list-single", label: "Requested role", values: ["participant"] },
  ];
  if (realJid !== undefined) {
    fields.push({ var: JID, type: "jid-single", label: "User ID", values: [realJid] });
  }
  fields.push(
    { var: NICK, type: "text-single", label: "Room Nickname", values: [nick] },
    { var: ALLOW, type: "boolean", label: "Grant voice to this person?", values: ["false"] },
  );
  return el(
    "message",
    { from: room.jid, to: "" },
    buildForm({
      type: "form",
      formType: NS.MUC_REQUEST,
      title: "Voice request",
      instructions: 'To approve this request for voice, select the "Grant voice to this person?" ' +
        "checkbox and click OK. To skip this request, click the cancel button.",
      fields,
    }),
  );
}

/** §8.6: a moderator's answer; only an approval of a visitor who is still there does anything. */
function approve({ room, form, origin }: RoomFormEvent, moderator: Occupant): void {
  const allow = form.fields.get(ALLOW)?.[0]?.trim();
  if (allow !== "true" && allow !== "1") return;
  const target = requester(room, form);
  if (target === undefined || target.role !== "visitor") return;
  room.changeRole(target, "participant", {
    actor: moderator.nick,
    actorJid: origin.full,
    reason: "Voice granted",
  });
}

/** The occupant an answer is about: by muc#jid (a session, else a bare JID), else muc#roomnick. */
function requester(room: Room, form: ReadForm): Occupant | undefined {
  const jidValue = form.fields.get(JID)?.[0];
  if (jidValue !== undefined && jidValue.trim() !== "") {
    const jid = tryParseJid(jidValue.trim());
    if (jid === null) return undefined;
    const bySession = room.occupantBySession(jid.full);
    if (bySession !== undefined) return bySession;
    for (const occupant of room.occupants()) if (occupant.bareJid === jid.bare) return occupant;
    return undefined;
  }
  const nick = form.fields.get(NICK)?.[0];
  return nick === undefined ? undefined : room.occupant(nick);
}
