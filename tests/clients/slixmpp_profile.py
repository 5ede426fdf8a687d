"""Drives what a contact's profile is made of through slixmpp's own plugins: avatars, bookmarks,
PEP notifications filtered by entity caps, and client state indication.

--flow avatars (XEP-0084, XEP-0054, XEP-0153; the server converts, XEP-0398): Romeo and Juliet
subscribe to each other (roster API); Romeo publishes a PNG with xep_0084 (data, then metadata,
both open as XEP-0398 §6 asks); Juliet reads his vCard with xep_0054; Romeo sends a presence and
Juliet reads the hash in it (xep_0153's vcard_avatar_update); Juliet sets her vCard PHOTO with
xep_0153; Romeo reads her avatar metadata (xep_0060) and the data it points to (xep_0084).

--flow bookmarks (XEP-0048, XEP-0049, XEP-0402, XEP-0411): Romeo's desktop stores a room
bookmark in private XML storage with xep_0048; his phone reads urn:xmpp:bookmarks:1 with xep_0060
and publishes a second conference there; the desktop reads both back with xep_0048 (private XML
and the legacy PEP node).

--flow caps (XEP-0115 §§5–6, XEP-0163 §4): Juliet and the nurse subscribe to Romeo; both
advertise caps with xep_0115 and have xep_0118, but only Juliet keeps the tune+notify interest;
the server asks each for its disco#info, which slixmpp answers itself; Romeo publishes a tune
with xep_0118.

--flow csi (XEP-0352): Romeo and Juliet subscribe to each other; Juliet goes inactive with
xep_0352; Romeo changes his presence three times and sends two chat states (xep_0085); then a
message with a body; then Juliet goes active and Romeo changes his presence once more.

Every step prints one JSON line on stdout: {"step": NAME, "ok": true, ...facts}. The first step
that fails prints {"step": NAME, "ok": false, "error": ...} and the program exits 1. Each wait is
bounded by --timeout seconds, the whole run by --deadline seconds.

Usage: slixmpp_profile.py --flow avatars|bookmarks|caps|csi --host H --port P --domain D \
       --ca CERT --user1 NAME:PASSWORD --user2 NAME:PASSWORD [--user3 NAME:PASSWORD]
"""

import asyncio
import base64
import hashlib

from slixmpp.plugins.xep_0048.stanza import Bookmarks
from slixmpp.plugins.xep_0084.stanza import Info, MetaData
from slixmpp.xmlstream import ET, register_stanza_plugin

import _steps
from _steps import png

DELAY = "urn:xmpp:delay"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
AVATAR_METADATA = "urn:xmpp:avatar:metadata"
BOOKMARKS2 = "urn:xmpp:bookmarks:1"
TUNE = "http://jabber.org/protocol/tune"
PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options"


class Profile(_steps.Steps):
    def make_client(self, account, resource, plugins):
        return super().make_client(account, resource, ("xep_0030", *plugins))

    async def login(self, client, presence=True):
        await super().login(client)
        # RFC 6121 §2.1.6: a resource that asked for the roster gets its pushes.
        await client.get_roster(timeout=self.timeout)
        if presence:
            await self.send_initial_presence(client)

    async def send_initial_presence(self, client):
        own = self.expect(client, "presence_available", lambda p: p["from"] == client.boundjid)
        client.send_presence()
        await self.within(own, "the reflected initial presence")

    async def subscribe(self, client, contact, mutual=True):
        """`client` subscribes to `contact` through the roster API; slixmpp's roster answers for
        `contact` itself (auto_authorize) and, when `mutual`, asks back (auto_subscribe), so both
        end at "both"; otherwise `client` ends at "to" and `contact` at "from"."""
        for side in (client, contact):
            side.roster.auto_authorize = True
            side.roster.auto_subscribe = mutual
        client.send_presence_subscription(pto=contact.boundjid.bare)
        a, b = client.boundjid.bare, contact.boundjid.bare
        ours, theirs = ("both", "both") if mutual else ("to", "from")
        await self.until(
            lambda: client.client_roster[b]["subscription"] == ours
            and contact.client_roster[a]["subscription"] == theirs,
            f"{a} to be subscribed to {b}" + (" and back" if mutual else ""),
        )

    async def round_trip(self, client):
        """An iq to the server and its answer: what `client` sent before has been handled."""
        await client["xep_0030"].get_info(jid=self.args.domain, timeout=self.timeout)

    def form(self, client, form_type, fields):
        form = client["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden", value=form_type)
        for var, value in fields.items():
            form.add_field(var=var, value=value)
        return form

    # --- avatars ------------------------------------------------------------------------------

    async def avatars(self):
        args = self.args
        romeo = self.make_client(args.user1, "laptop", ("xep_0004", "xep_0060", "xep_0084"))
        juliet = self.make_client(args.user2, "balcony", ("xep_0054", "xep_0153"))
        self.step_name = "login"
        await self.login(romeo)
        await self.login(juliet)
        await self.subscribe(romeo, juliet)
        self.report("login", romeo=str(romeo.boundjid), juliet=str(juliet.boundjid),
                    subscription=romeo.client_roster[juliet.boundjid.bare]["subscription"])

        self.step_name = "publish"
        image = png(4, 3, (0xC0, 0x20, 0x40))
        sha1 = romeo["xep_0084"].generate_id(image)
        # XEP-0398 §6: the server copies an avatar to the vCard only from an open data node.
        open_node = self.form(romeo, PUBLISH_OPTIONS, {"pubsub#access_model": "open"})
        data = await romeo["xep_0084"].publish_avatar(image, options=open_node,
                                                      timeout=self.timeout)
        metadata = await romeo["xep_0084"].publish_avatar_metadata(
            {"id": sha1, "type": "image/png", "bytes": str(len(image)),
             "width": "4", "height": "3"},
            options=open_node, timeout=self.timeout)
        self.report("publish", image=base64.b64encode(image).decode(), sha1=sha1,
                    data_item=data["pubsub"]["publish"]["item"]["id"],
                    metadata_item=metadata["pubsub"]["publish"]["item"]["id"])

        self.step_name = "vcard"
        result = await juliet["xep_0054"].get_vcard(romeo.boundjid.bare, cached=False,
                                                    timeout=self.timeout)
        photo = result["vcard_temp"]["PHOTO"]
        self.report("vcard", type=photo["TYPE"] or None,
                    image=base64.b64encode(photo["BINVAL"] or b"").decode())

        self.step_name = "presence"
        update = self.expect(juliet, "vcard_avatar_update",
                             lambda p: p["status"] == "with an avatar")
        romeo.send_presence(pstatus="with an avatar")
        presence = await self.within(update, "Romeo's presence with the avatar hash")
        self.report("presence", **{"from": str(presence["from"])},
                    photo=presence["vcard_temp_update"]["photo"])

        self.step_name = "set_vcard"
        her_image = png(2, 2, (0x30, 0x90, 0x60))
        await juliet["xep_0153"].set_avatar(avatar=her_image, mtype="image/png",
                                            timeout=self.timeout)
        self.report("set_vcard", image=base64.b64encode(her_image).decode(),
                    sha1=hashlib.sha1(her_image).hexdigest())

        self.step_name = "metadata"
        # xep_0084 registers its metadata stanza on notifications only (through xep_0163); on
        # an item read with get_items it is registered here.
        register_stanza_plugin(romeo["xep_0060"].stanza.Item, MetaData)
        result = await romeo["xep_0060"].get_items(juliet.boundjid.bare, AVATAR_METADATA,
                                                   timeout=self.timeout)
        items = []
        for item in result["pubsub"]["items"]:
            infos = [i for i in item["avatar_metadata"]["substanzas"] if isinstance(i, Info)]
            items.append({
                "id": item["id"],
                "info": [{"id": i["id"], "type": i["type"], "bytes": i["bytes"]} for i in infos],
            })
        self.report("metadata", items=items)

        self.step_name = "data"
        avatar = await romeo["xep_0084"].retrieve_avatar(juliet.boundjid.bare, items[-1]["id"],
                                                         timeout=self.timeout)
        item = avatar["pubsub"]["items"]["item"]
        self.report("data", id=item["id"],
                    image=base64.b64encode(item["avatar_data"]["value"]).decode())

    # --- bookmarks ----------------------------------------------------------------------------

    async def bookmarks(self):
        args = self.args
        desktop = self.make_client(args.user1, "desktop", ("xep_0048", "xep_0049", "xep_0223"))
        phone = self.make_client(args.user1, "phone", ("xep_0004", "xep_0060"))
        self.step_name = "login"
        await self.login(desktop, presence=False)
        await self.login(phone, presence=False)
        self.report("login", desktop=str(desktop.boundjid), phone=str(phone.boundjid))

        self.step_name = "store"
        stored = Bookmarks()
        stored.add_conference(f"orchard@conference.{args.domain}", "Romeo",
                              name="The Orchard", autojoin=True)
        await desktop["xep_0048"].set_bookmarks(stored, method="xep_0049", timeout=self.timeout)
        self.report("store")

        self.step_name = "native"
        self.report("native", items=await self.native_bookmarks(phone))

        self.step_name = "publish"
        # COMPAT: slixmpp 1.8.3 has no XEP-0402 plugin, so the conference element is built here
        # and published with xep_0060, with XEP-0402 §3.3's publish-options.
        room = f"balcony@conference.{args.domain}"
        conference = ET.Element(f"{{{BOOKMARKS2}}}conference",
                                {"name": "The Balcony", "autojoin": "false"})
        ET.SubElement(conference, f"{{{BOOKMARKS2}}}nick").text = "Romeo M."
        options = self.form(phone, PUBLISH_OPTIONS, {
            "pubsub#persist_items": "true",
            "pubsub#max_items": "max",
            "pubsub#send_last_published_item": "never",
            "pubsub#access_model": "whitelist",
        })
        result = await phone["xep_0060"].publish(phone.boundjid.bare, BOOKMARKS2, id=room,
                                                 payload=conference, options=options,
                                                 timeout=self.timeout)
        self.report("publish", item=result["pubsub"]["publish"]["item"]["id"],
                    items=await self.native_bookmarks(phone))

        self.step_name = "private"
        result = await desktop["xep_0048"].get_bookmarks(method="xep_0049", timeout=self.timeout)
        self.report("private", conferences=self.conferences(result["private"]["bookmarks"]))

        self.step_name = "legacy_pep"
        result = await desktop["xep_0048"].get_bookmarks(method="xep_0223", timeout=self.timeout)
        items = result["pubsub"]["items"]
        self.report("legacy_pep", items=[item["id"] for item in items],
                    conferences=self.conferences(items["item"]["bookmarks"]))

    async def native_bookmarks(self, client):
        result = await client["xep_0060"].get_items(client.boundjid.bare, BOOKMARKS2,
                                                    timeout=self.timeout)
        found = []
        for item in result["pubsub"]["items"]:
            payload = item["payload"]
            found.append({
                "id": item["id"],
                "element": payload.tag,
                "name": payload.get("name"),
                "autojoin": payload.get("autojoin"),
                "nick": payload.findtext(f"{{{BOOKMARKS2}}}nick"),
            })
        return found

    def conferences(self, bookmarks):
        return [{
            "jid": str(c["jid"]),
            "name": c["name"],
            "autojoin": c["autojoin"],
            "nick": c["nick"],
        } for c in bookmarks["conferences"]]

    # --- entity caps and +notify --------------------------------------------------------------

    def caps_answers(self, client):
        """The disco#info results `client` sends for a caps node (the server's query, XEP-0115
        §5.4 3.1, answered by slixmpp's xep_0030 itself), seen through an outgoing filter."""
        answers = []
        waiting = []

        def watch(stanza):
            # Read from the XML: asking the stanza for its disco_info would add one to it.
            query = stanza.xml.find(f"{{{DISCO_INFO}}}query") if stanza.name == "iq" else None
            node = query.get("node") if query is not None else None
            if stanza["type"] == "result" and node is not None and "#" in node:
                answers.append({"to": str(stanza["to"]), "node": node})
                for future in waiting:
                    if not future.done():
                        future.set_result(True)
            return stanza

        client.add_filter("out", watch)

        def answered():
            future = asyncio.get_running_loop().create_future()
            if answers:
                future.set_result(True)
            else:
                waiting.append(future)
            return future

        return answers, answered

    async def caps(self):
        args = self.args
        romeo = self.make_client(args.user1, "laptop", ("xep_0004", "xep_0060", "xep_0118"))
        # Each has a caps hash of its own (Juliet's client has chat states as well), so that the
        # server asks each one, and not only the first that sent it (XEP-0115 §5.4 3.1).
        juliet = self.make_client(args.user2, "balcony", ("xep_0085", "xep_0115", "xep_0118"))
        nurse = self.make_client(args.user3, "chamber", ("xep_0115", "xep_0118"))

        def drop_interest(_):
            # COMPAT: XEP_0163.remove_interest in slixmpp 1.8.3 formats the list it made of its
            # argument ("['…']+notify"), so it removes nothing; the feature goes through
            # xep_0030. This runs after xep_0118's own session_bind, which added it.
            nurse["xep_0030"].del_feature(feature=f"{TUNE}+notify")

        nurse.add_event_handler("session_bind", drop_interest)
        tunes = {"juliet": [], "nurse": []}
        events = {"nurse": 0}
        nurse.add_event_handler("pubsub_publish",
                                lambda _: events.__setitem__("nurse", events["nurse"] + 1))
        for name, client in (("juliet", juliet), ("nurse", nurse)):
            client.add_event_handler("user_tune_publish",
                                     lambda msg, n=name: tunes[n].append(msg))

        self.step_name = "login"
        answers = {}
        for name, client in (("juliet", juliet), ("nurse", nurse)):
            answers[name] = self.caps_answers(client)
            await self.login(client, presence=False)
            # The +notify features are in before the first presence carries the caps.
            await client["xep_0115"].update_caps(broadcast=False)
        await self.login(romeo)
        self.report("login")

        self.step_name = "advertise"
        facts = {}
        for name, client in (("juliet", juliet), ("nurse", nurse)):
            # Presence subscriptions are what PEP's default access model asks (XEP-0163 §5).
            await self.subscribe(client, romeo, mutual=False)
            answered = answers[name][1]()
            await self.send_initial_presence(client)
            await self.within(answered, f"the server's disco#info query to {name}")
            # Her answer was sent before this iq: the server has read it when this is answered.
            await self.round_trip(client)
            # What the client itself advertises (a local query gives the DiscoInfo stanza).
            info = await client["xep_0030"].get_info(jid=client.boundjid.full, local=True)
            features = info["features"]
            facts[name] = {
                "node": client["xep_0115"].caps_node,
                "ver": await client["xep_0115"].get_verstring(client.boundjid.full),
                "answered": answers[name][0],
                "tune": TUNE in features,
                "notify": f"{TUNE}+notify" in features,
            }
        self.report("advertise", **facts)

        self.step_name = "publish"
        received = self.expect(juliet, "user_tune_publish")
        result = await romeo["xep_0118"].publish_tune(
            artist="Dire Straits", title="Romeo and Juliet", length=360, track="5",
            source="Making Movies", timeout=self.timeout)
        item_id = result["pubsub"]["publish"]["item"]["id"]
        message = await self.within(received, "Juliet to receive the tune")
        event_item = message["pubsub_event"]["items"]["item"]
        tune = event_item["tune"]
        # The notifications of one publish go out together; the nurse's would be here by now.
        await self.round_trip(romeo)
        await asyncio.sleep(0.3)
        self.report(
            "publish",
            item=item_id,
            juliet={
                "from": str(message["from"]),
                "node": message["pubsub_event"]["items"]["node"],
                "item": event_item["id"],
                "artist": tune["artist"],
                "title": tune["title"],
                "length": tune["length"],
                "track": tune["track"],
                "source": tune["source"],
            },
            juliet_tunes=len(tunes["juliet"]),
            nurse_tunes=len(tunes["nurse"]),
            nurse_events=events["nurse"],
        )

    # --- client state indication --------------------------------------------------------------

    async def csi(self):
        args = self.args
        romeo = self.make_client(args.user1, "laptop", ("xep_0085",))
        juliet = self.make_client(args.user2, "phone", ("xep_0085", "xep_0203", "xep_0352"))
        csi_enabled = self.expect(juliet, "csi_enabled")
        self.step_name = "login"
        await self.login(romeo)
        await self.login(juliet)
        await self.within(csi_enabled, "xep_0352 to find the csi stream feature")
        await self.subscribe(romeo, juliet)
        self.report("login", csi=juliet["xep_0352"].enabled)

        # What reaches Juliet from Romeo, in arrival order, seen before any handler; and how
        # many stanzas reach her at all.
        arrived = []
        waiting = {}
        romeo_bare = romeo.boundjid.bare

        everything = [0]

        def watch(stanza):
            everything[0] += 1
            if stanza.name in ("presence", "message") and stanza["from"].bare == romeo_bare:
                # Looked for first: asking a stanza for its delay would add one to it.
                stamped = stanza.xml.find(f"{{{DELAY}}}delay") is not None
                delay = str(stanza["delay"]["from"]) if stamped else None
                if stanza.name == "presence":
                    arrived.append({"kind": "presence", "show": stanza["show"] or None,
                                    "status": stanza["status"], "delay": delay})
                else:
                    arrived.append({"kind": "message", "state": stanza["chat_state"] or None,
                                    "body": stanza["body"] or None, "delay": delay})
                for count, future in list(waiting.items()):
                    if len(arrived) >= count and not future.done():
                        future.set_result(True)
            return stanza

        def reached(count):
            future = asyncio.get_running_loop().create_future()
            if len(arrived) >= count:
                future.set_result(True)
            else:
                waiting[count] = future
            return future

        juliet.add_filter("in", watch)

        self.step_name = "inactive"
        juliet["xep_0352"].send_inactive()
        # The server reads <inactive/> before this iq (an iq result is sent at once, with
        # whatever is held: nothing yet).
        await self.round_trip(juliet)
        before = len(arrived)
        self.report("inactive", arrived=arrived[:])
        quiet_from = everything[0]

        self.step_name = "held"
        to = juliet.boundjid.bare

        def chat_state(state):
            message = romeo.make_message(mto=to, mtype="chat")
            message["chat_state"] = state
            message.send()

        romeo.send_presence(pshow="away", pstatus="one")
        chat_state("composing")
        romeo.send_presence(pshow="away", pstatus="two")
        chat_state("paused")
        romeo.send_presence(pshow="xa", pstatus="three")
        await self.round_trip(romeo)
        await asyncio.sleep(0.5)
        self.report("held", arrived=arrived[before:], stanzas=everything[0] - quiet_from)

        self.step_name = "body"
        flushed = reached(before + 4)
        message = romeo.make_message(mto=to, mbody="Wherefore art thou?", mtype="chat")
        message["chat_state"] = "active"
        message.send()
        await self.within(flushed, "the held stanzas and the message")
        await asyncio.sleep(0.2)
        self.report("body", arrived=arrived[before:])

        self.step_name = "active"
        after = len(arrived)
        juliet["xep_0352"].send_active()
        await self.round_trip(juliet)
        back = reached(after + 1)
        romeo.send_presence(pstatus="back")
        await self.within(back, "Romeo's presence after <active/>")
        self.report("active", arrived=arrived[after:])


def options():
    parser = _steps.parser("slixmpp profile flows against an XMPP server", ("NAME:PASSWORD",))
    parser.add_argument("--flow", choices=("avatars", "bookmarks", "caps", "csi"), required=True)
    parser.add_argument("--user2", help="NAME:PASSWORD")
    parser.add_argument("--user3", help="NAME:PASSWORD (caps: the contact without +notify)")
    return parser


if __name__ == "__main__":
    _steps.main(Profile, options())
