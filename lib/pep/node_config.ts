// PEP node configuration: XEP-0060 §8.2 (the pubsub#node_config form), §16.4.4 (its fields),
// XEP-0163 §5 (PEP's defaults), and XEP-0060 §7.1.5 / XEP-0223 (publish-options preconditions).
import { buildForm, type FormField, readFormOrBadRequest } from "../forms/data_form.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import { el, type Element } from "../xml/element.ts";

/** Who may retrieve items and receive notifications (XEP-0060 §4.5). */
export type AccessModel = "open" | "presence" | "roster" | "whitelist";

/** When the last item goes to a new subscriber or a newly available resource. */
export type SendLast = "never" | "on_sub" | "on_sub_and_presence";

/** A node's configuration, as stored (JSON). */
export interface NodeConfig {
  title: string;
  description: string;
  /** `pubsub#type`: the payload's namespace, informative. */
  type: string;
  /** Items kept; "max" is the server's limit. */
  maxItems: number | "max";
  persistItems: boolean;
  accessModel: AccessModel;
  /** Roster groups whose contacts may access a `roster` node. */
  rosterGroupsAllowed: string[];
  sendLastPublishedItem: SendLast;
  deliverNotifications: boolean;
  deliverPayloads: boolean;
  notifyRetract: boolean;
  notifyDelete: boolean;
}

/** XEP-0163 §5: presence access, notifications with payloads, the last item on presence. */
export function defaultConfig(): NodeConfig {
  return {
    title: "",
    description: "",
    type: "",
    maxItems: 1,
    persistItems: true,
    accessModel: "presence",
    rosterGroupsAllowed: [],
    sendLastPublishedItem: "on_sub_and_presence",
    deliverNotifications: true,
    deliverPayloads: true,
    notifyRetract: true,
    notifyDelete: true,
  };
}

/** Reads a stored configuration; fields missing from older rows take the defaults. */
export function parseConfig(json: string): NodeConfig {
  return { ...defaultConfig(), ...JSON.parse(json) as Partial<NodeConfig> };
}

interface Field {
  var: string;
  type: FormField["type"];
  label: string;
  options?: readonly string[];
  get(config: NodeConfig): string[];
  /** Sets the field from submitted values; throws `StanzaError` for a bad value. */
  set(config: NodeConfig, values: string[], limits: ConfigLimits): void;
}

/** The server's bounds on configurations. */
export interface ConfigLimits {
  /** The largest `pubsub#max_items`, also what "max" means. */
  maxItems: number;
}

function bad(field: string, value: string | undefined): never {
  throw new StanzaError("modify", "not-acceptable", {
    text: `Invalid value "${value ?? ""}" for ${field}`,
  });
}

function single(field: string, values: string[]): string {
  if (values.length !== 1) bad(field, values.join(" "));
  return values[0];
}

function boolean(field: string, values: string[]): boolean {
  const value = single(field, values);
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  bad(field, value);
}

function choice<T extends string>(field: string, values: string[], options: readonly T[]): T {
  const value = single(field, values);
  if (!(options as readonly string[]).includes(value)) bad(field, value);
  return value as T;
}

const ACCESS_MODELS: readonly AccessModel[] = ["open", "presence", "roster", "whitelist"];
const SEND_LAST: readonly SendLast[] = ["never", "on_sub", "on_sub_and_presence"];

const text = (name: "title" | "description" | "type", v: string, label: string): Field => ({
  var: v,
  type: "text-single",
  label,
  get: (config) => [config[name]],
  set: (config, values) => void (config[name] = values.join("")),
});

const flag = (
  name:
    | "persistItems"
    | "deliverNotifications"
    | "deliverPayloads"
    | "notifyRetract"
    | "notifyDelete",
  v: string,
  label: string,
): Field => ({
  var: v,
  type: "boolean",
  label,
  get: (config) => [config[name] ? "1" : "0"],
  set: (config, values) => void (config[name] = boolean(v, values)),
});

/** The configuration fields, in form order. */
const FIELDS: readonly Field[] = [
  text("title", "pubsub#title", "A friendly name for the node"),
  text("description", "pubsub#description", "A description of the node"),
  text("type", "pubsub#type", "The type of node data, usually the payload's namespace"),
  {
    var: "pubsub#max_items",
    type: "text-single",
    label: "Max # of items to persist (or max)",
    get: (config) => [String(config.maxItems)],
    set: (config, values, limits) => {
      const value = single("pubsub#max_items", values);
      if (value === "max") {
        config.maxItems = "max";
        return;
      }
      const count = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
      if (!(count >= 1 && count <= limits.maxItems)) bad("pubsub#max_items", value);
      config.maxItems = count;
    },
  },
  flag("persistItems", "pubsub#persist_items", "Persist items to storage"),
  {
    var: "pubsub#access_model",
    type: "list-single",
    label: "Who may subscribe and retrieve items",
    options: ACCESS_MODELS,
    get: (config) => [config.accessModel],
    set: (config, values) =>
      void (config.accessModel = choice("pubsub#access_model", values, ACCESS_MODELS)),
  },
  {
    var: "pubsub#roster_groups_allowed",
    type: "list-multi",
    label: "Roster groups allowed to subscribe (roster access model)",
    get: (config) => [...config.rosterGroupsAllowed],
    set: (config, values) => void (config.rosterGroupsAllowed = [...new Set(values)]),
  },
  {
    var: "pubsub#publish_model",
    type: "list-single",
    label: "Who may publish (only the owner, on PEP)",
    options: ["publishers"],
    get: () => ["publishers"],
    set: (_config, values) => void choice("pubsub#publish_model", values, ["publishers"]),
  },
  {
    var: "pubsub#send_last_published_item",
    type: "list-single",
    label: "When to send the last published item",
    options: SEND_LAST,
    get: (config) => [config.sendLastPublishedItem],
    set: (config, values) =>
      void (config.sendLastPublishedItem = choice(
        "pubsub#send_last_published_item",
        values,
        SEND_LAST,
      )),
  },
  flag("deliverNotifications", "pubsub#deliver_notifications", "Deliver event notifications"),
  flag("deliverPayloads", "pubsub#deliver_payloads", "Deliver payloads with notifications"),
  flag("notifyRetract", "pubsub#notify_retract", "Notify subscribers when items are removed"),
  flag("notifyDelete", "pubsub#notify_delete", "Notify subscribers when the node is deleted"),
];

const BY_VAR = new Map(FIELDS.map((field) => [field.var, field]));

/** The configuration form (XEP-0060 §8.2.1), `type='form'`. */
export function configForm(config: NodeConfig): Element {
  return buildForm({
    type: "form",
    formType: NS.PUBSUB_NODE_CONFIG,
    fields: FIELDS.map((field) => ({
      var: field.var,
      type: field.type,
      label: field.label,
      values: field.get(config),
      options: field.options?.map((value) => ({ value })),
    })),
  });
}

/** The submitted values of a node_config or publish-options form, field by field. */
function submitted(x: Element, formType: string): Map<string, string[]> {
  const form = readFormOrBadRequest(x);
  if (form.type !== "submit") {
    throw new StanzaError("modify", "bad-request", { text: "The form must be of type submit" });
  }
  if (form.formType !== undefined && form.formType !== formType) {
    throw new StanzaError("modify", "bad-request", { text: `The FORM_TYPE must be ${formType}` });
  }
  const fields = new Map(form.fields);
  fields.delete("FORM_TYPE");
  return fields;
}

/**
 * A new configuration from a submitted node_config form (XEP-0060 §8.2.3): `base` changed by
 * the fields given. Unknown fields are `not-acceptable`; so are bad values.
 */
export function applyConfigForm(
  base: NodeConfig,
  x: Element,
  limits: ConfigLimits,
): NodeConfig {
  const config = structuredClone(base);
  for (const [name, values] of submitted(x, NS.PUBSUB_NODE_CONFIG)) {
    const field = BY_VAR.get(name);
    if (field === undefined) {
      throw new StanzaError("modify", "not-acceptable", { text: `Unknown field ${name}` });
    }
    field.set(config, values, limits);
  }
  return config;
}

/** Preconditions of a publish (XEP-0060 §7.1.5): the options as a configuration overlay. */
export interface PublishOptions {
  /** The fields and their normalized values. */
  readonly required: ReadonlyMap<string, string[]>;
  /** `base` with the options applied: the configuration of an auto-created node. */
  apply(base: NodeConfig): NodeConfig;
  /** The first field whose value differs in `config`, or undefined when all are met. */
  unmet(config: NodeConfig): string | undefined;
}

/**
 * Reads `<publish-options/>`. A field the service does not know cannot be met: the publish
 * MUST be rejected (§7.1.5), with `<conflict/>` and `<precondition-not-met/>` as for a value
 * that differs.
 */
export function readPublishOptions(
  element: Element,
  limits: ConfigLimits,
): PublishOptions | undefined {
  const x = element.getChild("x", NS.DATA_FORMS);
  if (x === undefined) return undefined;
  const fields = submitted(x, NS.PUBSUB_PUBLISH_OPTIONS);
  const required = new Map<string, string[]>();
  const probe = defaultConfig();
  for (const [name, values] of fields) {
    const field = BY_VAR.get(name);
    if (field === undefined) {
      throw preconditionNotMet(`Unknown publish option ${name}`);
    }
    field.set(probe, values, limits);
    required.set(name, field.get(probe));
  }
  return {
    required,
    apply(base) {
      const config = structuredClone(base);
      for (const [name, values] of fields) BY_VAR.get(name)!.set(config, values, limits);
      return config;
    },
    unmet(config) {
      for (const [name, values] of required) {
        const actual = BY_VAR.get(name)!.get(config);
        const same = name === "pubsub#roster_groups_allowed"
          ? [...actual].sort().join("\n") === [...values].sort().join("\n")
          : actual.join("\n") === values.join("\n");
        if (!same) return name;
      }
      return undefined;
    },
  };
}

/** `<conflict/>` with the pubsub condition `<precondition-not-met/>` (XEP-0060 §7.1.5). */
export function preconditionNotMet(text: string): StanzaError {
  return pubsubError("cancel", "conflict", "precondition-not-met", text);
}

/** A stanza error with a pubsub-specific condition (XEP-0060 §14.2). */
export function pubsubError(
  type: "cancel" | "modify" | "auth" | "wait",
  condition: ConstructorParameters<typeof StanzaError>[1],
  pubsub: string,
  text?: string,
  attrs: Record<string, string> = {},
): StanzaError {
  return new StanzaError(type, condition, {
    text,
    extra: el(pubsub, { xmlns: NS.PUBSUB_ERRORS, ...attrs }),
  });
}
