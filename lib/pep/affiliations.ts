// PubSub affiliations on a PEP service (XEP-0060 §4.1): the account owns every node; the owner
// may make other bare JIDs publishers, members or outcasts of a node (§8.9 "Manage
// Affiliations", owner retrieval §8.9.1 and modification §8.9.2), and anyone may ask for their
// own affiliations (§5.7 "Retrieve Affiliations"). Members and publishers may retrieve items and
// receive notifications whatever the access model (so a whitelist node's list is its members),
// outcasts never; publishers may also publish to and retract from an existing node.
import { parseJid } from "../jid/jid.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import { pubsubError } from "./node_config.ts";

/** The affiliations stored per node; "owner" is the account's alone and "none" is not stored. */
export type Affiliation = "publisher" | "member" | "outcast";

/** Every affiliation a JID may have with a node of this service. */
export type AnyAffiliation = Affiliation | "owner" | "none";

const STORED: readonly string[] = ["publisher", "member", "outcast"];

/**
 * Reads an owner's `<affiliations/>` set (§8.9.2): the delta of bare JID to affiliation. The whole
 * request fails when one entry is invalid (§8.9.2.4), so nothing is applied then. An entry without
 * an `affiliation` changes nothing. The owner's own affiliation cannot change, and nobody else
 * can become an owner; publish-only is not supported (§8.9.2.4.2).
 */
export function readAffiliationChanges(
  affiliations: Element,
  owner: string,
): Map<string, Affiliation | "none"> {
  const changes = new Map<string, Affiliation | "none">();
  for (const entry of affiliations.getChildren("affiliation")) {
    const affiliation = entry.attrs.affiliation;
    let jid: string;
    try {
      jid = parseJid(entry.attrs.jid ?? "").bare;
    } catch {
      throw new StanzaError("modify", "not-acceptable", {
        text: `Invalid affiliation JID "${entry.attrs.jid ?? ""}"`,
      });
    }
    if (affiliation === undefined) continue;
    if (jid === owner) {
      if (affiliation === "owner") continue;
      throw new StanzaError("modify", "not-acceptable", {
        text: "The account's owner stays the owner of its nodes",
      });
    }
    if (affiliation === "publish-only") {
      throw pubsubError("cancel", "feature-not-implemented", "unsupported", undefined, {
        feature: "publish-only-affiliation",
      });
    }
    if (affiliation !== "none" && !STORED.includes(affiliation)) {
      throw new StanzaError("modify", "not-acceptable", {
        text: affiliation === "owner"
          ? "Only the account owns its nodes"
          : `Unknown affiliation "${affiliation}"`,
      });
    }
    changes.set(jid, affiliation as Affiliation | "none");
  }
  return changes;
}

/** An owner's `<affiliations node=…/>` result (§8.9.1.2): the owner first, never "none". */
export function ownerAffiliationsElement(
  node: string,
  owner: string,
  stored: readonly { jid: string; affiliation: Affiliation }[],
): Element {
  return el(
    "affiliations",
    { node },
    el("affiliation", { jid: owner, affiliation: "owner" }),
    ...stored.map(({ jid, affiliation }) => el("affiliation", { jid, affiliation })),
  );
}

/** An entity's own `<affiliations/>` result (§5.7): one per node, empty when there is none. */
export function entityAffiliationsElement(
  mine: readonly { node: string; affiliation: AnyAffiliation }[],
): Element {
  return el(
    "affiliations",
    {},
    ...mine.map(({ node, affiliation }) => el("affiliation", { node, affiliation })),
  );
}
