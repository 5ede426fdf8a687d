// Avatar conversion (XEP-0398 §3) as a server module: see avatars.ts.
import type { NamedModule } from "../modules/module.ts";
import type { PepApi } from "../pep/mod.ts";
import type { VcardApi } from "../vcard/mod.ts";
import { avatarConversion } from "./avatars.ts";

export {
  avatarConversion,
  imageHash,
  NS_AVATAR_DATA,
  NS_AVATAR_METADATA,
  withPhoto,
} from "./avatars.ts";

/** User Avatar (XEP-0084) and vCard avatars (XEP-0153) kept in step. */
export const AVATARS_MODULE: NamedModule<
  "avatars",
  Record<never, never>,
  void,
  { pep?: PepApi; vcard?: VcardApi }
> = {
  name: "avatars",
  description: "Avatar conversion (XEP-0398 §3): XEP-0084 avatars and the vCard PHOTO in step",
  dependsOn: [],
  // Without either there is nothing to convert: the module then does nothing.
  uses: ["pep", "vcard"],
  options: {},
  start({ modules }) {
    if (modules.pep !== undefined && modules.vcard !== undefined) {
      avatarConversion(modules.pep, modules.vcard);
    }
  },
};
