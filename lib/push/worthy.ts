// Which stanzas deserve a push notification (XEP-0357 §7 leaves it to the server: "an event
// warranting a push notification"). The choices of Prosody's mod_cloud_notify, which mobile
// clients (Conversations, Monal, Siskin) were written against: a message with a non-empty body,
// an encrypted message (OMEMO, PGP: no body to look at, often none at all), or a call
// invitation (XEP-0353 propose); never presence, headlines, errors, group chat subjects, chat
// states, receipts or markers alone, nor a carbon copy of the user's own outgoing message. An
// incoming carbon (XEP-0280 `<received/>`) is judged by the message it carries.
import { NS } from "../stanza/ns.ts";
import type { Element } from "../xml/element.ts";
import { loadXml } from "../xml/stored.ts";
import { OMEMO_0, OMEMO_2, OMEMO_LEGACY, OPENPGP, PGP_ENCRYPTED } from "./_ns.ts";

/** What a notification says about the message that caused it. */
export interface PushWorthy {
  /** The sender as the message names it (a full JID, or a room occupant's). */
  sender: string | undefined;
  /** Its body, if it has one (encrypted messages often have none). */
  body: string | undefined;
}

const ENCRYPTED: readonly [string, string][] = [
  ["encrypted", OMEMO_LEGACY],
  ["encrypted", OMEMO_0],
  ["encrypted", OMEMO_2],
  ["x", PGP_ENCRYPTED],
  ["openpgp", OPENPGP],
  ["propose", NS.JINGLE_MESSAGE],
];

/** The message's sender and body when it warrants a push; null when it does not. */
export function pushWorthy(stanza: Element): PushWorthy | null {
  if (stanza.name !== "message") return null;
  let message = stanza;
  for (const direction of ["received", "sent"]) {
    const carbon = stanza.getChild(direction, NS.CARBONS);
    if (carbon === undefined) continue;
    if (direction === "sent") return null; // the user's own message, from another resource
    const forwarded = carbon.getChild("forwarded", NS.FORWARD);
    const inner = forwarded === undefined ? undefined : clientChild(forwarded, "message");
    if (inner === undefined) return null;
    message = inner;
  }
  const type = message.attrs.type ?? "normal";
  if (type === "headline" || type === "error") return null;
  const body = clientChild(message, "body")?.getText();
  const found = { sender: message.attrs.from, body: body === "" ? undefined : body };
  if (ENCRYPTED.some(([name, ns]) => message.getChild(name, ns) !== undefined)) return found;
  if (type === "groupchat" && clientChild(message, "subject") !== undefined) return null;
  return found.body === undefined ? null : found;
}

/**
 * A `jabber:client` child: stanzas built by the server carry no `xmlns` (the stream's default
 * namespace), nor do their children; parsed ones may carry it.
 */
function clientChild(parent: Element, name: string): Element | undefined {
  for (const child of parent.elements()) {
    if (child.name === name && (child.attrs.xmlns ?? NS.CLIENT) === NS.CLIENT) return child;
  }
  return undefined;
}

/**
 * {@linkcode pushWorthy} for a stanza as the session holds it: an element, or XML already
 * serialized for the client (`jabber:client` default namespace). Only messages are parsed.
 */
export function heldPushWorthy(stanza: Element | string): PushWorthy | null {
  if (typeof stanza !== "string") return pushWorthy(stanza);
  if (!stanza.startsWith("<message")) return null;
  try {
    return pushWorthy(loadXml(stanza));
  } catch {
    return null; // what the server wrote itself; nothing to push if it cannot be read
  }
}
