// The avatar hash in presence on the user's behalf, XEP-0398 §4: every available presence a
// client sends, broadcast or directed (MUC joins included), carries the SHA-1 of the current
// User Avatar (XEP-0084: the metadata item's id) in XEP-0153's `vcard-temp:x:update`. A presence
// without that element gets one; an element without `<photo/>` is completed; a `<photo/>` the
// client set is left alone (§4 allows overwriting only a different hash; an empty one means the
// client has not loaded its avatar yet, XEP-0153 §4.1). No avatar gives an empty `<photo/>`,
// XEP-0153's "no avatar", as Prosody does.
import type { PepApi } from "../pep/mod.ts";
import type { Router } from "../router/router.ts";
import { el, Element } from "../xml/element.ts";
import { NS_AVATAR_METADATA } from "./avatars.ts";

export const NS_VCARD_UPDATE = "vcard-temp:x:update";

/** The presence with the hash of `hash` (undefined: no avatar) in its update element. */
export function withAvatarHash(presence: Element, hash: string | undefined): Element {
  const update = presence.getChild("x", NS_VCARD_UPDATE);
  if (update?.getChild("photo", NS_VCARD_UPDATE) !== undefined) return presence;
  const photo = el("photo", {}, hash ?? "");
  const children = update === undefined
    ? [...presence.children, el("x", { xmlns: NS_VCARD_UPDATE }, photo)]
    : presence.children.map((child) =>
      child === update
        ? new Element(update.name, { ...update.attrs }, [...update.children, photo])
        : child
    );
  return new Element(presence.name, { ...presence.attrs }, children);
}

/** Puts each user's avatar hash in the available presence their clients send. */
export function avatarHashInPresence(router: Router, pep: PepApi): void {
  router.hooks.on("client-presence", (event) => {
    const current = pep.items(event.origin.jid.local, NS_AVATAR_METADATA).at(-1);
    // XEP-0084 §4.7: an empty metadata item says the user has no avatar.
    const hash = current?.payload.getChild("info") === undefined ? undefined : current.id;
    event.stanza = withAvatarHash(event.stanza, hash);
  });
}
