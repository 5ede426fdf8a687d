// Messages to the room that are not groupchat: mediated invitations and their declines.
// XEP-0045 §7.8.2 (mediated invitation), §7.8.2 example 59 (decline). Direct invitations (XEP-0249)
// go from user to user and never pass through here.
import { type Attrs, el, Element, type XmlNode } from "../xml/element.ts";
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
  if (decline !== undefined) return forwardDecline(room, stanza, origin, decline);
  // RFC 6120 §8.3.3.19 (as Prosody): the room offers no service for other messages.
  throw new StanzaError("cancel", "service-unavailable", {
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
  const occupant = room.occupantBySession(origin.full);
  // §7.8.2 lets the room name the inviter by bare, full or occupant JID. In a semi-anonymous room
  // the occupant JID, so that the invitation does not reveal what the room hides (as Prosody).
  const inviter = occupant !== undefined && room.config.whois !== "anyone"
    ? occupant.jid
    : origin.full;
  const x = el(
    "x",
    { xmlns: NS.MUC_USER },
    el("invite", { from: inviter }, reason !== undefined && el("reason", {}, reason)),
  );
  const event: InviteEvent = {
    room,
    stanza,
    origin,
    affiliation: room.affiliationOf(origin.bare),
    occupant,
    invitee,
    reason,
    x,
  };
  const veto = await hooks.fireVeto("pre-invite", event);
  if (veto !== undefined) throw veto;
  hooks.fireContribute("invite", event);
  // The invitation is the inviter's message, passed on: its id (§7.8.2 example) and whatever else
  // it carries stay; only the muc#user payload is the room's own.
  const children: XmlNode[] = stanza.elements().filter((child) =>
    !(child.name === "x" && (child.attrs.xmlns === NS.MUC_USER || child.attrs.xmlns === NS.MUC))
  );
  children.push(
    x,
    // COMPAT(older clients, as Prosody): the jabber:x:conference form too, and a body.
    el("x", { xmlns: NS.CONFERENCE, jid: room.jid }, reason),
  );
  if (stanza.getChild("body") === undefined) {
    const text = `${inviter} invited you to the room ${room.jid}` + (reason ? ` (${reason})` : "");
    children.push(el("body", {}, text));
  }
  const attrs: Attrs = { from: room.jid, to: "" };
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  room.send(new Element("message", attrs, children), invitee.full);
}

function forwardDecline(room: Room, stanza: Element, origin: Jid, decline: Element): void {
  const inviter = tryParseJid(decline.attrs.to);
  if (inviter === null) {
    throw new StanzaError("modify", "jid-malformed", { text: "The inviter's address is invalid" });
  }
  const reason = decline.getChildText("reason");
  const attrs: Attrs = { from: room.jid, to: "" };
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  const message = el(
    "message",
    attrs,
    el(
      "x",
      { xmlns: NS.MUC_USER },
      el("decline", { from: origin.bare }, reason !== undefined && el("reason", {}, reason)),
    ),
  );
  // An invitation from a semi-anonymous room named the inviter by occupant JID: the decline goes
  // to that occupant's sessions.
  if (inviter.bare === room.jid) {
    const occupant = room.occupant(inviter.resource);
    if (occupant === undefined) {
      throw new StanzaError("cancel", "item-not-found", { text: "The inviter has left the room" });
    }
    for (const session of occupant.sessions.keys()) room.send(message, session);
    return;
  }
  room.send(message, inviter.full);
}
