// Contact Addresses for XMPP Services (XEP-0157) as a server module, section [contact]: see
// contact_addresses.ts.
import { uris } from "../config/values.ts";
import type { ModuleOption, NamedModule } from "../modules/module.ts";
import { type ContactAddresses, contactAddressesModule } from "./contact_addresses.ts";

export {
  CONTACT_KINDS,
  type ContactAddresses,
  contactAddressesModule,
} from "./contact_addresses.ts";

const addresses: ModuleOption<string[]> = { default: [], read: uris };

/**
 * Publishes the configured addresses in the server's disco#info. Named `contact` (the name of its
 * configuration section since before modules existed).
 */
export const CONTACT_MODULE: NamedModule<"contact", ContactAddresses> = {
  name: "contact",
  description: "Contact Addresses (XEP-0157) in the server's disco#info",
  dependsOn: [],
  options: {
    abuse: addresses,
    admin: addresses,
    feedback: addresses,
    sales: addresses,
    security: addresses,
    support: addresses,
  },
  start({ router, config }) {
    contactAddressesModule(router, config);
  },
};
