// Service Discovery (XEP-0030) as a server module: see disco.ts.
import type { NamedModule } from "../modules/module.ts";
import { discoModule } from "./disco.ts";

export { discoModule, type DiscoOptions } from "./disco.ts";

/**
 * disco#info and disco#items on the server and on accounts. The features listed are the iq
 * namespaces other modules answer and the features they declare (`ServerModule.features`).
 */
export const DISCO_MODULE: NamedModule<"disco"> = {
  name: "disco",
  description: "Service Discovery (XEP-0030): disco#info and disco#items on server and accounts",
  dependsOn: [],
  options: {},
  start({ router, features }) {
    discoModule(router, { accountFeatures: features.account });
  },
};
