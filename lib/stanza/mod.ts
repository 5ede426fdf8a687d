// Stanzas: namespaces, errors and replies.
export { NS } from "./ns.ts";
export { errorReply, isError, reply } from "./reply.ts";
export {
  type ErrorCondition,
  type ErrorType,
  StanzaError,
  type StanzaErrorOptions,
} from "./stanza_error.ts";
