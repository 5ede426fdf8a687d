// Data Forms. XEP-0004 §3 (form structure), §3.2 (field types), §3.3 (FORM_TYPE, after XEP-0068).
//
// A small typed reader and builder, shared by the services that speak forms (MUC configuration
// now; registration and search later). It checks structure, not meaning: the caller validates
// values against its own fields.
import { el, type Element } from "../xml/element.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";

/** XEP-0004 §3.1: what a form is for. */
export type FormType = "form" | "submit" | "cancel" | "result";

/** XEP-0004 §3.3: how a field is shown and what its values mean. */
export type FieldType =
  | "boolean"
  | "fixed"
  | "hidden"
  | "jid-multi"
  | "jid-single"
  | "list-multi"
  | "list-single"
  | "text-multi"
  | "text-private"
  | "text-single";

const FORM_TYPES: readonly string[] = ["form", "submit", "cancel", "result"];

/** The hidden field naming the form's namespace (XEP-0068). */
export const FORM_TYPE_FIELD = "FORM_TYPE";

/** One choice of a list field. */
export interface FieldOption {
  value: string;
  label?: string;
}

/** A field to build. */
export interface FormField {
  /** Absent only on `fixed` fields. */
  var?: string;
  type?: FieldType;
  label?: string;
  desc?: string;
  required?: boolean;
  values?: readonly string[];
  options?: readonly FieldOption[];
}

/** A whole form to build. */
export interface FormSpec {
  type: FormType;
  /** Emitted first, as the hidden `FORM_TYPE` field. */
  formType?: string;
  title?: string;
  instructions?: string;
  fields: readonly FormField[];
}

/** What {@linkcode readForm} found. */
export interface ReadForm {
  type: FormType;
  /** The first value of the `FORM_TYPE` field, if the form has one. */
  formType: string | undefined;
  /**
   * Values by field `var`, in document order, `FORM_TYPE` included. A field without `<value/>` maps
   * to `[]`, an empty `<value/>` to `[""]`.
   */
  fields: Map<string, string[]>;
}

/** The element is not a well-formed data form. The message says what is wrong. */
export class FormError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FormError";
  }
}

/**
 * Reads a `<x xmlns='jabber:x:data'/>` element. Throws {@linkcode FormError} if it is not one, has
 * no valid `type`, or names a field twice.
 *
 * @example
 * ```ts
 * const form = readForm(query.getChild("x", NS.DATA_FORMS)!);
 * if (form.type === "submit") form.fields.get("muc#roomconfig_roomname"); // ["Coven"]
 * ```
 */
export function readForm(x: Element): ReadForm {
  if (x.name !== "x" || x.attrs.xmlns !== NS.DATA_FORMS) {
    throw new FormError(`Cannot read form: <${x.name}/> is not a jabber:x:data <x/>`);
  }
  const type = x.attrs.type;
  if (type === undefined || !FORM_TYPES.includes(type)) {
    throw new FormError(`Cannot read form: unknown form type "${type ?? ""}"`);
  }
  const fields = new Map<string, string[]>();
  for (const field of x.getChildren("field")) {
    const name = field.attrs.var;
    if (name === undefined) continue; // `fixed` fields are labels, not data
    if (fields.has(name)) throw new FormError(`Cannot read form: field "${name}" appears twice`);
    fields.set(name, field.getChildren("value").map((value) => value.getText()));
  }
  return { type: type as FormType, formType: fields.get(FORM_TYPE_FIELD)?.[0], fields };
}

/** {@linkcode readForm} for a form a client sent: a malformed one is the sender's `bad-request`. */
export function readFormOrBadRequest(x: Element): ReadForm {
  try {
    return readForm(x);
  } catch (error) {
    if (error instanceof FormError) {
      throw new StanzaError("modify", "bad-request", { text: error.message });
    }
    throw error;
  }
}

/**
 * Builds a `<x xmlns='jabber:x:data'/>` element, `FORM_TYPE` first.
 *
 * @example
 * ```ts
 * buildForm({
 *   type: "form",
 *   formType: NS.MUC_ROOMCONFIG,
 *   fields: [{ var: "muc#roomconfig_roomname", type: "text-single", values: ["Coven"] }],
 * });
 * ```
 */
export function buildForm(spec: FormSpec): Element {
  return el(
    "x",
    { xmlns: NS.DATA_FORMS, type: spec.type },
    spec.title !== undefined && el("title", {}, spec.title),
    spec.instructions !== undefined && el("instructions", {}, spec.instructions),
    spec.formType !== undefined &&
      buildField({ var: FORM_TYPE_FIELD, type: "hidden", values: [spec.formType] }),
    ...spec.fields.map(buildField),
  );
}

/** Builds one `<field/>`: desc, required, values, then options, in XEP-0004's schema order. */
export function buildField(field: FormField): Element {
  return el(
    "field",
    { var: field.var, type: field.type, label: field.label },
    field.desc !== undefined && el("desc", {}, field.desc),
    field.required === true && el("required"),
    ...(field.values ?? []).map((value) => el("value", {}, value)),
    ...(field.options ?? []).map((option) =>
      el("option", { label: option.label }, el("value", {}, option.value))
    ),
  );
}
