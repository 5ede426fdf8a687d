// Bookmark conversion (XEP-0402 §5.3, XEP-0411) as a server module: see bookmarks.ts.
import type { NamedModule } from "../modules/module.ts";
import type { PepApi } from "../pep/mod.ts";
import type { PrivateStorageApi } from "../private_storage/mod.ts";
import { BOOKMARKS_FEATURES, bookmarksConversion } from "./bookmarks.ts";

export {
  BOOKMARKS_FEATURES,
  bookmarksConversion,
  NS_BOOKMARKS2,
  NS_LEGACY,
  toBookmarks2,
  toLegacy,
} from "./bookmarks.ts";

/** Legacy private-XML bookmarks and PEP Native Bookmarks kept in step. */
export const BOOKMARKS_MODULE: NamedModule<
  "bookmarks",
  Record<never, never>,
  void,
  { pep?: PepApi; private_storage?: PrivateStorageApi }
> = {
  name: "bookmarks",
  description:
    "Bookmarks conversion (XEP-0402 §5.3, XEP-0411): private XML (XEP-0048) and PEP bookmarks in step",
  dependsOn: [],
  // Without either there is nothing to convert: the module then does nothing and says nothing.
  uses: ["pep", "private_storage"],
  options: {},
  start({ modules, features }) {
    if (modules.pep === undefined || modules.private_storage === undefined) return;
    bookmarksConversion(modules.pep, modules.private_storage);
    for (const feature of BOOKMARKS_FEATURES) features.account.add(feature);
  },
};
