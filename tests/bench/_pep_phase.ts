// The PEP fan-out phase of the load benchmark: one publisher and K contacts with mutual presence
// subscriptions (RFC 6121 §3.1), each contact online with entity capabilities (XEP-0115 §4)
// whose disco#info has `http://jabber.org/protocol/tune+notify`, so that the publisher's PEP
// service notifies it (XEP-0163 §4.2 filtered notifications, §4.3 generating them). The
// publisher then publishes N tunes (XEP-0163 §3, XEP-0118) with at most a window of them not
// yet received by every contact; each event is timed from the publish to its receipt, and each
// publish iq from its send to its result.
//
// Everything before the timed publishes (subscriptions, caps presences, the server's disco#info
// queries, the node's creation by a first publish) is setup and not measured.
import { capsVer } from "../../lib/caps/mod.ts";
import { NS } from "../../lib/stanza/ns.ts";
import { el, escapeAttr } from "../../lib/xml/mod.ts";
import type { BenchClient } from "./_bench_client.ts";
import {
  type Bench,
  type DeliveryFigures,
  deliveryFigures,
  type PhaseOptions,
  pool,
  quantileMs,
  round,
  timeDeliveries,
  withinPhase,
} from "./_phase.ts";
import { attribute } from "./_stanza_splitter.ts";

/** User Tune (XEP-0118 §3): a small payload that clients really subscribe to with +notify. */
const TUNE = "http://jabber.org/protocol/tune";
/** The caps node of the bench's contacts (XEP-0115 §4: a URI naming the client software). */
const CAPS_NODE = "https://verona.example/bench";
/** How long one warm-up publish may take to reach every contact before the next is tried. */
const WARM_UP_STEP_MS = 2_000;

/** What the phase reads of the options. */
export interface PepPhaseOptions extends PhaseOptions {
  /** Contacts of the publisher: clients 2..K+1 (client 1 publishes). */
  pepContacts: number;
  /** Timed publishes. */
  pepPublishes: number;
  /** Publishes not yet received by every contact that the publisher may have. */
  pepWindow: number;
}

/** The contacts' disco#info (XEP-0030): what they answer and what their caps hash is. */
function contactDiscoInfo(node: string) {
  return el(
    "query",
    { xmlns: NS.DISCO_INFO, node },
    el("identity", { category: "client", type: "pc", name: "verona bench" }),
    el("feature", { var: NS.DISCO_INFO }),
    el("feature", { var: NS.CAPS }),
    el("feature", { var: TUNE }),
    el("feature", { var: `${TUNE}+notify` }),
  );
}

/** Their verification string (XEP-0115 §5.1), the same for all: one disco#info query in all. */
const capsVerOfContacts = capsVer(contactDiscoInfo(""), "sha-1")!;

function bareOf(jid: string): string {
  const slash = jid.indexOf("/");
  return slash === -1 ? jid : jid.slice(0, slash);
}

function isPresence(raw: string, type: string, from: string): boolean {
  return raw.startsWith("<presence") && attribute(raw, "type") === type &&
    bareOf(attribute(raw, "from") ?? "") === from;
}

/** The `<title/>` of a tune event, "<tag> <seq> <timestamp>", or undefined for anything else. */
function eventTitle(raw: string): string[] | undefined {
  if (!raw.startsWith("<message")) return undefined;
  const at = raw.indexOf("<title>");
  if (at === -1) return undefined;
  return raw.slice(at + 7, raw.indexOf("</title>", at)).split(" ");
}

function publishIq(id: string, title: string): string {
  // No item id: the service makes one (XEP-0060 §7.1.1), as in XEP-0163 §1.2's example.
  return `<iq type='set' id='${id}'><pubsub xmlns='${NS.PUBSUB}'><publish node='${TUNE}'>` +
    `<item><tune xmlns='${TUNE}'><artist>The Bench Quartet</artist><length>255</length>` +
    `<source>Load Generator</source><title>${title}</title><track>1</track></tune></item>` +
    `</publish></pubsub></iq>`;
}

/**
 * Gets the roster, as only "interested resources" receive subscription requests (RFC 6121
 * §3.1.3); returns the contacts with a subscription both ways (from an earlier run).
 */
async function requestRoster(client: BenchClient, timeoutMs: number): Promise<Set<string>> {
  const id = client.nextId("roster");
  let roster = "";
  const answered = client.waitFor(
    (raw) => {
      if (!raw.startsWith("<iq") || attribute(raw, "id") !== id) return false;
      roster = raw;
      return attribute(raw, "type") === "result" || new Error(`roster get refused: ${raw}`);
    },
    timeoutMs,
    `the roster of ${client.fullJid}`,
  );
  client.send(`<iq type='get' id='${id}'><query xmlns='${NS.ROSTER}'/></iq>`);
  await answered;
  const mutual = new Set<string>();
  for (const [item] of roster.matchAll(/<item [^>]*>/g)) {
    const jid = attribute(item, "jid");
    if (jid !== undefined && attribute(item, "subscription") === "both") mutual.add(jid);
  }
  return mutual;
}

/**
 * Every contact and the publisher subscribe to each other's presence (RFC 6121 §3.1), each
 * approving the other's request; the same on any server, as accounts only exist there.
 */
async function subscribeMutually(
  bench: Bench<PepPhaseOptions>,
  publisher: BenchClient,
  contacts: BenchClient[],
): Promise<void> {
  const { timeoutMs, concurrency } = bench.options;
  const publisherBare = bareOf(publisher.fullJid);
  const approve = (client: BenchClient) => (raw: string) => {
    if (!raw.startsWith("<presence") || attribute(raw, "type") !== "subscribe") return;
    const from = attribute(raw, "from");
    if (from !== undefined) {
      client.send(`<presence type='subscribed' to='${escapeAttr(bareOf(from))}'/>`);
    }
  };
  publisher.onStanza = approve(publisher);
  for (const contact of contacts) contact.onStanza = approve(contact);
  const mutual = await requestRoster(publisher, timeoutMs);
  await pool(bench, contacts.length, concurrency, async (i) => {
    const contact = contacts[i];
    const contactBare = bareOf(contact.fullJid);
    if (mutual.has(contactBare)) return;
    await requestRoster(contact, timeoutMs);
    const approved = contact.waitFor(
      (raw) => isPresence(raw, "subscribed", publisherBare),
      timeoutMs,
      `${publisherBare}'s approval of ${contactBare}`,
    );
    const approvedBack = publisher.waitFor(
      (raw) => isPresence(raw, "subscribed", contactBare),
      timeoutMs,
      `${contactBare}'s approval of ${publisherBare}`,
    );
    contact.send(`<presence type='subscribe' to='${escapeAttr(publisherBare)}'/>`);
    publisher.send(`<presence type='subscribe' to='${escapeAttr(contactBare)}'/>`);
    await Promise.all([approved, approvedBack]);
  });
}

/**
 * Each contact answers disco#info queries (XEP-0115 §5.4 step 3.1: the server asks for the
 * features behind a new `ver`) and calls `onEvent` with the title of each tune event.
 */
function listenAsContact(
  contact: BenchClient,
  onEvent: (title: string[]) => void,
): void {
  const node = `${CAPS_NODE}#${capsVerOfContacts}`;
  const answer = contactDiscoInfo(node).toString(NS.CLIENT);
  contact.onStanza = (raw) => {
    const title = eventTitle(raw);
    if (title !== undefined) return onEvent(title);
    if (!raw.startsWith("<iq") || attribute(raw, "type") !== "get") return;
    if (!raw.includes(NS.DISCO_INFO)) return;
    const from = attribute(raw, "from");
    const id = attribute(raw, "id") ?? "";
    contact.send(
      `<iq type='result' id='${escapeAttr(id)}'${
        from === undefined ? "" : ` to='${escapeAttr(from)}'`
      }>${answer}</iq>`,
    );
  };
}

/**
 * Setup: subscriptions, then each contact's presence with caps, then warm-up publishes (the
 * first creates the node, XEP-0163 §3) until one reaches every contact, which shows that the
 * server knows every contact's caps. Returns how long it took.
 */
async function setUp(
  bench: Bench<PepPhaseOptions>,
  publisher: BenchClient,
  contacts: BenchClient[],
): Promise<{ subscribeMs: number; capsMs: number; warmUps: number }> {
  const started = performance.now();
  await subscribeMutually(bench, publisher, contacts);
  const subscribed = performance.now();
  const warmSeen = new Int32Array(contacts.length).fill(-1);
  contacts.forEach((contact, c) =>
    listenAsContact(contact, ([tag, seq]) => {
      if (tag === "warm") warmSeen[c] = Math.max(warmSeen[c], Number(seq));
    })
  );
  publisher.onStanza = () => {};
  const presence = `<presence><c xmlns='${NS.CAPS}' hash='sha-1' node='${CAPS_NODE}' ` +
    `ver='${capsVerOfContacts}'/></presence>`;
  for (const contact of contacts) contact.send(presence);
  const until = performance.now() + bench.options.timeoutMs;
  for (let w = 0;; w++) {
    const id = publisher.nextId("warm");
    const answered = publisher.waitFor(
      (raw) => {
        if (!raw.startsWith("<iq") || attribute(raw, "id") !== id) return false;
        return attribute(raw, "type") === "result" || new Error(`publish refused: ${raw}`);
      },
      bench.options.timeoutMs,
      `the answer to warm-up publish ${w}`,
    );
    publisher.send(publishIq(id, `warm ${w} 0`));
    await answered;
    const stepEnd = performance.now() + WARM_UP_STEP_MS;
    while (warmSeen.some((seen) => seen < w) && performance.now() < stepEnd) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (warmSeen.every((seen) => seen >= w)) {
      return {
        subscribeMs: subscribed - started,
        capsMs: performance.now() - subscribed,
        warmUps: w + 1,
      };
    }
    if (performance.now() > until || bench.aborted) {
      const missing = warmSeen.filter((seen) => seen < w).length;
      throw new Error(
        `${missing} of ${contacts.length} contacts got no PEP event after ${w + 1} publishes: ` +
          "does the server have PEP, and did it learn their caps (+notify)?",
      );
    }
  }
}

/** What the phase measured. */
export interface PepResult extends DeliveryFigures {
  contacts: number;
  publishes: number;
  window: number;
  expectedDeliveries: number;
  deliveries: number;
  missing: number;
  /** Fewest and most events one contact received (each should get all). */
  perContactMin: number;
  perContactMax: number;
  outOfOrder: number;
  /** Events a contact received again (Prosody's to the bare JID as well), not counted. */
  duplicates: number;
  errors: number;
  firstError?: string;
  stalled: boolean;
  setupMs: { subscribe: number; caps: number };
  warmUps: number;
  publishesPerSecond: number;
  /** Publish iq round trip (send to result) during the phase. */
  publishRttMsP50: number;
  publishRttMsP99: number;
}

/** Client 1 publishes to clients 2..K+1; see the file comment. */
export async function pepPhase(bench: Bench<PepPhaseOptions>): Promise<PepResult> {
  const { options } = bench;
  const contactCount = options.pepContacts;
  const publishes = options.pepPublishes;
  const window = options.pepWindow;
  const phase = `PEP fan-out to ${contactCount}`;
  const publisher = bench.clients[0];
  const contacts = bench.clients.slice(1, contactCount + 1);
  const setup = await withinPhase(bench, `${phase} (setup)`, setUp(bench, publisher, contacts));

  const expected = contactCount * publishes;
  const latencies = new Float64Array(expected);
  const sentAt = new Float64Array(publishes);
  const rtts = new Float64Array(publishes);
  const remaining = new Uint32Array(publishes).fill(contactCount);
  const counts = new Uint32Array(contactCount);
  // COMPAT: Prosody 0.12 sends each event to the contact's bare JID as well as to its full JID,
  // so the one resource gets it twice: the second is counted apart, not as a delivery.
  const seen = new Uint8Array(expected);
  let duplicates = 0;
  const lastSeq = new Int32Array(contactCount).fill(-1);
  let delivered = 0;
  let answered = 0;
  let outOfOrder = 0;
  let errors = 0;
  let firstError: string | undefined;
  let sent = 0;
  let inFlight = 0;
  let lastAt = 0;
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => finished = resolve);
  const settle = () => {
    if (delivered + errors * contactCount >= expected) finished();
  };

  const pump = () => {
    while (inFlight < window && sent < publishes && !bench.aborted) {
      const ts = performance.now();
      sentAt[sent] = ts;
      publisher.send(publishIq(`pep-${sent}`, `pep ${sent} ${ts.toFixed(3)}`));
      sent++;
      inFlight++;
    }
  };
  /** Publish `seq` is done: every contact has it, or it was refused. */
  const complete = (seq: number) => {
    remaining[seq] = 0;
    inFlight--;
    pump();
  };

  publisher.onStanza = (raw) => {
    if (!raw.startsWith("<iq")) return;
    const id = attribute(raw, "id") ?? "";
    if (!id.startsWith("pep-")) return;
    const seq = Number(id.slice(4));
    rtts[answered++] = performance.now() - sentAt[seq];
    if (attribute(raw, "type") === "error") {
      errors++;
      firstError ??= raw;
      lastAt = performance.now();
      if (remaining[seq] > 0) complete(seq);
      settle();
    }
  };
  contacts.forEach((contact, c) =>
    listenAsContact(contact, ([tag, seqText, tsText]) => {
      if (tag !== "pep") return;
      const at = performance.now();
      const seq = Number(seqText);
      if (seen[c * publishes + seq] === 1) {
        duplicates++;
        return;
      }
      seen[c * publishes + seq] = 1;
      if (delivered < expected) latencies[delivered] = at - Number(tsText);
      delivered++;
      lastAt = at;
      counts[c]++;
      if (seq <= lastSeq[c]) outOfOrder++;
      lastSeq[c] = seq;
      if (remaining[seq] > 0 && --remaining[seq] === 0) {
        inFlight--;
        pump();
      }
      settle();
    })
  );

  const { stalled, used } = await timeDeliveries(bench, phase, {
    kickOff: pump,
    done,
    finished: () => finished(),
    lastAt: () => lastAt,
    delivered: () => delivered,
    detach: () => {
      publisher.onStanza = () => {};
      for (const contact of contacts) contact.onStanza = () => {};
    },
  });
  const rtt = rtts.subarray(0, answered);
  return {
    contacts: contactCount,
    publishes,
    window,
    expectedDeliveries: expected,
    deliveries: delivered,
    missing: expected - delivered,
    perContactMin: Math.min(...counts),
    perContactMax: Math.max(...counts),
    outOfOrder,
    duplicates,
    errors,
    firstError,
    stalled,
    setupMs: { subscribe: round(setup.subscribeMs, 0), caps: round(setup.capsMs, 0) },
    warmUps: setup.warmUps,
    publishesPerSecond: round(sent / (used.wallMs / 1000), 1),
    publishRttMsP50: quantileMs(rtt, 0.5),
    publishRttMsP99: quantileMs(rtt, 0.99),
    ...deliveryFigures(latencies.subarray(0, Math.min(delivered, expected)), delivered, used),
  };
}
