// Bookmark conversion (XEP-0402 §6, XEP-0411) as a server module: see bookmarks.ts.
import type { NamedModule } from "../modules/module.ts";
import type { PepApi } from "../pep/mod.ts";
import type { PrivateStorageApi } from "../private_storage/mod.ts";
import { bookmarksConversion, COMPAT_PEP_FEATURE, PRIVATE_XML_FEATURES } from "./bookmarks.ts";

export {
  bookmarksConversion,
  COMPAT_PEP_FEATURE,
  LEGACY_ITEM,
  NS_BOOKMARKS2,
  NS_LEGACY,
  PRIVATE_XML_FEATURES,
  toBookmarks2,
  toLegacy,
} from "./bookmarks.ts";

/** PEP Native Bookmarks, legacy PEP bookmarks and private-XML bookmarks kept in step. */
export const BOOKMARKS_MODULE: NamedModule<
  "bookmarks",
  Record<never, never>,
  void,
  { pep?: PepApi; private_storage?: PrivateStorageApi }
> = {
  name: "bookmarks",
  description:
    "Bookmarks conversion (XEP-0402 §6, XEP-0411): XEP-0402, legacy PEP and private XML bookmarks in step",
  dependsOn: [],
  // Without pep there is nothing to convert: the module then does nothing and says nothing.
  // Without private storage it keeps the two PEP nodes in step.
  uses: ["pep", "private_storage"],
  options: {},
  start({ modules, features }) {
    if (modules.pep === undefined) return;
    bookmarksConversion(modules.pep, modules.private_storage);
    features.account.add(COMPAT_PEP_FEATURE);
    if (modules.private_storage !== undefined) {
      for (const feature of PRIVATE_XML_FEATURES) features.account.add(feature);
    }
  },
};
