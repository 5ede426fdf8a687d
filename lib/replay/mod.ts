// Replaying scansion scripts (.scs) against any XMPP server: parse, match, connect, run.
/**
 * The spec-replay tool: `parseScript()` reads a script, `runScript()` plays it against a
 * server with one `ReplayClient` per `[Client]`, `formatFailure()` explains a failure.
 * `assertStanza()` is the same stanza comparison for unit tests.
 *
 * @module
 */
export { parseScript, type Script, type ScriptClient, ScriptError, type Step } from "./parse.ts";
export {
  assertStanza,
  BlockError,
  forSending,
  type MatchResult,
  matchStanza,
  parseBlock,
  SCANSION_NS,
  substituteVariables,
  type VariableForm,
} from "./match.ts";
export {
  type ConnectOptions,
  type ReceivedStanza,
  ReplayClient,
  type StreamErrorInfo,
  SUPPORTED_MECHANISMS,
  type WaitOptions,
} from "./client.ts";
export {
  formatFailure,
  type FormatOptions,
  type Pick,
  pickMatch,
  type RunFailure,
  type RunOptions,
  type RunResult,
  runScript,
} from "./run.ts";
