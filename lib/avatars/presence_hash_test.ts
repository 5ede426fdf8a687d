import { strict as assert } from "node:assert";
import { el } from "../xml/element.ts";
import { NS_VCARD_UPDATE, withAvatarHash } from "./presence_hash.ts";

const HASH = "9d4a0b3febfe3ac4bc7b42a377f1efe265e9ddeb";
const photoOf = (presence: ReturnType<typeof el>) =>
  presence.getChild("x", NS_VCARD_UPDATE)?.getChild("photo", NS_VCARD_UPDATE);

Deno.test("withAvatarHash adds the update element, or an empty photo when there is no avatar", () => {
  const presence = el("presence", {}, el("show", {}, "away"));
  assert.equal(photoOf(withAvatarHash(presence, HASH))?.getText(), HASH);
  assert.equal(withAvatarHash(presence, HASH).getChildText("show"), "away");
  const none = photoOf(withAvatarHash(presence, undefined));
  assert.ok(none !== undefined);
  assert.equal(none.getText(), "");
  assert.equal(presence.getChild("x", NS_VCARD_UPDATE), undefined, "the original is unchanged");
});

Deno.test("withAvatarHash completes an empty update element and keeps a client's photo", () => {
  const empty = el("presence", {}, el("x", { xmlns: NS_VCARD_UPDATE }));
  const completed = withAvatarHash(empty, HASH);
  assert.equal(completed.getChildren("x", NS_VCARD_UPDATE).length, 1);
  assert.equal(photoOf(completed)?.getText(), HASH);
  const own = el("presence", {}, el("x", { xmlns: NS_VCARD_UPDATE }, el("photo")));
  assert.equal(withAvatarHash(own, HASH), own);
});
