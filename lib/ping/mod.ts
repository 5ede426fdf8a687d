// XMPP Ping (XEP-0199) as a server module: see ping.ts.
import type { NamedModule } from "../modules/module.ts";
import { pingModule } from "./ping.ts";

export { pingModule } from "./ping.ts";

/** Answers pings to the server and to accounts' bare JIDs. */
export const PING_MODULE: NamedModule<"ping"> = {
  name: "ping",
  description: "XMPP Ping (XEP-0199): the server answers pings to itself and to accounts",
  dependsOn: [],
  options: {},
  start({ router }) {
    pingModule(router);
  },
};
