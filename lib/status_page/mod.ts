// The admin status page (HTML, CSS and a canvas plot, no framework), served by the metrics
// module (lib/metrics/mod.ts) at /admin/.
/**
 * @module
 */
export { RateHistory, type RateHistoryOptions, type RatePoint } from "./history.ts";
export {
  SECURITY_HEADERS,
  type StatusJson,
  statusPageHandler,
  type StatusPageOptions,
} from "./status_page.ts";
