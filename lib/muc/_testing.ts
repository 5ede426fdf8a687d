// Test helpers for lib/muc: parse stanzas as the router hands them over, record deliveries.
import { type Element, StreamParser } from "../xml/mod.ts";
import { MemoryRoomStore, type RoomStore } from "../storage/room_store.ts";
import { createMucService, type MucService, type MucServiceOptions } from "./service.ts";
import { MUC_FEATURES, occupantIdFeature } from "./features/mod.ts";

export const DOMAIN = "conference.localhost";

/** Parses stanzas written as XML, in `jabber:client` like the router's. */
export function xml(text: string): Element[] {
  const stanzas: Element[] = [];
  const parser = new StreamParser({
    streamOpen: () => {},
    stanza: (stanza) => stanzas.push(stanza),
    streamClose: () => {},
    error: (condition, why) => {
      throw new Error(`Cannot parse test XML: ${condition}: ${why}`);
    },
  });
  parser.writeText(
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + text,
  );
  return stanzas;
}

/** One stanza written as XML. */
export function stanza(text: string): Element {
  const [first] = xml(text);
  return first;
}

/**
 * Every feature but occupant-id, whose `<occupant-id/>` children the tests comparing whole
 * stanzas would have to spell out (occupant_id_test.ts tests it).
 */
export const FEATURES_WITHOUT_OCCUPANT_ID = MUC_FEATURES.filter((f) => f !== occupantIdFeature);

/**
 * A service on a memory store whose deliveries are recorded as they would go on the wire; by
 * default with {@linkcode FEATURES_WITHOUT_OCCUPANT_ID}.
 */
export class Harness {
  readonly store: RoomStore;
  readonly service: MucService;
  readonly logs: string[] = [];
  #sent: string[] = [];

  constructor(options: Partial<MucServiceOptions> = {}) {
    this.store = options.store ?? new MemoryRoomStore();
    this.service = createMucService({
      domain: DOMAIN,
      log: (line) => this.logs.push(line),
      features: FEATURES_WITHOUT_OCCUPANT_ID,
      ...options,
      store: this.store,
      // Serialized during the call, as the router does: the service may reuse the element.
      deliver: (out) => this.#sent.push(out.toString("jabber:client")),
    });
  }

  /** Handles the stanza(s) and returns what was delivered meanwhile, in order. */
  async send(text: string): Promise<string[]> {
    for (const one of xml(text)) await this.service.handle(one);
    return this.take();
  }

  /** Deliveries not yet taken. */
  take(): string[] {
    const sent = this.#sent;
    this.#sent = [];
    return sent;
  }

  /** Enters a room and returns the deliveries. */
  join(from: string, occupantJid: string, password?: string): Promise<string[]> {
    const secret = password === undefined ? "" : `<password>${password}</password>`;
    return this.send(
      `<presence from='${from}' to='${occupantJid}'>` +
        `<x xmlns='http://jabber.org/protocol/muc'>${secret}</x></presence>`,
    );
  }

  /** Submits the configuration form with the given fields (var → values). */
  configure(
    from: string,
    room: string,
    fields: Record<string, string[]>,
    id = "config",
  ): Promise<string[]> {
    const body = Object.entries(fields).map(([name, values]) =>
      `<field var='${name}'>${values.map((value) => `<value>${value}</value>`).join("")}</field>`
    ).join("");
    return this.send(
      `<iq from='${from}' to='${room}' type='set' id='${id}'>` +
        "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
        "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>" +
        `${body}</x></query></iq>`,
    );
  }
}
