// Contact Addresses for XMPP Services (XEP-0157 §2): a serverinfo form in the server's disco#info.
import type { Router } from "../router/router.ts";
import { NS } from "../stanza/ns.ts";
import { el, type Element } from "../xml/element.ts";

/** Contact addresses (XEP-0157) published in the server's disco#info, as URIs. */
export interface ContactAddresses {
  abuse: string[];
  admin: string[];
  feedback: string[];
  sales: string[];
  security: string[];
  support: string[];
}

/** The XEP-0157 address kinds, in the order they are published. */
export const CONTACT_KINDS: readonly (keyof ContactAddresses)[] = [
  "abuse",
  "admin",
  "feedback",
  "sales",
  "security",
  "support",
];

/**
 * Publishes the configured addresses as an XEP-0128 extension of the server's disco#info:
 * one `<kind>-addresses` field per kind that has addresses, in the XEP's order; no form at all
 * when none is configured.
 */
export function contactAddressesModule(router: Router, addresses: ContactAddresses): void {
  const kinds = CONTACT_KINDS.filter((kind) => addresses[kind].length > 0);
  if (kinds.length === 0) return;
  router.serverInfoForms.push(() => contactForm(addresses, kinds));
}

function contactForm(
  addresses: ContactAddresses,
  kinds: readonly (keyof ContactAddresses)[],
): Element {
  return el(
    "x",
    { xmlns: NS.DATA_FORMS, type: "result" },
    el("field", { var: "FORM_TYPE", type: "hidden" }, el("value", {}, NS.SERVER_INFO)),
    ...kinds.map((kind) =>
      el(
        "field",
        { var: `${kind}-addresses` },
        ...addresses[kind].map((uri) => el("value", {}, uri)),
      )
    ),
  );
}
