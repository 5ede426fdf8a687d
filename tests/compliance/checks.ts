// Server-side compliance checks, after those server admins use to rate a server for today's
// mobile and desktop clients (the Conversations Compliance Tester and the XSF's Compliance Suites,
// XEP-0479): each looks, as a logged-in client, for what a client would look for before using
// a feature — a stream feature, a disco#info feature or identity on the server, the account, a
// service or a fresh room. None changes anything but a temporary room it creates and leaves.
import { ReplayClient } from "../../lib/replay/client.ts";
import { NS } from "../../lib/stanza/ns.ts";
import { el, type Element } from "../../lib/xml/element.ts";
import { preflightAllowsPut, probeUpload, type UploadProbe } from "./upload.ts";

/** What every check can look at, fetched once. */
export interface Probe {
  client: ReplayClient;
  /** Stream features after authentication, and before it. */
  features: Element;
  featuresBeforeAuth: Element;
  server: DiscoInfo;
  account: DiscoInfo;
  /** disco#info of every item of the server's disco#items. */
  services: { jid: string; info: DiscoInfo }[];
  /** disco#info of a room created for the checks; undefined when there is no MUC service. */
  room: DiscoInfo | undefined;
  /**
   * Whether the account logged in on the direct-TLS port given (XEP-0368 §3: TLS from the first
   * byte with SNI and ALPN `xmpp-client`, and no STARTTLS offered inside).
   */
  directTls: boolean;
  /** The slot and CORS preflight of the first upload service; undefined without one. */
  upload: UploadProbe | undefined;
}

/** A disco#info answer, reduced to what checks ask. */
export interface DiscoInfo {
  features: Set<string>;
  identities: { category: string; type: string }[];
  /** The FORM_TYPEs of its extended information forms (XEP-0128). */
  forms: Set<string>;
}

/** One check: a name, the XEP it is about, and whether the probe shows it. */
export interface Check {
  xep: string;
  name: string;
  /** The #8 set: what a multi-device/mobile client needs from the server itself. */
  core: boolean;
  passes(probe: Probe): boolean;
}

const has = (info: DiscoInfo | undefined, feature: string) => info?.features.has(feature) ?? false;
const hasIdentity = (info: DiscoInfo | undefined, category: string, type?: string) =>
  info?.identities.some((i) =>
    i.category === category && (type === undefined || i.type === type)
  ) ??
    false;
const service = (probe: Probe, test: (info: DiscoInfo) => boolean) =>
  probe.services.some(({ info }) => test(info));
const streamFeature = (features: Element, name: string, ns: string) =>
  features.getChild(name, ns) !== undefined;

/** The checks, in the order they are printed. */
export const CHECKS: readonly Check[] = [
  {
    xep: "XEP-0115",
    name: "Entity Capabilities (server)",
    core: true,
    passes: (p) =>
      streamFeature(p.features, "c", "http://jabber.org/protocol/caps") ||
      streamFeature(p.featuresBeforeAuth, "c", "http://jabber.org/protocol/caps"),
  },
  {
    xep: "XEP-0237",
    name: "Roster Versioning",
    core: true,
    passes: (p) =>
      streamFeature(p.features, "ver", "urn:xmpp:features:rosterver") ||
      streamFeature(p.featuresBeforeAuth, "ver", "urn:xmpp:features:rosterver"),
  },
  {
    xep: "XEP-0198",
    name: "Stream Management",
    core: true,
    passes: (p) => streamFeature(p.features, "sm", "urn:xmpp:sm:3"),
  },
  {
    xep: "XEP-0352",
    name: "Client State Indication",
    core: true,
    passes: (p) => streamFeature(p.features, "csi", "urn:xmpp:csi:0"),
  },
  {
    xep: "XEP-0163",
    name: "Personal Eventing Protocol",
    core: true,
    passes: (p) => hasIdentity(p.account, "pubsub", "pep"),
  },
  {
    xep: "XEP-0384",
    name: "OMEMO Encryption (PEP publish-options)",
    core: true,
    passes: (p) =>
      hasIdentity(p.account, "pubsub", "pep") &&
      has(p.account, "http://jabber.org/protocol/pubsub#publish-options"),
  },
  {
    xep: "XEP-0313",
    name: "Message Archive Management",
    core: true,
    passes: (p) => has(p.account, "urn:xmpp:mam:2"),
  },
  {
    xep: "XEP-0313",
    name: "Message Archive Management (MUC)",
    core: true,
    passes: (p) => has(p.room, "urn:xmpp:mam:2"),
  },
  {
    xep: "XEP-0398",
    name: "User Avatar to vCard-Based Avatars Conversion",
    core: true,
    passes: (p) => has(p.account, "urn:xmpp:pep-vcard-conversion:0"),
  },
  {
    xep: "XEP-0411",
    name: "Bookmarks Conversion",
    core: true,
    passes: (p) =>
      has(p.account, "urn:xmpp:bookmarks:1#compat") ||
      has(p.account, "urn:xmpp:bookmarks-conversion:0"),
  },
  {
    xep: "XEP-0153",
    name: "vCard-based Avatars (MUC)",
    core: true,
    passes: (p) => has(p.room, "vcard-temp"),
  },
  {
    xep: "XEP-0280",
    name: "Message Carbons",
    core: false,
    passes: (p) => has(p.server, "urn:xmpp:carbons:2"),
  },
  {
    xep: "XEP-0191",
    name: "Blocking Command",
    core: false,
    passes: (p) => has(p.server, "urn:xmpp:blocking"),
  },
  {
    xep: "XEP-0045",
    name: "Multi-User Chat",
    core: false,
    passes: (p) => service(p, (info) => hasIdentity(info, "conference", "text")),
  },
  {
    xep: "XEP-0077",
    name: "In-Band Registration",
    core: false,
    passes: (p) =>
      streamFeature(p.featuresBeforeAuth, "register", "http://jabber.org/features/iq-register"),
  },
  {
    xep: "XEP-0157",
    name: "Contact Addresses",
    core: false,
    passes: (p) => p.server.forms.has("http://jabber.org/network/serverinfo"),
  },
  {
    xep: "XEP-0363",
    name: "HTTP File Upload",
    core: false,
    // A slot for a small file, and a CORS preflight of its PUT URL that lets a web page upload.
    passes: (p) =>
      service(p, (info) => has(info, "urn:xmpp:http:upload:0")) &&
      p.upload?.putUrl != null && preflightAllowsPut(p.upload.preflight),
  },
  {
    xep: "XEP-0065",
    name: "SOCKS5 Bytestreams proxy",
    core: false,
    passes: (p) => service(p, (info) => hasIdentity(info, "proxy", "bytestreams")),
  },
  {
    xep: "XEP-0357",
    name: "Push Notifications",
    core: false,
    passes: (p) => has(p.account, "urn:xmpp:push:0"),
  },
  {
    xep: "XEP-0215",
    name: "External Service Discovery (STUN/TURN)",
    core: false,
    passes: (p) => has(p.server, NS.EXTDISCO) || has(p.server, NS.EXTDISCO_1),
  },
  {
    xep: "XEP-0368",
    name: "XMPP over direct TLS",
    core: false,
    passes: (p) => p.directTls,
  },
];

/** Where to connect and as whom. */
export interface ProbeOptions {
  host: string;
  port: number;
  jid: string;
  password: string;
  /** A port where the server speaks TLS from the first byte, if it has one. */
  directTlsPort?: number;
  timeoutMs?: number;
}

/** Logs in, asks what every check needs, and leaves the room it made. */
export async function probe(options: ProbeOptions): Promise<Probe> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const client = new ReplayClient();
  await client.connect({ ...options, timeoutMs });
  try {
    const domain = client.fullJid.split("/")[0].split("@")[1];
    const bare = client.fullJid.split("/")[0];
    let counter = 0;
    const iq = async (to: string, type: string, payload: Element): Promise<Element> => {
      const id = `compliance-${++counter}`;
      client.send(el("iq", { type, id, to }, payload));
      const { stanza } = await client.waitForStanza({
        match: (s) => s.name === "iq" && s.attrs.id === id,
        timeoutMs,
      });
      return stanza;
    };
    const info = async (to: string): Promise<DiscoInfo> =>
      discoInfo(await iq(to, "get", el("query", { xmlns: NS.DISCO_INFO })));
    const server = await info(domain);
    const account = await info(bare);
    const items = await iq(domain, "get", el("query", { xmlns: NS.DISCO_ITEMS }));
    const services = [];
    for (const item of items.getChild("query", NS.DISCO_ITEMS)?.getChildren("item") ?? []) {
      if (item.attrs.jid !== undefined) {
        services.push({ jid: item.attrs.jid, info: await info(item.attrs.jid) });
      }
    }
    const muc = services.find(({ info }) => hasIdentity(info, "conference", "text"));
    let room: DiscoInfo | undefined;
    if (muc !== undefined) {
      const roomJid = `compliance-${crypto.randomUUID().slice(0, 8)}@${muc.jid}`;
      client.send(el("presence", { to: `${roomJid}/checker` }, el("x", { xmlns: NS.MUC })));
      const { stanza: joined } = await client.waitForStanza({
        match: (s) => s.name === "presence" && s.attrs.from === `${roomJid}/checker`,
        timeoutMs,
      });
      // XEP-0045 §10.1.2: a new room is locked until its owner accepts the default configuration.
      const created = joined.getChild("x", NS.MUC_USER)?.getChildren("status")
        .some((status) => status.attrs.code === "201");
      if (created) {
        await iq(
          roomJid,
          "set",
          el("query", { xmlns: NS.MUC_OWNER }, el("x", { xmlns: "jabber:x:data", type: "submit" })),
        );
      }
      room = await info(roomJid);
      client.send(el("presence", { to: `${roomJid}/checker`, type: "unavailable" }));
    }
    const uploadService = services.find(({ info }) => has(info, "urn:xmpp:http:upload:0"));
    const upload = uploadService === undefined
      ? undefined
      : await probeUpload(iq, uploadService.jid, timeoutMs);
    const directTls = options.directTlsPort === undefined
      ? false
      : await directTlsLogin({ ...options, port: options.directTlsPort, timeoutMs });
    return {
      client,
      features: client.features,
      featuresBeforeAuth: client.featuresBeforeAuth,
      server,
      account,
      services,
      room,
      directTls,
      upload,
    };
  } finally {
    await client.disconnect(timeoutMs).catch(() => client.close());
  }
}

function discoInfo(answer: Element): DiscoInfo {
  const query = answer.attrs.type === "result"
    ? answer.getChild("query", NS.DISCO_INFO)
    : undefined;
  const forms = new Set<string>();
  for (const form of query?.getChildren("x", "jabber:x:data") ?? []) {
    const type = form.getChildren("field").find((field) => field.attrs.var === "FORM_TYPE");
    const value = type?.getChildText("value");
    if (value !== undefined) forms.add(value.trim());
  }
  return {
    features: new Set(query?.getChildren("feature").map((f) => f.attrs.var ?? "") ?? []),
    identities: query?.getChildren("identity").map((i) => ({
      category: i.attrs.category ?? "",
      type: i.attrs.type ?? "",
    })) ?? [],
    forms,
  };
}

/** Whether the account logs in over direct TLS on `options.port`, offered no STARTTLS there. */
async function directTlsLogin(options: ProbeOptions & { timeoutMs: number }): Promise<boolean> {
  const client = new ReplayClient();
  try {
    await client.connect({ ...options, directTls: true });
    return client.featuresBeforeAuth.getChild("starttls", NS.TLS) === undefined;
  } catch {
    return false;
  } finally {
    await client.disconnect(options.timeoutMs).catch(() => client.close());
  }
}

/** The checks with their outcome for one probe. */
export function evaluate(probe: Probe): { check: Check; passed: boolean }[] {
  return CHECKS.map((check) => ({ check, passed: check.passes(probe) }));
}
