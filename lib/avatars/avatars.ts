// Avatar conversion between User Avatar (XEP-0084) and vCard-based avatars (XEP-0153), as
// XEP-0398 §3 describes. §3.1: a publish to `urn:xmpp:avatar:metadata` takes the data item its
// first info without a url points to (`urn:xmpp:avatar:data`), checks that the SHA-1 of the image
// is the id, and stores the image as the vCard's PHOTO; an empty metadata item (XEP-0084 §4.7)
// removes the PHOTO. §6: this is done only while the data node's access model is `open`, as the
// vCard is readable by anyone. §3.2: a vCard set with a PHOTO publishes the data item (id the
// SHA-1) and then the metadata item with its type, with notifications; the nodes are created open.
// Writes made by the conversion go through the modules' APIs, which do not call the change
// listeners, so nothing converts back. §4, the hash in presence, is presence_hash.ts.
import { createHash } from "node:crypto";
import type { PepApi } from "../pep/mod.ts";
import { NS } from "../stanza/ns.ts";
import type { VcardApi } from "../vcard/mod.ts";
import { el, Element } from "../xml/element.ts";

/** XEP-0084's nodes and namespaces. */
export const NS_AVATAR_DATA = "urn:xmpp:avatar:data";
export const NS_AVATAR_METADATA = "urn:xmpp:avatar:metadata";

/** The hex SHA-1 of base64 image data, and its bytes; undefined when it is not base64. */
export function imageHash(base64: string): { sha1: string; bytes: number } | undefined {
  const clean = base64.replace(/\s+/g, "");
  if (clean === "" || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) {
    return undefined;
  }
  let binary: string;
  try {
    binary = atob(clean);
  } catch {
    return undefined;
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return { sha1: createHash("sha1").update(bytes).digest("hex"), bytes: bytes.length };
}

/** The vCard with its PHOTO replaced (or removed when `photo` is undefined). */
export function withPhoto(vcard: Element | null, photo?: { type: string; base64: string }) {
  const source = vcard ?? el("vCard", { xmlns: NS.VCARD });
  const base = new Element(
    source.name,
    { ...source.attrs },
    source.children
      .filter((child) => typeof child === "string" || child.name !== "PHOTO")
      .map((child) => typeof child === "string" ? child : child.clone()),
  );
  if (photo !== undefined) {
    base.append(
      el(
        "PHOTO",
        {},
        photo.type !== "" && el("TYPE", {}, photo.type),
        el("BINVAL", {}, photo.base64),
      ),
    );
  }
  return base;
}

/** Installs the conversion in both directions. */
export function avatarConversion(pep: PepApi, vcards: VcardApi): void {
  // §3.1: from PEP to vCard.
  pep.onChange(({ username, node, kind, payload }) => {
    if (node !== NS_AVATAR_METADATA || kind !== "publish" || payload === undefined) return;
    const info = payload.getChildren("info").find((i) => i.attrs.url === undefined);
    if (info === undefined) {
      // XEP-0084 §4.7: publishing is disabled; the vCard loses its PHOTO too.
      const vcard = vcards.get(username);
      if (vcard?.getChild("PHOTO") !== undefined) vcards.set(username, withPhoto(vcard));
      return;
    }
    if (pep.node(username, NS_AVATAR_DATA)?.accessModel !== "open") return; // §6
    const id = info.attrs.id ?? "";
    const [data] = pep.items(username, NS_AVATAR_DATA).filter((item) => item.id === id);
    if (data === undefined) return;
    const base64 = data.payload.getText().replace(/\s+/g, "");
    if (imageHash(base64)?.sha1 !== id.toLowerCase()) return;
    vcards.set(username, withPhoto(vcards.get(username), { type: info.attrs.type ?? "", base64 }));
  });

  // §3.2: from vCard to PEP.
  vcards.onSet((username, vcard) => {
    const photo = vcard.getChild("PHOTO");
    const base64 = photo?.getChildText("BINVAL")?.replace(/\s+/g, "");
    if (base64 === undefined) return;
    const hash = imageHash(base64);
    if (hash === undefined) return;
    const current = pep.items(username, NS_AVATAR_METADATA).at(-1);
    if (current?.id === hash.sha1) return;
    const type = photo!.getChildText("TYPE")?.trim() || "image/png";
    const config = { accessModel: "open" as const };
    pep.publish(
      username,
      NS_AVATAR_DATA,
      hash.sha1,
      el("data", { xmlns: NS_AVATAR_DATA }, base64),
      config,
    );
    pep.publish(
      username,
      NS_AVATAR_METADATA,
      hash.sha1,
      el(
        "metadata",
        { xmlns: NS_AVATAR_METADATA },
        el("info", { id: hash.sha1, bytes: String(hash.bytes), type }),
      ),
      config,
    );
  });
}
