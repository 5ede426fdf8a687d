// Discussion history length. XEP-0045 §7.2.15 (history on entering), §10.2 and §16.5.3
// (muc#roomconfig_historylength). TODO(#history): keep and replay the messages; for now the option
// is only stored.
import { type MucHooks } from "../hooks.ts";
import { parseCount } from "../config_form.ts";

const FIELD = "muc#roomconfig_historylength";

/** The most messages a room keeps and replays. */
export const MAX_HISTORY_LENGTH = 1000;

/** How many messages are replayed to someone entering. */
export function historyFeature(hooks: MucHooks): void {
  hooks.field({
    var: FIELD,
    type: "text-single",
    label: "Number of messages replayed on entering",
    get: (config) => config.historyLength,
    set: (draft, values) => {
      draft.historyLength = parseCount(FIELD, values, MAX_HISTORY_LENGTH);
    },
  });
}
