// XML: the element type, escaping and the incremental stream parser.
export { type Attrs, el, Element, type XmlNode } from "./element.ts";
export { escapeAttr, escapeText } from "./escape.ts";
export {
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_STANZA_SIZE,
  type ParserErrorCondition,
  StreamParser,
  type StreamParserHandlers,
  type StreamParserLimits,
} from "./stream_parser.ts";
