// Reading MAM queries: the data form of XEP-0313 §4.1 (with, start, end; #extended before-id,
// after-id, ids), RSM's <set/> (XEP-0059 §2), and XEP-0082 timestamps.
import { parseJid } from "../jid/jid.ts";
import { readFormOrBadRequest } from "../forms/data_form.ts";
import { NS } from "../stanza/ns.ts";
import { StanzaError } from "../stanza/stanza_error.ts";
import type { Element } from "../xml/element.ts";
import type { ArchiveQuery } from "./archive_store.ts";

/** The query form's fields, in the order §4.1.5 lists them. */
export const QUERY_FIELDS = ["with", "start", "end", "before-id", "after-id", "ids"] as const;

// XEP-0082 §3.2 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD, TZD being Z or (+|-)hh:mm.
const DATE_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** A XEP-0082 DateTime as Unix ms, or `bad-request` naming the field. */
export function parseDateTime(field: string, value: string): number {
  const match = DATE_TIME.exec(value);
  const ms = match === null
    ? NaN
    : Date.parse(`${match[1]}.${(match[2] ?? "").padEnd(3, "0").slice(0, 3)}${match[3]}`);
  if (Number.isNaN(ms)) {
    throw new StanzaError("modify", "bad-request", {
      text: `Field "${field}" must be a XEP-0082 DateTime such as 2010-07-10T23:08:25Z`,
    });
  }
  return ms;
}

/** Page sizes: when the query gives no `<max/>`, and the most it may ask for. */
export interface PageLimits {
  defaultPageSize: number;
  maxPageSize: number;
}

/** What a MAM `<query/>` asks for: the archive query, and whether the page is sent flipped. */
export interface ReadQuery {
  query: ArchiveQuery;
  /** #extended §4.3.4 `<flip-page/>`: send the page newest first. */
  flip: boolean;
}

/**
 * Reads a `<query xmlns='urn:xmpp:mam:2'/>`. A form of the wrong FORM_TYPE, a malformed date,
 * JID or RSM value is `bad-request`; an unknown field `feature-not-implemented` (§4.1.5 MUST).
 */
export function readQuery(query: Element, limits: PageLimits): ReadQuery {
  const result: ArchiveQuery = { max: limits.defaultPageSize };
  const x = query.getChild("x", NS.DATA_FORMS);
  if (x !== undefined) {
    const form = readFormOrBadRequest(x);
    if (form.type !== "submit") {
      throw new StanzaError("modify", "bad-request", { text: "The query form must be submitted" });
    }
    if (form.formType !== undefined && form.formType !== NS.MAM) {
      throw new StanzaError("modify", "bad-request", {
        text: `Unexpected FORM_TYPE, expected "${NS.MAM}"`,
      });
    }
    for (const [name, values] of form.fields) {
      if (name === "FORM_TYPE") continue;
      if (!(QUERY_FIELDS as readonly string[]).includes(name)) {
        throw new StanzaError("cancel", "feature-not-implemented", {
          text: `Unknown query field "${name}"`,
        });
      }
      const nonEmpty = values.map((value) => value.trim()).filter((value) => value !== "");
      if (nonEmpty.length === 0) continue;
      const value = nonEmpty[0];
      switch (name) {
        case "with": {
          let jid;
          try {
            jid = parseJid(value);
          } catch {
            throw new StanzaError("modify", "bad-request", {
              text: `Field "with" must be a JID`,
            });
          }
          result.with = { bare: jid.bare, resource: jid.resource };
          break;
        }
        case "start":
          result.start = parseDateTime(name, value);
          break;
        case "end":
          result.end = parseDateTime(name, value);
          break;
        case "before-id":
          result.beforeId = value;
          break;
        case "after-id":
          result.afterId = value;
          break;
        case "ids":
          result.ids = nonEmpty;
          break;
      }
    }
  }
  const set = query.getChild("set", NS.RSM);
  if (set !== undefined) {
    const max = set.getChildText("max");
    if (max !== undefined) {
      result.max = Math.min(nonNegative("max", max), limits.maxPageSize);
    }
    const after = set.getChildText("after");
    if (after !== undefined) {
      if (after.trim() === "") {
        throw new StanzaError("modify", "bad-request", { text: "<after/> must name an id" });
      }
      result.after = after.trim();
    }
    const before = set.getChildText("before");
    if (before !== undefined) result.before = before.trim();
    const index = set.getChildText("index");
    if (index !== undefined) result.index = nonNegative("index", index);
  }
  result.max = Math.min(result.max, limits.maxPageSize);
  return { query: result, flip: query.getChild("flip-page", NS.MAM) !== undefined };
}

function nonNegative(name: string, text: string): number {
  const trimmed = text.trim();
  if (!/^\d{1,9}$/.test(trimmed)) {
    throw new StanzaError("modify", "bad-request", {
      text: `RSM <${name}/> must be a non-negative integer`,
    });
  }
  return Number(trimmed);
}
