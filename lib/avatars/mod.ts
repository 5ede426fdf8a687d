// Avatar conversion (XEP-0398) as a server module: §3 in avatars.ts, §4 in presence_hash.ts.
import type { NamedModule } from "../modules/module.ts";
import type { PepApi } from "../pep/mod.ts";
import type { VcardApi } from "../vcard/mod.ts";
import { avatarConversion } from "./avatars.ts";
import { avatarHashInPresence } from "./presence_hash.ts";

export {
  avatarConversion,
  imageHash,
  NS_AVATAR_DATA,
  NS_AVATAR_METADATA,
  withPhoto,
} from "./avatars.ts";
export { avatarHashInPresence, NS_VCARD_UPDATE, withAvatarHash } from "./presence_hash.ts";

/** XEP-0398 §5: what the account advertises once both directions and the hash are in place. */
export const NS_PEP_VCARD_CONVERSION = "urn:xmpp:pep-vcard-conversion:0";

/** User Avatar (XEP-0084) and vCard avatars (XEP-0153) kept in step. */
export const AVATARS_MODULE: NamedModule<
  "avatars",
  Record<never, never>,
  void,
  { pep?: PepApi; vcard?: VcardApi }
> = {
  name: "avatars",
  description:
    "Avatar conversion (XEP-0398): XEP-0084 avatars and the vCard PHOTO in step, the hash in presence",
  dependsOn: [],
  // Without either there is nothing to convert: the module then does nothing.
  uses: ["pep", "vcard"],
  options: {},
  start({ router, modules, features }) {
    if (modules.pep === undefined) return;
    avatarHashInPresence(router, modules.pep);
    if (modules.vcard !== undefined) {
      avatarConversion(modules.pep, modules.vcard);
      features.account.add(NS_PEP_VCARD_CONVERSION);
    }
  },
};
