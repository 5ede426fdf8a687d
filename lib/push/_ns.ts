// The namespaces only push speaks. COMPAT: kept beside the module rather than in
// lib/stanza/ns.ts while that file is edited concurrently; move them there with the next edit.

/** XEP-0357 §4, §5, §6, §7: enable, disable, notification. */
export const PUSH = "urn:xmpp:push:0";
/** XEP-0357 §7, §12.3: the FORM_TYPE of the notification's summary form. */
export const PUSH_SUMMARY = "urn:xmpp:push:summary";
/** OMEMO as deployed (Conversations' legacy namespace) and its standard versions (XEP-0384). */
export const OMEMO_LEGACY = "eu.siacs.conversations.axolotl";
export const OMEMO_0 = "urn:xmpp:omemo:0";
export const OMEMO_2 = "urn:xmpp:omemo:2";
/** Legacy OpenPGP (XEP-0027) and OpenPGP for XMPP (XEP-0373). */
export const PGP_ENCRYPTED = "jabber:x:encrypted";
export const OPENPGP = "urn:xmpp:openpgp:0";
