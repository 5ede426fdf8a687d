// The notification a user's server publishes to an app server (XEP-0357 §7): a PubSub publish
// (XEP-0060 §7.1) to the registration's node whose item is a `<notification/>` with the
// `urn:xmpp:push:summary` form (§12.3), and the registration's publish options (§5, §7
// example 2) when it has some.
import { NS } from "../stanza/ns.ts";
import { el, type Element } from "../xml/element.ts";
import { PUSH, PUSH_SUMMARY } from "./_ns.ts";

/** Longest `last-message-body` sent, in characters (the device shows a line or two of it). */
export const MAX_BODY_CHARS = 1024;

/** What goes into one notification. */
export interface NotificationContent {
  /** The iq's id, tracked to recognise the app server's answer. */
  id: string;
  /** The user's bare JID: the publisher (as mod_cloud_notify sends it). */
  from: string;
  /** The app server's JID. */
  to: string;
  node: string;
  /** `message-count`: messages waiting since the user was last active. */
  count: number;
  /** `last-message-sender`, when the configuration includes it. */
  sender?: string;
  /** `last-message-body`, when the configuration includes it (`include_body`). */
  body?: string;
  /** The publish-options form the client gave when enabling (§5). */
  publishOptions?: Element;
}

/**
 * The publish iq.
 *
 * @example
 * ```ts
 * notificationIq({ id: "n1", from: "juliet@localhost", to: "push.example", node: "x", count: 1 });
 * ```
 */
export function notificationIq(content: NotificationContent): Element {
  const field = (name: string, value: string) => el("field", { var: name }, el("value", {}, value));
  const body = content.body === undefined ? undefined : truncate(content.body, MAX_BODY_CHARS);
  return el(
    "iq",
    { type: "set", id: content.id, from: content.from, to: content.to },
    el(
      "pubsub",
      { xmlns: NS.PUBSUB },
      el(
        "publish",
        { node: content.node },
        el(
          "item",
          {},
          el(
            "notification",
            { xmlns: PUSH },
            el(
              "x",
              { xmlns: NS.DATA_FORMS, type: "submit" },
              field("FORM_TYPE", PUSH_SUMMARY),
              field("message-count", String(content.count)),
              content.sender !== undefined && field("last-message-sender", content.sender),
              body !== undefined && field("last-message-body", body),
            ),
          ),
        ),
      ),
      content.publishOptions !== undefined &&
        el("publish-options", {}, content.publishOptions.clone()),
    ),
  );
}

/** At most `max` characters, never splitting a surrogate pair. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text[max - 1]) ? max - 1 : max;
  return text.slice(0, end);
}
