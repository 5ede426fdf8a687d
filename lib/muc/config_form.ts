// The owner's configuration form. XEP-0045 §10.1.2-10.1.3 (creating), §10.2 (modifying),
// §16.5.3 (muc#roomconfig); XEP-0004 for the form itself.
//
// Fields are declared by features with `hooks.field()`; registration order is form order. A
// submission is written into a draft copy of the options, field by field; only when every field
// accepted its value is the difference returned for the room to commit.
import { buildForm, FORM_TYPE_FIELD, type FormField } from "../forms/data_form.ts";
import type { Element } from "../xml/element.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { ConfigField, FieldValue } from "./hooks.ts";
import type { Room } from "./room.ts";
import { configKeys, type RoomConfig, sameValue } from "./room_config.ts";

/** The `type='form'` data form with every declared field and its current value. */
export function buildConfigForm(room: Room, fields: readonly ConfigField[]): Element {
  return buildForm({
    type: "form",
    formType: NS.MUC_ROOMCONFIG,
    title: `Configuration for ${room.jid}`,
    fields: fields.map((field): FormField => ({
      var: field.var,
      type: field.type,
      label: field.label,
      values: formValues(field.get(room.config)),
      options: field.options,
    })),
  });
}

/**
 * Validates a submitted form (values by var) against the declared fields and returns the options
 * that differ from the room's current ones. Unknown fields are ignored; a bad value throws the
 * field's StanzaError and changes nothing.
 */
export async function readConfigSubmission(
  room: Room,
  fields: readonly ConfigField[],
  submission: ReadonlyMap<string, readonly string[]>,
): Promise<Partial<RoomConfig>> {
  const before: RoomConfig = { ...room.config };
  const draft: RoomConfig = { ...before };
  for (const field of fields) {
    const values = submission.get(field.var);
    if (values !== undefined) await field.set(draft, values, submission, room);
  }
  const patch: Partial<RoomConfig> = {};
  const target = patch as Record<string, unknown>;
  for (const key of configKeys()) {
    if (!sameValue(draft[key], before[key])) target[key] = draft[key];
  }
  return patch;
}

/** True for a submission without fields, or with only FORM_TYPE: an instant room (§10.1.2). */
export function isEmptySubmission(submission: ReadonlyMap<string, readonly string[]>): boolean {
  for (const name of submission.keys()) if (name !== FORM_TYPE_FIELD) return false;
  return true;
}

/** The answer to a bad value of `field`. */
export function badValue(field: string, why: string): StanzaError {
  return new StanzaError("modify", "not-acceptable", { text: `Invalid ${field}: ${why}` });
}

/** The single value of a field; an empty field counts as "". Several values are refused. */
export function singleValue(field: string, values: readonly string[]): string {
  if (values.length > 1) throw badValue(field, "expected one value");
  return values[0] ?? "";
}

/** XEP-0004 §3.3 boolean: "1"/"true" or "0"/"false". */
export function parseBoolean(field: string, values: readonly string[]): boolean {
  const value = singleValue(field, values).trim();
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  throw badValue(field, `"${value}" is not a boolean`);
}

/** A non-negative decimal integer up to `max`. */
export function parseCount(field: string, values: readonly string[], max: number): number {
  const value = singleValue(field, values).trim();
  if (!/^[0-9]{1,9}$/.test(value)) throw badValue(field, `"${value}" is not a whole number`);
  const count = Number(value);
  if (count > max) throw badValue(field, `${count} is more than ${max}`);
  return count;
}

/** One of the given choices (list-single). */
export function parseChoice<T extends string>(
  field: string,
  values: readonly string[],
  choices: readonly T[],
): T {
  const value = singleValue(field, values).trim();
  const found = choices.find((choice) => choice === value);
  if (found === undefined) throw badValue(field, `"${value}" is not one of ${choices.join(", ")}`);
  return found;
}

function formValues(value: FieldValue): readonly string[] {
  if (value === null) return [];
  if (typeof value === "boolean") return [value ? "1" : "0"];
  if (typeof value === "number") return [String(value)];
  if (typeof value === "string") return [value];
  return value;
}
