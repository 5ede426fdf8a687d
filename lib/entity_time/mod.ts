// Entity Time (XEP-0202) as a server module: see entity_time.ts.
import type { NamedModule } from "../modules/module.ts";
import { entityTimeModule } from "./entity_time.ts";

export { entityTimeModule, type EntityTimeOptions } from "./entity_time.ts";

/** Answers urn:xmpp:time on the server, in UTC. */
export const ENTITY_TIME_MODULE: NamedModule<"entity_time"> = {
  name: "entity_time",
  description: "Entity Time (XEP-0202) of the server, in UTC",
  dependsOn: [],
  options: {},
  start({ router }) {
    entityTimeModule(router);
  },
};
