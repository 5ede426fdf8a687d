// Software Version (XEP-0092) as a server module: see version.ts.
import type { NamedModule } from "../modules/module.ts";
import { versionModule } from "./version.ts";

export { VERONA_VERSION, versionModule } from "./version.ts";

/** Answers jabber:iq:version on the server with its name and version. */
export const VERSION_MODULE: NamedModule<"version"> = {
  name: "version",
  description: "Software Version (XEP-0092) of the server",
  dependsOn: [],
  options: {},
  start({ router }) {
    versionModule(router);
  },
};
