// Interoperability of what a contact's profile is made of, driven by slixmpp written elsewhere
// through its own plugins: avatars both ways between User Avatar and vCard-based avatars
// (XEP-0084, XEP-0153, the server's conversion of XEP-0398 §§3–4), bookmarks between private XML
// storage and PEP native bookmarks (XEP-0048, XEP-0049, XEP-0402 §6, XEP-0411), PEP notifications
// filtered by entity caps (XEP-0115 §§5–6, XEP-0163 §4), and client state indication (XEP-0352,
// with Prosody's mod_csi_simple rules). The client program is tests/clients/slixmpp_profile.py.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { runSlixmppFlow, slixmppTest } from "./_slixmpp.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Runs one flow of the client program against a fresh server. */
function runFlow(flow: string) {
  return runSlixmppFlow("slixmpp_profile.py", flow);
}

/** The bytes of base64 `text`, checked to be a PNG file, and their hex SHA-1. */
function png(text: unknown): { bytes: Uint8Array; sha1: string } {
  assert.equal(typeof text, "string");
  const bytes = Uint8Array.from(atob(text as string), (c) => c.charCodeAt(0));
  assert.deepEqual([...bytes.subarray(0, 8)], PNG_SIGNATURE, "a PNG signature");
  return { bytes, sha1: createHash("sha1").update(bytes).digest("hex") };
}

slixmppTest(
  "slixmpp avatars: a XEP-0084 avatar is in the vCard and the presence hash, a vCard PHOTO is in PEP",
  "slixmpp avatar interop",
  async () => {
    const run = await runFlow("avatars");
    assert.deepEqual(run.one("login"), {
      romeo: "romeo@localhost/laptop",
      juliet: "juliet@localhost/balcony",
      subscription: "both",
    });

    // Romeo's avatar: xep_0084 gave both items the SHA-1 of the image as id (XEP-0084 §4.1).
    const published = run.one("publish");
    const his = png(published.image);
    assert.equal(published.sha1, his.sha1);
    assert.equal(published.data_item, his.sha1);
    assert.equal(published.metadata_item, his.sha1);

    // XEP-0398 §3.1: his vCard has the same bytes as its PHOTO, with the metadata's type.
    const vcard = run.one("vcard");
    assert.equal(vcard.type, "image/png");
    assert.deepEqual(png(vcard.image).bytes, his.bytes);

    // §4: the presence he sends afterwards carries the hash, put there by the server (Romeo's
    // client has no xep_0153, it does not know vCard avatars).
    assert.deepEqual(run.one("presence"), { from: "romeo@localhost/laptop", photo: his.sha1 });

    // §3.2: Juliet's vCard PHOTO, set with xep_0153, is her User Avatar: one metadata item whose
    // id, and its info's, is the SHA-1 of her image, pointing at a data item with the same bytes.
    const set = run.one("set_vcard");
    const hers = png(set.image);
    assert.equal(set.sha1, hers.sha1);
    assert.notEqual(hers.sha1, his.sha1);
    assert.deepEqual(run.one("metadata"), {
      items: [{
        id: hers.sha1,
        info: [{ id: hers.sha1, type: "image/png", bytes: hers.bytes.length }],
      }],
    });
    const data = run.one("data");
    assert.equal(data.id, hers.sha1);
    assert.deepEqual(png(data.image).bytes, hers.bytes);
    assert.equal(run.steps.at(-1)?.step, "done");
  },
);

slixmppTest(
  "slixmpp bookmarks: private XML storage and PEP native bookmarks of two devices agree",
  "slixmpp bookmarks interop",
  async () => {
    const run = await runFlow("bookmarks");
    const orchard = {
      id: "orchard@conference.localhost",
      element: "{urn:xmpp:bookmarks:1}conference",
      name: "The Orchard",
      autojoin: "true",
      nick: "Romeo",
    };
    const balcony = {
      id: "balcony@conference.localhost",
      element: "{urn:xmpp:bookmarks:1}conference",
      name: "The Balcony",
      autojoin: "false",
      nick: "Romeo M.",
    };
    // XEP-0402 §6.2: the desktop's legacy list, stored in private XML, is one native item on
    // the phone, its id the room's JID.
    assert.deepEqual(run.one("native"), { items: [orchard] });
    // The phone's XEP-0402 publish adds one, after the first.
    assert.deepEqual(run.one("publish"), { item: balcony.id, items: [orchard, balcony] });

    // §6.1: the desktop sees both through xep_0048, in private XML (XEP-0049) and in the
    // legacy PEP node's one item (XEP-0048 §3.2, XEP-0411), autojoin as xep_0048 reads it.
    const conferences = [orchard, balcony].map(({ id, name, autojoin, nick }) => ({
      jid: id,
      name,
      autojoin: autojoin === "true",
      nick,
    }));
    assert.deepEqual(run.one("private"), { conferences });
    assert.deepEqual(run.one("legacy_pep"), { items: ["current"], conferences });
    assert.equal(run.steps.at(-1)?.step, "done");
  },
);

slixmppTest(
  "slixmpp entity caps: a tune goes to the contact whose caps say tune+notify, not to the other",
  "slixmpp caps +notify interop",
  async () => {
    const run = await runFlow("caps");
    const advertised = run.one("advertise") as Record<string, {
      node: string;
      ver: string;
      answered: { to: string; node: string }[];
      tune: boolean;
      notify: boolean;
    }>;
    const [juliet, nurse] = [advertised.juliet, advertised.nurse];
    // Both support tunes, only Juliet asks for their notifications; their hashes differ.
    assert.deepEqual([juliet.tune, juliet.notify], [true, true]);
    assert.deepEqual([nurse.tune, nurse.notify], [true, false]);
    assert.notEqual(juliet.ver, nurse.ver);
    // XEP-0115 §5.4 3.1: the server asked each, at node#ver, from her own account; slixmpp
    // answered once each, for the node her presence advertised.
    assert.deepEqual(juliet.answered, [
      { to: "juliet@localhost", node: `${juliet.node}#${juliet.ver}` },
    ]);
    assert.deepEqual(nurse.answered, [
      { to: "nurse@localhost", node: `${nurse.node}#${nurse.ver}` },
    ]);

    // XEP-0163 §4.3: the tune reaches Juliet from Romeo's bare JID, every field intact ...
    const published = run.one("publish");
    assert.equal(published.item, "current");
    assert.deepEqual(published.juliet, {
      from: "romeo@localhost",
      node: "http://jabber.org/protocol/tune",
      item: "current",
      artist: "Dire Straits",
      title: "Romeo and Juliet",
      length: "360",
      track: "5",
      source: "Making Movies",
    });
    assert.equal(published.juliet_tunes, 1);
    // ... and nothing of it reaches the nurse, who is subscribed too.
    assert.equal(published.nurse_tunes, 0);
    assert.equal(published.nurse_events, 0);
    assert.equal(run.steps.at(-1)?.step, "done");
  },
);

slixmppTest(
  "slixmpp CSI: while inactive, presence and chat states wait for a message with a body, in order",
  "slixmpp CSI interop",
  async () => {
    const run = await runFlow("csi");
    assert.deepEqual(run.one("login"), { csi: true });
    assert.deepEqual(run.one("inactive"), { arrived: [] });
    // Three presences and two chat states from Romeo, and nothing at all reaches Juliet.
    assert.deepEqual(run.one("held"), { arrived: [], stanzas: 0 });
    // The message with a body first flushes what was held, in the order it came, the presence
    // the latest only, each stamped with the delay of the user's server (XEP-0203).
    const held = "juliet@localhost";
    assert.deepEqual(run.one("body"), {
      arrived: [
        { kind: "message", state: "composing", body: null, delay: held },
        { kind: "message", state: "paused", body: null, delay: held },
        { kind: "presence", show: "xa", status: "three", delay: held },
        { kind: "message", state: "active", body: "Wherefore art thou?", delay: null },
      ],
    });
    // After <active/>, a presence goes out at once.
    assert.deepEqual(run.one("active"), {
      arrived: [{ kind: "presence", show: null, status: "back", delay: null }],
    });
    assert.equal(run.steps.at(-1)?.step, "done");
  },
);
