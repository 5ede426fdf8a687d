// The proxy's XMPP side, a component at proxy.<domain>: XEP-0065 §4 (disco#info with identity
// proxy/bytestreams and the bytestreams feature, XEP-0030 §3; the <streamhost/> of §4.2 to
// local users, forbidden to others) and §6.3.4 (activation by the Requester, checked against
// the hash the two connections named).
import { JidError, parseJid } from "../jid/jid.ts";
import { type Component, serviceRequest } from "../router/component.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import { streamHash } from "./hash.ts";
import type { ActivationResult } from "./relay.ts";

/** XEP-0065's namespace (kept here: lib/stanza/ns.ts belongs to the core). */
export const BYTESTREAMS = "http://jabber.org/protocol/bytestreams";

/** The name in the proxy's disco#info identity. */
export const PROXY_NAME = "SOCKS5 Bytestreams Service";

/** What the component needs. */
export interface Proxy65ServiceOptions {
  /** The component's domain, also the streamhost's `jid`. */
  domain: string;
  /** The server's domain: only its users may use the proxy. */
  serverDomain: string;
  /** The address and port advertised in <streamhost/>. */
  host: string;
  port: number;
  /** Pairs the hash with the relay; `user` is the requester's bare JID. */
  activate(hash: string, user: string): ActivationResult;
  deliver(stanza: Element): void | Promise<void>;
  log?(line: string): void;
}

/** The component. */
export function createProxy65Service(options: Proxy65ServiceOptions): Component {
  return {
    domain: options.domain,
    handle: (stanza) => handle(options, stanza),
  };
}

function handle(options: Proxy65ServiceOptions, stanza: Element): void | Promise<void> {
  const iq = serviceRequest(stanza, options.domain);
  if (iq === null) return;
  const { type, query } = iq;
  if (query.is("query", NS.DISCO_INFO) && type === "get") {
    if (query.attrs.node) throw new StanzaError("cancel", "item-not-found");
    return options.deliver(
      reply(stanza).append(
        el(
          "query",
          { xmlns: NS.DISCO_INFO },
          el("identity", { category: "proxy", type: "bytestreams", name: PROXY_NAME }),
          el("feature", { var: BYTESTREAMS }),
          el("feature", { var: NS.DISCO_INFO }),
          el("feature", { var: NS.DISCO_ITEMS }),
        ),
      ),
    );
  }
  if (query.is("query", NS.DISCO_ITEMS) && type === "get") {
    if (query.attrs.node) throw new StanzaError("cancel", "item-not-found");
    return options.deliver(reply(stanza).append(el("query", { xmlns: NS.DISCO_ITEMS })));
  }
  if (!query.is("query", BYTESTREAMS)) throw new StanzaError("cancel", "service-unavailable");
  const from = parseJid(stanza.attrs.from!);
  // §4: who may not use the proxy gets forbidden. Users of this server only: the relay's
  // bandwidth is theirs (nothing federates today; this holds once something does).
  if (from.domain !== options.serverDomain || from.local === "") {
    throw new StanzaError("auth", "forbidden");
  }
  if (type === "get") {
    return options.deliver(
      reply(stanza).append(
        el(
          "query",
          { xmlns: BYTESTREAMS },
          el("streamhost", {
            jid: options.domain,
            host: options.host,
            port: String(options.port),
          }),
        ),
      ),
    );
  }
  return activate(options, stanza, query);
}

/** §6.3.4: `<query sid><activate>target</activate></query>` from the Requester. */
function activate(
  options: Proxy65ServiceOptions,
  stanza: Element,
  query: Element,
): void | Promise<void> {
  const sid = query.attrs.sid;
  const activate = query.getChild("activate");
  const targetText = activate?.getText().trim();
  if (!sid || !targetText) {
    throw new StanzaError("modify", "bad-request", { text: "Expected a sid and <activate/>" });
  }
  let target: string;
  try {
    target = parseJid(targetText).full; // prepped, as §5.3.2 hashes them
  } catch (error) {
    if (!(error instanceof JidError)) throw error;
    throw new StanzaError("modify", "jid-malformed");
  }
  const requester = stanza.attrs.from!;
  const hash = streamHash(sid, requester, target);
  const result = options.activate(hash, parseJid(requester).bare);
  switch (result) {
    case "activated":
      options.log?.(`proxy65: ${requester} activated ${hash} to ${target}`);
      return options.deliver(reply(stanza));
    case "unknown":
      // Also what anyone but the requester gets: their JID makes another hash.
      throw new StanzaError("modify", "item-not-found", {
        text: "No connection for this stream at the proxy",
      });
    case "unpaired":
      throw new StanzaError("cancel", "not-allowed", {
        text: "The requester (you) is not connected to the proxy",
      });
    case "active":
      throw new StanzaError("cancel", "not-allowed", { text: "The stream is already active" });
    case "limit":
      throw new StanzaError("wait", "resource-constraint", {
        text: "Too many active streams; try again later",
      });
  }
}
