// Client State Indication (XEP-0352): while the client says it is inactive (§4.2), stanzas that
// can wait are held back: presence updates (only the latest per sender is kept) and messages
// without a body (chat states and the like). Anything important (a message with a body or
// subject, an error, an iq, a subscription request, a carbon) first flushes what is held, in
// order, then goes out; so does `<active/>`. The choice of what can wait follows Prosody's
// mod_csi_simple, as §3.2 leaves it to the server. The state is not kept across stream
// resumption (§5.2): a resumed stream starts active.
import { NS } from "../stanza/ns.ts";
import { el, type Element } from "../xml/element.ts";
import type { Outbound } from "./stream_management.ts";

/** Stanzas held back at most; when more would be held, everything is flushed. */
export const DEFAULT_CSI_MAX_HELD = 256;

/**
 * The held-back stanzas of one inactive session; created on `<inactive/>`, dropped on
 * `<active/>`, so an active session carries nothing.
 */
export class ClientStateBuffer {
  #held: Outbound[] = [];
  /** The held presence of each sender, to replace it by a newer one. */
  #presenceOf = new Map<string, Outbound>();
  #max: number;
  #delayFrom: string;

  /** `delayFrom` stamps the held stanzas' XEP-0203 delay (the user's bare JID, as Prosody). */
  constructor(options: { max?: number; delayFrom: string }) {
    this.#max = options.max ?? DEFAULT_CSI_MAX_HELD;
    this.#delayFrom = options.delayFrom;
  }

  /** How many stanzas are held. */
  get size(): number {
    return this.#held.length;
  }

  /**
   * Offers a stanza on its way to the client. Returns the stanzas to send now, in order: none
   * when it is held; the held ones and then it when it is important or the buffer is full.
   */
  offer(item: Outbound): Outbound[] {
    if (isImportant(item) || this.#held.length >= this.#max) return [...this.flush(), item];
    const sender = presenceSender(item);
    if (sender !== undefined) {
      const older = this.#presenceOf.get(sender);
      if (older !== undefined) this.#held.splice(this.#held.indexOf(older), 1);
    }
    const stamped = typeof item === "string" ? item : withDelay(item, this.#delayFrom);
    if (sender !== undefined) this.#presenceOf.set(sender, stamped);
    this.#held.push(stamped);
    return [];
  }

  /** Takes everything held, oldest first. */
  flush(): Outbound[] {
    const held = this.#held;
    this.#held = [];
    this.#presenceOf.clear();
    return held;
  }
}

/** Whether a stanza must reach an inactive client at once (mod_csi_simple's rules). */
export function isImportant(item: Outbound): boolean {
  if (typeof item === "string") return isImportantXml(item);
  if (item.attrs.xmlns !== undefined && item.attrs.xmlns !== NS.CLIENT) return true; // a nonza
  const type = item.attrs.type;
  switch (item.name) {
    case "presence":
      return !(type === undefined || type === "unavailable" || type === "error");
    case "message": {
      if (type === "headline") return false;
      if (type === "error") return true;
      if (item.getChild("sent", NS.CARBONS)) return true;
      const forwarded = item.getChild("received", NS.CARBONS)?.getChild("forwarded", NS.FORWARD)
        ?.getChild("message", NS.CLIENT);
      const message = forwarded ?? item;
      return message.getChild("body") !== undefined || message.getChild("subject") !== undefined ||
        message.getChild("x", NS.CONFERENCE) !== undefined ||
        message.getChild("x", NS.MUC_USER)?.getChild("invite") !== undefined;
    }
    default:
      return true;
  }
}

/** The same rules on serialized fan-out (MUC presence and groupchat), read from the text. */
function isImportantXml(xml: string): boolean {
  const head = xml.slice(0, xml.indexOf(">") + 1);
  const type = attribute(head, "type");
  if (head.startsWith("<presence")) {
    return !(type === undefined || type === "unavailable" || type === "error");
  }
  if (head.startsWith("<message")) {
    if (type === "headline") return false;
    return type === "error" || xml.includes("<body") || xml.includes("<subject") ||
      xml.includes("<invite");
  }
  return true;
}

function presenceSender(item: Outbound): string | undefined {
  if (typeof item === "string") {
    if (!item.startsWith("<presence")) return undefined;
    return attribute(item.slice(0, item.indexOf(">") + 1), "from");
  }
  return item.name === "presence" ? item.attrs.from : undefined;
}

function attribute(head: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}=(['"])(.*?)\\1`).exec(head);
  return match?.[2];
}

/** XEP-0203: a held stanza says when the server had it (iqs are never held). */
function withDelay(stanza: Element, from: string): Element {
  if (stanza.getChild("delay", NS.DELAY)) return stanza;
  return stanza.clone().append(
    el("delay", { xmlns: NS.DELAY, from, stamp: new Date().toISOString() }),
  );
}
