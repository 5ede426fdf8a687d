// Service discovery for the server and for accounts (XEP-0030 §3 info, §4 items). Who may query
// an account is decided in lib/im/account_disco.ts.
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { reply } from "../stanza/reply.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el } from "../xml/element.ts";

/** Options for {@linkcode discoModule}. */
export interface DiscoOptions {
  /** Features listed on every account's disco#info besides the account iq namespaces. */
  accountFeatures?: ReadonlySet<string>;
}

/** disco#info and disco#items on the server's domain and on account bare JIDs. */
export function discoModule(router: Router, options: DiscoOptions = {}): void {
  const accountFeatures = options.accountFeatures ?? new Set<string>();
  router.iq.on("server", "query", NS.DISCO_INFO, (stanza) => {
    const query = stanza.getChild("query", NS.DISCO_INFO)!;
    if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
    if (query.attrs.node) throw new StanzaError("cancel", "item-not-found");
    const features = new Set([
      NS.DISCO_INFO,
      NS.DISCO_ITEMS,
      ...router.iq.namespaces("server"),
      ...router.serverFeatures,
    ]);
    return reply(stanza).append(
      el(
        "query",
        { xmlns: NS.DISCO_INFO },
        el("identity", { category: "server", type: "im", name: "Verona" }),
        ...[...features].sort().map((v) => el("feature", { var: v })),
        ...router.serverInfoForms.map((form) => form()),
      ),
    );
  });

  router.iq.on("server", "query", NS.DISCO_ITEMS, (stanza) => {
    if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
    if (stanza.getChild("query", NS.DISCO_ITEMS)!.attrs.node) {
      throw new StanzaError("cancel", "item-not-found");
    }
    return reply(stanza).append(
      el(
        "query",
        { xmlns: NS.DISCO_ITEMS },
        ...router.components().map((c) => el("item", { jid: c.domain })),
      ),
    );
  });

  // RFC 6120 §10.3.3: the server answers for the account's bare JID.
  router.iq.on("account", "query", NS.DISCO_INFO, (stanza, { origin }) => {
    if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
    if (stanza.getChild("query", NS.DISCO_INFO)!.attrs.node) {
      throw new StanzaError("cancel", "item-not-found");
    }
    const implicit = stanza.attrs.to === undefined && origin !== undefined;
    // Every namespace the server answers on the account's behalf (vCard, last activity, ...).
    const features = new Set([
      NS.DISCO_INFO,
      NS.DISCO_ITEMS,
      ...router.iq.namespaces("account"),
      ...accountFeatures,
    ]);
    return reply(stanza, implicit ? { from: origin.jid.bare } : {}).append(
      el(
        "query",
        { xmlns: NS.DISCO_INFO },
        el("identity", { category: "account", type: "registered" }),
        ...[...features].sort().map((v) => el("feature", { var: v })),
      ),
    );
  });
  // An account publishes no items of its own (no PEP yet): an empty list, not an error.
  router.iq.on("account", "query", NS.DISCO_ITEMS, (stanza, { origin }) => {
    if (stanza.attrs.type !== "get") throw new StanzaError("cancel", "not-allowed");
    if (stanza.getChild("query", NS.DISCO_ITEMS)!.attrs.node) {
      throw new StanzaError("cancel", "item-not-found");
    }
    const implicit = stanza.attrs.to === undefined && origin !== undefined;
    return reply(stanza, implicit ? { from: origin.jid.bare } : {}).append(
      el("query", { xmlns: NS.DISCO_ITEMS }),
    );
  });
}
