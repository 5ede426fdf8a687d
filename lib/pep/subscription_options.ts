// Subscription options (XEP-0060 §6.3): the pubsub#subscribe_options form of one subscription,
// with the one option this service keeps, `pubsub#deliver` (§16.4.2: whether notifications are
// delivered). Retrieved with `<options/>` (§6.3.2), submitted (§6.3.5), or given with the
// subscription (§6.3.7).
import { buildForm, readFormOrBadRequest } from "../forms/data_form.ts";
import { NS } from "../stanza/ns.ts";
import type { Element } from "../xml/element.ts";
import { pubsubError } from "./node_config.ts";

/** The options of one subscription. */
export interface SubscriptionOptions {
  /** Whether notifications go to the subscription. */
  deliver: boolean;
}

/** Without options, everything is delivered. */
export const DEFAULT_SUBSCRIPTION_OPTIONS: Readonly<SubscriptionOptions> = { deliver: true };

/** The options as a form (§6.3.2), or as the result of a subscribe with options (§6.3.7). */
export function subscriptionOptionsForm(
  options: SubscriptionOptions,
  type: "form" | "result",
): Element {
  return buildForm({
    type,
    formType: NS.PUBSUB_SUBSCRIBE_OPTIONS,
    fields: [{
      var: "pubsub#deliver",
      type: "boolean",
      label: "Enable delivery?",
      values: [options.deliver ? "1" : "0"],
    }],
  });
}

/**
 * `base` changed by a submitted options form (§6.3.5). A missing, unsubmitted or foreign form,
 * an unknown field or a bad value is `bad-request` with `<invalid-options/>` (§6.3.5.2).
 */
export function readSubscriptionOptions(
  x: Element | undefined,
  base: SubscriptionOptions,
): SubscriptionOptions {
  const invalid = (text: string) => pubsubError("modify", "bad-request", "invalid-options", text);
  if (x === undefined) throw invalid("No options form");
  const form = readFormOrBadRequest(x);
  if (form.type !== "submit") throw invalid("The form must be of type submit");
  if (form.formType !== undefined && form.formType !== NS.PUBSUB_SUBSCRIBE_OPTIONS) {
    throw invalid(`The FORM_TYPE must be ${NS.PUBSUB_SUBSCRIBE_OPTIONS}`);
  }
  const options = { ...base };
  for (const [name, values] of form.fields) {
    if (name === "FORM_TYPE") continue;
    if (name !== "pubsub#deliver") throw invalid(`Unknown option ${name}`);
    const value = values.length === 1 ? values[0] : undefined;
    if (value === "1" || value === "true") options.deliver = true;
    else if (value === "0" || value === "false") options.deliver = false;
    else throw invalid(`Invalid value for ${name}`);
  }
  return options;
}
