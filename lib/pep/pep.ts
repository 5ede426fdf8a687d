// Personal Eventing Protocol (XEP-0163): every account a pubsub service (XEP-0060) at its bare
// JID. Publish with auto-create (XEP-0060 §7.1, §7.1.4) and publish-options preconditions
// (§7.1.5, XEP-0223), retract (§7.2), item retrieval (§6.5) with max_items (§6.5.7) and RSM
// paging (§6.5.4, XEP-0059), explicit subscriptions (§6.1, §6.2, §5.6) and their options (§6.3:
// see subscription_options.ts), affiliations (§4.1,
// §5.7, §8.9: see affiliations.ts), node creation (§8.1, instant nodes §8.1.2), configuration
// (§8.2), default configuration (§8.3), deletion (§8.4) and purge (§8.5), access
// models (§4.5) for items and notifications, notifications (§7.1.2) filtered by the recipients'
// caps (XEP-0163 §4.2–4.3), the last item on presence and to new subscribers (§4.3.4), and the
// account's disco#info identity pubsub/pep with its items (XEP-0163 §6).
import type { CapsApi } from "../caps/mod.ts";
import type { BlockCheck } from "../im/blocklists.ts";
import { hasFrom, hasTo, type Rosters } from "../im/rosters.ts";
import { buildForm } from "../forms/data_form.ts";
import { parseJid } from "../jid/jid.ts";
import { accountReply, accountTarget } from "../modules/account_iq.ts";
import { Priority } from "../router/hooks.ts";
import type { IqContext, IqHandler } from "../router/iq.ts";
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";
import {
  applyConfigForm,
  configForm,
  type ConfigLimits,
  defaultConfig,
  type NodeConfig,
  preconditionNotMet,
  pubsubError,
  readPublishOptions,
} from "./node_config.ts";
import {
  type AnyAffiliation,
  entityAffiliationsElement,
  ownerAffiliationsElement,
  readAffiliationChanges,
} from "./affiliations.ts";
import { pageSet, readPageRequest } from "./items_page.ts";
import {
  DEFAULT_SUBSCRIPTION_OPTIONS,
  readSubscriptionOptions,
  subscriptionOptionsForm,
} from "./subscription_options.ts";
import type { PepStore, StoredItem } from "./pep_store.ts";

/**
 * The pubsub features this service implements (XEP-0060 §10), advertised on accounts; multi-items
 * as pubsub#max_items may be set above one (up to the server's bound).
 */
export const PEP_FEATURES: readonly string[] = [
  "access-open",
  "access-presence",
  "access-roster",
  "access-whitelist",
  "auto-create",
  "auto-subscribe",
  "config-node",
  "config-node-max",
  "create-and-configure",
  "create-nodes",
  "delete-items",
  "delete-nodes",
  "filtered-notifications",
  "instant-nodes",
  "item-ids",
  "last-published",
  "member-affiliation",
  "meta-data",
  "modify-affiliations",
  "multi-items",
  "outcast-affiliation",
  "persistent-items",
  "presence-notifications",
  "presence-subscribe",
  "publish",
  "publish-options",
  "publisher-affiliation",
  "purge-nodes",
  "retract-items",
  "retrieve-affiliations",
  "retrieve-default",
  "retrieve-items",
  "retrieve-subscriptions",
  "rsm",
  "subscribe",
  "subscription-options",
].map((feature) => `${NS.PUBSUB}#${feature}`);

/** The server's bounds on PEP. */
export interface PepLimits extends ConfigLimits {
  /** Nodes per account. */
  maxNodes: number;
  /** Largest payload, in bytes of XML. */
  maxPayloadBytes: number;
  /** Affiliations (other than the owner's) per node. */
  maxAffiliations: number;
  /** The largest page of an item retrieval with RSM, also its size when none is asked for. */
  maxPageItems: number;
}

/** Options for {@linkcode pepModule}. */
export interface PepOptions {
  store: PepStore;
  rosters: Rosters;
  caps: CapsApi;
  /** Without the blocking module, nobody is blocked. */
  blocklists?: BlockCheck;
  limits: PepLimits;
  /** The clock (Unix ms), for tests. */
  now?: () => number;
  log?: (line: string) => void;
}

/** A change an account's owner made to one of its nodes through the pubsub protocol. */
export interface PepChange {
  username: string;
  node: string;
  kind: "publish" | "retract";
  id: string;
  /** The published payload. */
  payload?: Element;
}

/** What other modules may do with PEP (conversions such as XEP-0411). */
export interface PepApi {
  /**
   * Publishes as the owner, with notifications, creating the node with `config` over the
   * defaults when it is missing; listeners of {@linkcode PepApi.onChange} are not called.
   */
  publish(
    username: string,
    node: string,
    id: string,
    payload: Element,
    config?: Partial<NodeConfig>,
  ): void;
  /** Retracts with notification; false if there was no such item. Listeners are not called. */
  retract(username: string, node: string, id: string): boolean;
  /** The node's configuration, or undefined when it does not exist. */
  node(username: string, node: string): NodeConfig | undefined;
  /** The node's items, oldest first (none when it does not exist). */
  items(username: string, node: string): StoredItem[];
  /** Called after each publish and retract an owner makes through the pubsub protocol. */
  onChange(listener: (change: PepChange) => void): void;
}

/** Installs the PEP service on every account's bare JID. */
export function pepModule(router: Router, options: PepOptions): PepApi {
  const { store, rosters, caps, limits } = options;
  const now = options.now ?? Date.now;
  const domain = router.domain;
  const blocked = (username: string, contact: string) =>
    options.blocklists?.blocks(username, contact) ?? false;
  const keep = (config: NodeConfig) =>
    config.persistItems ? (config.maxItems === "max" ? limits.maxItems : config.maxItems) : 0;

  /** A bare JID's affiliation with a node (§4.1); the account's own is "owner". */
  const affiliationOf = (username: string, node: string, bare: string): AnyAffiliation =>
    bare === `${username}@${domain}` ? "owner" : store.affiliation(username, node, bare) ?? "none";

  /**
   * Whether `requester` (bare JID) may retrieve items and get notifications: its affiliation
   * first (§4.1: members and publishers may, outcasts may not), then the access model (§4.5).
   */
  const mayAccess = (
    username: string,
    requester: string,
    node: string,
    config: NodeConfig,
  ): boolean => {
    if (requester === `${username}@${domain}`) return true;
    if (blocked(username, requester)) return false;
    const affiliation = store.affiliation(username, node, requester);
    if (affiliation === "outcast") return false;
    if (affiliation !== undefined) return true;
    switch (config.accessModel) {
      case "open":
        return true;
      case "presence":
        return hasFrom(rosters.item(username, requester));
      case "roster": {
        const item = rosters.item(username, requester);
        return item !== undefined &&
          item.groups.some((group) => config.rosterGroupsAllowed.includes(group));
      }
      case "whitelist":
        return false;
    }
  };
  /**
   * XEP-0060 §6.5.9.6–6.5.9.8: the error for an entity the access model excludes; an outcast is
   * forbidden (§6.1.3.8).
   */
  const accessError = (username: string, node: string, requester: string, config: NodeConfig) => {
    if (store.affiliation(username, node, requester) === "outcast") {
      return new StanzaError("auth", "forbidden", { text: "Outcasts may not access this node" });
    }
    switch (config.accessModel) {
      case "presence":
        return pubsubError("auth", "not-authorized", "presence-subscription-required");
      case "roster":
        return pubsubError("auth", "not-authorized", "not-in-roster-group");
      default:
        return pubsubError("cancel", "not-allowed", "closed-node");
    }
  };

  /**
   * The JIDs to notify for `node` (XEP-0163 §4): the full JIDs of the owner's and its presence
   * subscribers' available resources whose caps ask for `node+notify`, and the explicit
   * subscribers (XEP-0060 §6.1) the access model still admits, once each: a bare subscription
   * only when none of that account's resources is notified already (XEP-0163 §4.3.2).
   */
  const recipients = (username: string, node: string, config: NodeConfig): string[] => {
    const owner = `${username}@${domain}`;
    const found = new Set<string>();
    const accounts = new Set<string>();
    const add = (bare: string) => {
      for (const session of router.sessionsOf(bare)) {
        if (session.presence !== null && caps.wantsNotify(session.jid.full, node)) {
          found.add(session.jid.full);
          accounts.add(bare);
        }
      }
    };
    add(owner);
    for (const [contact, item] of rosters.items(username)) {
      if (!hasFrom(item) || !contact.endsWith("@" + domain)) continue;
      if (mayAccess(username, contact, node, config)) add(contact);
    }
    // Remote contacts (federation): the resources whose available presence reached the owner.
    for (const full of caps.remotesAvailableTo(owner)) {
      const bare = bareOf(full);
      if (!caps.wantsNotify(full, node) || !hasFrom(rosters.item(username, bare))) continue;
      if (!mayAccess(username, bare, node, config)) continue;
      found.add(full);
      accounts.add(bare);
    }
    for (const jid of store.subscribers(username, node)) {
      const bare = jid.split("/")[0];
      if (!mayAccess(username, bare, node, config)) continue;
      if (jid === bare ? !accounts.has(bare) : !found.has(jid)) found.add(jid);
    }
    return [...found];
  };

  const send = (username: string, to: string, child: Element, delay?: number) => {
    const message = el(
      "message",
      { from: `${username}@${domain}`, to, type: "headline", id: crypto.randomUUID() },
      el("event", { xmlns: NS.PUBSUB_EVENT }, child),
      delay !== undefined &&
        el("delay", {
          xmlns: NS.DELAY,
          stamp: new Date(delay).toISOString().replace(/\.\d+Z$/, "Z"),
        }),
    );
    const routed = router.route(message);
    if (routed instanceof Promise) routed.catch(() => {});
  };
  // §7.1.2.3: the publisher, the owner unless a publisher affiliate; Prosody names it too.
  const itemElement = (username: string, item: StoredItem, config: NodeConfig) =>
    el(
      "item",
      { id: item.id, publisher: item.publisher ?? `${username}@${domain}` },
      config.deliverPayloads && item.payload.clone(),
    );
  const broadcast = (username: string, jids: string[], child: Element) => {
    for (const jid of jids) send(username, jid, child.clone());
  };

  const handle: IqHandler = (stanza, context) => {
    const target = accountTarget(stanza, context);
    const requester = requesterOf(stanza, context);
    const pubsub = stanza.elements()[0];
    const owner = pubsub.attrs.xmlns === NS.PUBSUB_OWNER;
    // Beside the action: <publish-options/>, <configure/> (with <create/>), <options/> (with
    // <subscribe/>, or alone the action, §6.3), an RSM <set/> (with <items/>).
    const children = pubsub.elements().filter((child) => child.attrs.xmlns !== NS.RSM);
    const action = owner
      ? children[0]
      : children.find((child) =>
        !["publish-options", "configure", "options"].includes(child.name)
      ) ??
        children.find((child) => child.name === "options");
    if (action === undefined) {
      throw new StanzaError("modify", "bad-request", { text: "No pubsub action" });
    }
    const type = stanza.attrs.type;
    const node = action.attrs.node;
    const result = (...given: (Element | false)[]) => {
      const children = given.filter((child) => child !== false);
      return accountReply(stanza, context).append(
        children.length > 0 &&
          el("pubsub", { xmlns: owner ? NS.PUBSUB_OWNER : NS.PUBSUB }, ...children),
      );
    };
    const needOwner = () => {
      if (!target.own) {
        throw new StanzaError("auth", "forbidden", {
          text: "Only the account's owner may do this",
        });
      }
    };
    /** The owner, or a publisher affiliate of an existing node (§4.1: publish, retract). */
    const needPublisher = (name: string) => {
      if (target.own) return;
      if (
        store.node(target.username, name) === undefined ||
        affiliationOf(target.username, name, requester) !== "publisher"
      ) needOwner();
    };
    const needNode = (): string => {
      if (node === undefined || node === "") {
        throw pubsubError("modify", "bad-request", "nodeid-required");
      }
      return node;
    };
    const existing = (name: string): NodeConfig => {
      const config = store.node(target.username, name);
      if (config === undefined) throw new StanzaError("cancel", "item-not-found");
      return config;
    };
    const key = `${owner ? "owner " : ""}${type} ${action.name}`;
    switch (key) {
      case "set publish": {
        const name = needNode();
        needPublisher(name);
        const published = publish(
          target.username,
          name,
          action,
          pubsub,
          target.own ? undefined : requester,
        );
        const id = published.getChild("item")!.attrs.id!;
        const payload = action.getChild("item")!.elements()[0];
        changed({ username: target.username, node: name, kind: "publish", id, payload });
        return result(published);
      }
      case "set retract": {
        const name = needNode();
        needPublisher(name);
        const id = action.getChild("item")?.attrs.id;
        if (id === undefined) throw pubsubError("modify", "bad-request", "item-required");
        const config = existing(name);
        if (!store.retract(target.username, name, id)) {
          throw new StanzaError("cancel", "item-not-found");
        }
        const notify = action.attrs.notify === "true" || action.attrs.notify === "1";
        if (notify || config.notifyRetract) notifyRetract(target.username, name, config, id);
        changed({ username: target.username, node: name, kind: "retract", id });
        return result();
      }
      case "get items": {
        const name = needNode();
        const config = existing(name);
        if (!mayAccess(target.username, requester, name, config)) {
          throw accessError(target.username, name, requester, config);
        }
        const ids = action.getChildren("item").map((item) => item.attrs.id).filter((id) =>
          id !== undefined
        );
        const request = ids.length > 0 ? undefined : readPageRequest(pubsub, limits.maxPageItems);
        let items: StoredItem[];
        if (request !== undefined) {
          // §6.5.4: a page with its RSM set; max_items does not apply then.
          const page = store.page(target.username, name, request.start, request.max);
          if (page === undefined) {
            throw new StanzaError("cancel", "item-not-found", {
              text: "No such item to page from",
            });
          }
          return result(
            el(
              "items",
              { node: name },
              ...page.items.map((item) => el("item", { id: item.id }, item.payload)),
            ),
            pageSet(page),
          );
        } else if (ids.length > 0) items = store.itemsById(target.username, name, ids);
        else {
          const max = action.attrs.max_items;
          if (max !== undefined && !/^[0-9]{1,9}$/.test(max)) {
            throw new StanzaError("modify", "bad-request", { text: "Invalid max_items" });
          }
          items = store.items(target.username, name, max === undefined ? undefined : Number(max));
        }
        return result(
          el(
            "items",
            { node: name },
            ...items.map((item) => el("item", { id: item.id }, item.payload)),
          ),
        );
      }
      case "set create": {
        needOwner();
        // §8.1.2: without a NodeID the service names the node ("instant-nodes").
        const instant = node === undefined || node === "";
        const name = instant ? crypto.randomUUID() : node;
        if (store.node(target.username, name) !== undefined) {
          throw new StanzaError("cancel", "conflict", { text: "The node exists" });
        }
        const form = pubsub.getChild("configure")?.getChild("x", NS.DATA_FORMS);
        const config = form === undefined
          ? defaultConfig()
          : applyConfigForm(defaultConfig(), form, limits);
        createNode(target.username, name, config);
        return instant ? result(el("create", { node: name })) : result();
      }
      case "set subscribe": {
        // XEP-0060 §6.1: an explicit subscription, of the requester's own bare or full JID.
        const name = needNode();
        const jid = subscriberJid(action, requester);
        const config = existing(name);
        if (!mayAccess(target.username, requester, name, config)) {
          throw accessError(target.username, name, requester, config);
        }
        // §6.3.7: options with the subscription, checked before subscribing.
        const given = pubsub.getChild("options");
        if (
          given !== undefined && (given.attrs.node !== undefined || given.attrs.jid !== undefined)
        ) {
          throw new StanzaError("modify", "bad-request", {
            text: "<options/> beside <subscribe/> takes no node or jid",
          });
        }
        const options = given === undefined ? undefined : readSubscriptionOptions(
          given.getChild("x", NS.DATA_FORMS),
          DEFAULT_SUBSCRIPTION_OPTIONS,
        );
        store.subscribe(target.username, name, jid);
        if (options !== undefined) {
          store.setSubscriptionOptions(target.username, name, jid, options);
        }
        const reply = result(
          el("subscription", { node: name, jid, subscription: "subscribed" }),
          options !== undefined && el("options", {}, subscriptionOptionsForm(options, "result")),
        );
        if (config.sendLastPublishedItem !== "never" && config.deliverNotifications) {
          const [last] = store.items(target.username, name, 1);
          // §6.1.7: the last item follows the subscription result, which the router sends once
          // this handler has returned.
          if (last !== undefined) {
            setTimeout(() =>
              send(
                target.username,
                jid,
                el("items", { node: name }, itemElement(target.username, last, config)),
                last.published,
              ), 0);
          }
        }
        return reply;
      }
      case "set unsubscribe": {
        // §6.2.
        const name = needNode();
        const jid = subscriberJid(action, requester);
        existing(name);
        if (!store.unsubscribe(target.username, name, jid)) {
          throw pubsubError("cancel", "unexpected-request", "not-subscribed");
        }
        return result();
      }
      case "get options":
      case "set options": {
        // §6.3.2, §6.3.5: the options of one's own subscription.
        const name = needNode();
        const jid = subscriberJid(action, requester);
        existing(name);
        const current = store.subscriptionOptions(target.username, name, jid);
        if (current === undefined) {
          throw pubsubError("cancel", "unexpected-request", "not-subscribed");
        }
        if (type === "get") {
          return result(
            el("options", { node: name, jid }, subscriptionOptionsForm(current, "form")),
          );
        }
        const next = readSubscriptionOptions(action.getChild("x", NS.DATA_FORMS), current);
        store.setSubscriptionOptions(target.username, name, jid, next);
        return result();
      }
      case "get subscriptions": {
        // §5.6: the requester's own subscriptions on this service.
        const mine = store.subscriptions(target.username).filter(({ node: name, jid }) =>
          jid.split("/")[0] === requester && (node === undefined || name === node)
        );
        return result(
          el(
            "subscriptions",
            node === undefined ? {} : { node },
            ...mine.map(({ node: name, jid }) =>
              el("subscription", { node: name, jid, subscription: "subscribed" })
            ),
          ),
        );
      }
      case "get affiliations": {
        // §5.7: the requester's own affiliations, all nodes or one.
        const own = requester === target.bare;
        const mine = own
          ? store.nodes(target.username).map(({ node: name }) => ({
            node: name,
            affiliation: "owner" as const,
          }))
          : store.affiliationsOf(target.username, requester);
        return result(
          entityAffiliationsElement(
            mine.filter(({ node: name }) => node === undefined || name === node),
          ),
        );
      }
      case "owner get affiliations": {
        // §8.9.1.
        needOwner();
        const name = needNode();
        existing(name);
        return result(
          ownerAffiliationsElement(name, target.bare, store.affiliations(target.username, name)),
        );
      }
      case "owner set affiliations": {
        // §8.9.2: a delta, all of it or nothing; outcasts lose their subscriptions.
        needOwner();
        const name = needNode();
        existing(name);
        const changes = readAffiliationChanges(action, target.bare);
        const after = new Map(
          store.affiliations(target.username, name).map(({ jid, affiliation }) => [
            jid,
            affiliation as string,
          ]),
        );
        for (const [jid, affiliation] of changes) {
          if (affiliation === "none") after.delete(jid);
          else after.set(jid, affiliation);
        }
        if (after.size > limits.maxAffiliations) {
          throw new StanzaError("wait", "resource-constraint", {
            text: `At most ${limits.maxAffiliations} affiliations per node`,
          });
        }
        store.setAffiliations(target.username, name, changes);
        for (const [jid, affiliation] of changes) {
          if (affiliation === "outcast") store.unsubscribeAccount(target.username, name, jid);
        }
        return result();
      }
      case "owner get configure": {
        needOwner();
        const name = needNode();
        return result(el("configure", { node: name }, configForm(existing(name))));
      }
      case "owner set configure": {
        needOwner();
        const name = needNode();
        const config = existing(name);
        const form = action.getChild("x", NS.DATA_FORMS);
        if (form === undefined) {
          throw new StanzaError("modify", "bad-request", { text: "No configuration form" });
        }
        if (form.attrs.type === "cancel") return result();
        const next = applyConfigForm(config, form, limits);
        store.setConfig(target.username, name, next);
        if (keep(next) < keep(config)) store.trim(target.username, name, keep(next));
        return result();
      }
      case "owner get default":
        needOwner();
        return result(el("default", {}, configForm(defaultConfig())));
      case "owner set delete": {
        needOwner();
        const name = needNode();
        const config = existing(name);
        const told = config.notifyDelete ? recipients(target.username, name, config) : [];
        store.deleteNode(target.username, name);
        broadcast(target.username, told, el("delete", { node: name }));
        return result();
      }
      case "owner set purge": {
        needOwner();
        const name = needNode();
        const config = existing(name);
        store.purge(target.username, name);
        if (config.notifyRetract) {
          broadcast(
            target.username,
            recipients(target.username, name, config),
            el("purge", { node: name }),
          );
        }
        return result();
      }
      default:
        throw pubsubError("cancel", "feature-not-implemented", "unsupported", undefined, {
          feature: action.name,
        });
    }
  };

  const createNode = (username: string, node: string, config: NodeConfig) => {
    if (store.nodes(username).length >= limits.maxNodes) {
      throw pubsubError("cancel", "not-allowed", "max-nodes-exceeded", undefined);
    }
    store.createNode(username, node, config);
  };

  /**
   * XEP-0060 §7.1: one item with one payload (§7.1.1: more than one is no longer allowed);
   * auto-create (§7.1.4) by the owner and preconditions (§7.1.5). `publisher` is a publisher
   * affiliate's bare JID, for an existing node.
   */
  const publish = (
    username: string,
    node: string,
    action: Element,
    pubsub: Element,
    publisher?: string,
  ) => {
    const items = action.getChildren("item");
    if (items.length === 0) throw pubsubError("modify", "bad-request", "item-required");
    if (items.length > 1) {
      throw pubsubError("modify", "bad-request", "invalid-payload", "One item per publish");
    }
    const payloads = items[0].elements();
    if (payloads.length === 0) throw pubsubError("modify", "bad-request", "payload-required");
    if (payloads.length > 1) throw pubsubError("modify", "bad-request", "invalid-payload");
    const payload = payloads[0].clone();
    if (new TextEncoder().encode(payload.toString()).length > limits.maxPayloadBytes) {
      throw pubsubError("modify", "not-acceptable", "payload-too-big");
    }
    const publishOptions = pubsub.getChild("publish-options");
    const preconditions = publishOptions === undefined
      ? undefined
      : readPublishOptions(publishOptions, limits);
    let config = store.node(username, node);
    if (config === undefined) {
      config = preconditions?.apply(defaultConfig()) ?? defaultConfig();
      createNode(username, node, config);
    } else if (preconditions !== undefined) {
      const field = preconditions.unmet(config);
      if (field !== undefined) throw preconditionNotMet(`Field does not match: ${field}`);
    }
    const item: StoredItem = {
      id: items[0].attrs.id || crypto.randomUUID(),
      payload,
      published: now(),
      publisher,
    };
    store.publish(username, node, item, keep(config));
    notifyItem(username, node, config, item);
    return el("publish", { node }, el("item", { id: item.id }));
  };

  const notifyItem = (username: string, node: string, config: NodeConfig, item: StoredItem) => {
    if (config.deliverNotifications) {
      broadcast(
        username,
        recipients(username, node, config),
        el("items", { node }, itemElement(username, item, config)),
      );
    }
  };
  const notifyRetract = (username: string, node: string, config: NodeConfig, id: string) =>
    broadcast(
      username,
      recipients(username, node, config),
      el("items", { node }, el("retract", { id })),
    );
  const listeners: ((change: PepChange) => void)[] = [];
  const changed = (change: PepChange) => {
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        options.log?.(
          `error in a PEP change listener for ${change.username} ${change.node}: ${
            error instanceof Error ? error.stack ?? error.message : String(error)
          }`,
        );
      }
    }
  };

  router.iq.on("account", "pubsub", NS.PUBSUB, handle);
  router.iq.on("account", "pubsub", NS.PUBSUB_OWNER, handle);

  /**
   * The available resources (full JIDs) of `contact`: its sessions when local, when remote
   * those whose available presence reached `owner` (local).
   */
  const availableResources = (owner: string, contact: string): string[] =>
    contact.endsWith("@" + domain)
      ? router.sessionsOf(contact).filter((session) => session.presence !== null)
        .map((session) => session.jid.full)
      : [...caps.remotesAvailableTo(owner)].filter((full) => bareOf(full) === contact);

  /**
   * The last item of `node` to one resource (`full`, a local session's or a remote one's), if
   * there is one and it may have it (§4.3.4).
   */
  const sendLast = (username: string, full: string, node: string) => {
    const config = store.node(username, node);
    if (config === undefined || config.sendLastPublishedItem !== "on_sub_and_presence") return;
    if (!config.deliverNotifications) return;
    const bare = bareOf(full);
    if (bare !== `${username}@${domain}`) {
      if (!hasFrom(rosters.item(username, bare)) || !mayAccess(username, bare, node, config)) {
        return;
      }
    }
    const [last] = store.items(username, node, 1);
    if (last === undefined) return;
    send(
      username,
      full,
      el("items", { node }, itemElement(username, last, config)),
      last.published,
    );
  };

  // XEP-0163 §4.3.4: the last item of each node a newly available resource asks for, from its
  // own account and from every account whose presence it receives.
  caps.onNotifyAdded((session, nodes) => {
    const accounts = [session.jid.local];
    for (const [contact, item] of rosters.items(session.jid.local)) {
      if (hasTo(item) && contact.endsWith("@" + domain)) accounts.push(contact.split("@")[0]);
    }
    for (const username of accounts) {
      for (const node of nodes) sendLast(username, session.jid.full, node);
    }
  });
  // The same for a remote contact's resource, from each local account it sent presence to.
  caps.onRemoteNotifyAdded((jid, owners, nodes) => {
    for (const owner of owners) {
      const [username, ownerDomain] = owner.split("@");
      if (ownerDomain !== domain) continue;
      for (const node of nodes) sendLast(username, jid, node);
    }
  });

  // §4.3.4 also: a new subscriber (auto-subscribe, XEP-0060 §9.1) gets the last items. A
  // subscription stanza that gives a contact the owner's presence is processed synchronously
  // by the roster module after this hook; the check runs once it has been.
  router.hooks.on("client-stanza", ({ stanza, origin }) => {
    if (stanza.name !== "presence") return false;
    const type = stanza.attrs.type;
    if (type !== "subscribed" && type !== "subscribe") return false;
    let other: string;
    try {
      other = parseJid(stanza.attrs.to ?? "").bare;
    } catch {
      return false;
    }
    // subscribed: the sender lets `other` (local or remote) see its presence; subscribe:
    // `other`, local, may have pre-approved the sender (RFC 6121 §3.4).
    if (type === "subscribe" && !other.endsWith("@" + domain)) return false;
    const [owner, contact] = type === "subscribed"
      ? [origin.jid.bare, other]
      : [other, origin.jid.bare];
    const username = owner.split("@")[0];
    if (hasFrom(rosters.item(username, contact))) return false;
    queueMicrotask(() => {
      try {
        if (!hasFrom(rosters.item(username, contact))) return;
        const nodes = store.nodes(username).map(({ node }) => node);
        for (const full of availableResources(owner, contact)) {
          for (const node of nodes) {
            if (caps.wantsNotify(full, node)) sendLast(username, full, node);
          }
        }
      } catch (error) {
        options.log?.(
          `error sending last PEP items of ${owner} to ${contact}: ${
            error instanceof Error ? error.stack ?? error.message : String(error)
          }`,
        );
      }
    });
    return false;
  }, Priority.VALIDATE);

  wrapDisco(router, store, mayAccess);

  return {
    publish(username, node, id, payload, config) {
      let current = store.node(username, node);
      if (current === undefined) {
        current = { ...defaultConfig(), ...config };
        createNode(username, node, current);
      }
      const item: StoredItem = { id, payload: payload.clone(), published: now() };
      store.publish(username, node, item, keep(current));
      notifyItem(username, node, current, item);
    },
    retract(username, node, id) {
      const config = store.node(username, node);
      if (config === undefined || !store.retract(username, node, id)) return false;
      notifyRetract(username, node, config, id);
      return true;
    },
    node: (username, node) => store.node(username, node),
    items: (username, node) =>
      store.node(username, node) === undefined ? [] : store.items(username, node),
    onChange(listener) {
      listeners.push(listener);
    },
  };
}

/** The bare part of a full JID already prepared (a bound session's, a remote presence's). */
function bareOf(full: string): string {
  const slash = full.indexOf("/");
  return slash < 0 ? full : full.slice(0, slash);
}

/** The `jid` of a subscribe or unsubscribe: the requester's own (§6.1.3.1: invalid-jid). */
function subscriberJid(action: Element, requester: string): string {
  const given = action.attrs.jid;
  let jid;
  try {
    jid = given === undefined ? undefined : parseJid(given);
  } catch {
    jid = undefined;
  }
  if (jid === undefined) throw pubsubError("modify", "bad-request", "jid-required");
  if (jid.bare !== requester) throw pubsubError("modify", "bad-request", "invalid-jid");
  return jid.full;
}

/** The requester's bare JID: the stamped `from`, or the session. */
function requesterOf(stanza: Element, { origin }: IqContext): string {
  if (stanza.attrs.from !== undefined) {
    try {
      return parseJid(stanza.attrs.from).bare;
    } catch {
      // fall through to the session
    }
  }
  return origin?.jid.bare ?? "";
}

/**
 * XEP-0163 §6.1: the account's disco#info has the identity pubsub/pep; §6.2: its disco#items
 * lists the nodes the requester may access; XEP-0060 §5.3: disco#info of one node. Wraps the
 * disco module's account handlers.
 */
function wrapDisco(
  router: Router,
  store: PepStore,
  mayAccess: (username: string, requester: string, node: string, config: NodeConfig) => boolean,
): void {
  const probe = (ns: string) => el("iq", { type: "get", id: "pep" }, el("query", { xmlns: ns }));
  let info: IqHandler | undefined;
  let items: IqHandler | undefined;
  try {
    info = router.iq.find("account", probe(NS.DISCO_INFO));
    items = router.iq.find("account", probe(NS.DISCO_ITEMS));
  } catch {
    return; // no disco module: nothing to add to
  }
  const plain = (stanza: Element) => stanza.elements()[0]?.attrs.node === undefined;
  router.iq.on("account", "query", NS.DISCO_INFO, async (stanza, context) => {
    const node = stanza.elements()[0]?.attrs.node;
    if (node !== undefined && stanza.attrs.type === "get") {
      // XEP-0060 §5.3: a node's own info, for those who may access it.
      const target = accountTarget(stanza, context);
      const config = store.node(target.username, node);
      if (
        config === undefined ||
        !mayAccess(target.username, requesterOf(stanza, context), node, config)
      ) {
        throw new StanzaError("cancel", "item-not-found");
      }
      return accountReply(stanza, context).append(
        el(
          "query",
          { xmlns: NS.DISCO_INFO, node },
          el("identity", { category: "pubsub", type: "leaf" }),
          el("feature", { var: NS.PUBSUB }),
          buildForm({
            type: "result",
            formType: NS.PUBSUB_META_DATA,
            fields: [
              { var: "pubsub#type", values: [config.type] },
              { var: "pubsub#access_model", values: [config.accessModel] },
            ],
          }),
        ),
      );
    }
    const answer = await info(stanza, context);
    if (plain(stanza)) {
      const query = answer.getChild("query", NS.DISCO_INFO);
      const at = query?.children.findIndex((c) => typeof c !== "string" && c.name === "feature");
      query?.children.splice(
        at === undefined || at < 0 ? query.children.length : at,
        0,
        el("identity", { category: "pubsub", type: "pep" }),
      );
    }
    return answer;
  });
  router.iq.on("account", "query", NS.DISCO_ITEMS, async (stanza, context) => {
    const answer = await items(stanza, context);
    if (!plain(stanza)) return answer;
    const target = accountTarget(stanza, context);
    const requester = requesterOf(stanza, context);
    const query = answer.getChild("query", NS.DISCO_ITEMS);
    for (const { node, config } of store.nodes(target.username)) {
      if (mayAccess(target.username, requester, node, config)) {
        query?.append(el("item", { jid: target.bare, node }));
      }
    }
    return answer;
  });
}
