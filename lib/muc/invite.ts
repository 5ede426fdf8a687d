// Messages to the room that are not groupchat: mediated invitations and their declines.
// XEP-0045 §7.8.2 (mediated invitation), §7.8.2 example 59 (decline). Direct invitations (XEP-0249)
// go from user to user and never pass through here.
import { el, type Element } from "../xml/element.ts";
import { type Jid, tryParseJid } from "../jid/jid.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { hasRole } from "./affiliation.ts";
import { type InviteEvent, type MucHooks, Priority } from "./hooks.ts";
import type { Room } from "./room.ts";

/** Handles a message of type normal (or chat) to the room's bare JID. */
export async function handleMediatedMessage(
  room: Room,
  stanza: Element,
  origin: Jid,
  hooks: MucHooks,
): Promise<void> {
  const x = stanza.getChild("x", NS.MUC_USER);
  const invites = x?.getChildren("invite") ?? [];
  if (invites.length > 0) {
    for (const invite of invites) await mediatedInvite(room, stanza, origin, invite, hooks);
    return;
  }
  const decline = x?.getChild("decline");
  if (decline !== undefined) return forwardDecline(room, origin, decline);
  throw new StanzaError("modify", "bad-request", {
    text: "Messages to the room must be of type groupchat, invitations or declines",
  });
}

/** The core's rule: only occupants with a voice invite (as Prosody). Installed by the service. */
export function inviteFeature(hooks: MucHooks): void {
  hooks.on("pre-invite", ({ occupant }) => {
    if (occupant === undefined) {
      return new StanzaError("auth", "forbidden", { text: "Only occupants may invite" });
    }
    if (!hasRole(occupant.role, "participant")) {
      return new StanzaError("auth", "forbidden", { text: "Visitors may not invite" });
    }
    return undefined;
  }, Priority.VALIDATE);
}

async function mediatedInvite(
  room: Room,
  stanza: Element,
  origin: Jid,
  invite: Element,
  hooks: MucHooks,
): Promise<void> {
  const invitee = tryParseJid(invite.attrs.to);
  if (invitee === null) {
    throw new StanzaError("modify", "jid-malformed", { text: "The invitee's address is invalid" });
  }
  const reason = invite.getChildText("reason");
  const x = el(
    "x",
    { xmlns: NS.MUC_USER },
    el("invite", { from: origin.full }, reason !== undefined && el("reason", {}, reason)),
  );
  const event: InviteEvent = {
    room,
    stanza,
    origin,
    affiliation: room.affiliationOf(origin.bare),
    occupant: room.occupantBySession(origin.full),
    invitee,
    reason,
    x,
  };
  const veto = await hooks.fireVeto("pre-invite", event);
  if (veto !== undefined) throw veto;
  hooks.fireContribute("invite", event);
  const text = `${origin.bare} invited you to the room ${room.jid}` +
    (reason ? ` (${reason})` : "");
  room.send(
    el(
      "message",
      { from: room.jid, to: "" },
      x,
      // COMPAT(older clients, as Prosody): the jabber:x:conference form too, and a body.
      el("x", { xmlns: NS.CONFERENCE, jid: room.jid }, reason),
      el("body", {}, text),
    ),
    invitee.full,
  );
}

function forwardDecline(room: Room, origin: Jid, decline: Element): void {
  const inviter = tryParseJid(decline.attrs.to);
  if (inviter === null) {
    throw new StanzaError("modify", "jid-malformed", { text: "The inviter's address is invalid" });
  }
  const reason = decline.getChildText("reason");
  room.send(
    el(
      "message",
      { from: room.jid, to: "" },
      el(
        "x",
        { xmlns: NS.MUC_USER },
        el("decline", { from: origin.bare }, reason !== undefined && el("reason", {}, reason)),
      ),
    ),
    inviter.full,
  );
}
