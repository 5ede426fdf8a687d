// JIDs: parse, prepare, compare.
export {
  Jid,
  JidError,
  parseJid,
  prepDomain,
  prepLocal,
  prepResource,
  tryParseJid,
} from "./jid.ts";
