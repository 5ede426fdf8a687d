"""Drives the MUC additions through slixmpp's own plugins: room archives, self-ping, occupant ids
and room vCards. Every flow starts with Romeo creating a room with xep_0045 and accepting it as
an instant room (XEP-0045 §10.1.2), then Juliet entering.

--flow archive (XEP-0313 §3.3.2 on a room, XEP-0359, XEP-0059): Romeo and Juliet take turns at
--messages groupchat messages, each sent once the one before has reached both; Juliet leaves; the
nurse enters and reads the room's archive with xep_0313 (jid=room, RSM pages of --page through
the iterator). Both live copies of each message are reported with their <stanza-id/>s.

--flow self_ping (XEP-0410 §3): Juliet pings her own occupant JID with xep_0199 (slixmpp 1.8.3 has
no xep_0410: a self-ping is a XEP-0199 ping to room/nick); she leaves and pings it again.

--flow occupant_id (XEP-0421): the room's disco#info (xep_0030);
every presence and message from an occupant JID seen by anyone, with its <occupant-id/>s; Juliet
changes her nickname, leaves and enters again; the nurse enters; Juliet sends a message carrying
an <occupant-id/> of her own (xep_0421's stanza).

--flow vcard (XEP-0054 on a room, XEP-0153, XEP-0486): Romeo sets the room's vCard with a PHOTO
with xep_0054 (publish_vcard to the room JID); Juliet reads it back, reads the room's disco#info
(xep_0030 with xep_0128 for the room-info form), and tries to set it herself. The presences from
the room's bare JID and the status 104 each occupant gets are reported.

Every step prints one JSON line on stdout: {"step": NAME, "ok": true, ...facts}. The first step
that fails prints {"step": NAME, "ok": false, "error": ...} and the program exits 1. Each wait is
bounded by --timeout seconds, the whole run by --deadline seconds.

Usage: slixmpp_muc.py --flow archive|self_ping|occupant_id|vcard --host H --port P --domain D \
       --ca CERT --user1 NAME:PASSWORD --user2 NAME:PASSWORD --user3 NAME:PASSWORD
"""

import base64
import hashlib

from slixmpp.exceptions import IqError
from slixmpp.plugins.xep_0004.stanza import Form

import _steps
from _steps import StepFailed, png

MUC_USER = "http://jabber.org/protocol/muc#user"
OCCUPANT_ID = "urn:xmpp:occupant-id:0"
STANZA_ID = "urn:xmpp:sid:0"
VCARD_UPDATE = "vcard-temp:x:update"
STANZA_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def iq_error(error):
    """What an IqError says: type, condition, and the error's from and by."""
    by = error.iq.xml.find("{jabber:client}error")
    return {
        "type": error.etype,
        "condition": error.condition,
        "from": str(error.iq["from"]),
        "by": by.get("by") if by is not None else None,
    }


class Muc(_steps.Steps):
    def __init__(self, args):
        super().__init__(args)
        self.room = f"{args.room}@conference.{args.domain}"

    def make_client(self, account, resource, plugins):
        plugins = ("xep_0030", "xep_0004", "xep_0045", *plugins)
        return super().make_client(account, resource, plugins)

    async def round_trip(self, client):
        """An iq to the server and its answer: what `client` sent before has been handled."""
        await client["xep_0030"].get_info(jid=self.args.domain, timeout=self.timeout)

    async def create_room(self, romeo, nick="Romeo"):
        """Romeo enters a new room (locked, 201) and accepts it as an instant room (§10.1.2)."""
        presence, _subject, _occupants, _history = await romeo["xep_0045"].join_muc_wait(
            self.room, nick, maxstanzas=0, timeout=self.timeout)
        codes = sorted(presence["muc"]["status_codes"])
        instant = romeo["xep_0004"].make_form(ftype="submit")
        await romeo["xep_0045"].set_room_config(self.room, instant, timeout=self.timeout)
        return codes

    async def enter(self, client, nick, watchers=()):
        """`client` enters as `nick`; returns once each of `watchers` has seen it come online."""
        seen = [self.expect(w, f"muc::{self.room}::got_online",
                            lambda p: p["muc"]["nick"] == nick) for w in watchers]
        result = await client["xep_0045"].join_muc_wait(self.room, nick, maxstanzas=0,
                                                        timeout=self.timeout)
        for future in seen:
            await self.within(future, f"{nick} to be seen entering")
        return result

    async def leave(self, client, nick, watchers):
        """`client` leaves; returns once each of `watchers` has seen it go."""
        gone = [self.expect(w, f"muc::{self.room}::got_offline",
                            lambda p: p["muc"]["nick"] == nick) for w in watchers]
        client["xep_0045"].leave_muc(self.room, nick)
        for future in gone:
            await self.within(future, f"{nick} to be seen leaving")

    def groupchat(self, client, body, extra=None):
        message = client.make_message(mto=self.room, mbody=body, mtype="groupchat")
        if extra is not None:
            extra(message)
        message.send()

    # --- room archive -------------------------------------------------------------------------

    async def archive(self):
        args = self.args
        romeo = self.make_client(args.user1, "laptop", ())
        juliet = self.make_client(args.user2, "balcony", ())
        nurse = self.make_client(args.user3, "chamber", ("xep_0059", "xep_0297", "xep_0313"))
        self.step_name = "create"
        for client in (romeo, juliet, nurse):
            await self.login(client)
        codes = await self.create_room(romeo)
        info = await romeo["xep_0030"].get_info(jid=self.room, timeout=self.timeout)
        self.report("create", room=self.room, status_codes=codes,
                    mam="urn:xmpp:mam:2" in info["disco_info"]["features"])

        self.step_name = "join"
        await self.enter(juliet, "Juliet", watchers=(romeo,))
        self.report("join")

        # What each hears, read from the XML: every <stanza-id/> the live copy carries.
        live = {"romeo": [], "juliet": []}
        for name, client in (("romeo", romeo), ("juliet", juliet)):
            client.add_event_handler(
                f"muc::{self.room}::message",
                lambda m, n=name: live[n].append({
                    "body": m["body"],
                    "from": str(m["from"]),
                    "stanza_ids": [{"id": s.get("id"), "by": s.get("by")}
                                   for s in m.xml.findall(f"{{{STANZA_ID}}}stanza-id")],
                }))

        self.step_name = "talk"
        senders = ((romeo, "Romeo"), (juliet, "Juliet"))
        bodies = [f"line {n:03}" for n in range(1, args.messages + 1)]
        for index, body in enumerate(bodies):
            client, _nick = senders[index % 2]
            self.groupchat(client, body)
            # The next waits for this one at both ends: the room's order is the sending order.
            await self.until(lambda: len(live["romeo"]) > index and len(live["juliet"]) > index,
                             f"both to hear {body!r}")
        self.report("talk", romeo=live["romeo"], juliet=live["juliet"])

        self.step_name = "leave"
        await self.leave(juliet, "Juliet", watchers=(romeo,))
        self.report("leave")

        self.step_name = "nurse_join"
        _presence, _subject, occupants, history = await self.enter(nurse, "Nurse",
                                                                   watchers=(romeo,))
        self.report("nurse_join", occupants=sorted(p["muc"]["nick"] for p in occupants),
                    history=len(history))

        self.step_name = "archive"
        pages = []
        results = []
        async for page in nurse["xep_0313"].retrieve(jid=self.room, iterator=True,
                                                     rsm={"max": args.page}):
            pages.append(_steps.mam_page(page))
            for message in page["mam"]["results"]:
                forwarded, facts = _steps.mam_result(message)
                results.append({
                    **facts,
                    "archive": str(message["from"]),
                    "from": str(forwarded["from"]),
                    "to": forwarded.xml.get("to"),
                    "type": forwarded["type"],
                })
        self.report("archive", pages=pages, results=results)

    # --- self-ping ----------------------------------------------------------------------------

    async def self_ping(self):
        args = self.args
        romeo = self.make_client(args.user1, "laptop", ())
        juliet = self.make_client(args.user2, "balcony", ("xep_0199",))
        self.step_name = "create"
        await self.login(romeo)
        await self.login(juliet)
        await self.create_room(romeo)
        await self.enter(juliet, "Juliet", watchers=(romeo,))
        info = await juliet["xep_0030"].get_info(jid=self.room, timeout=self.timeout)
        self.report("create", optimized="http://jabber.org/protocol/muc#self-ping-optimization"
                    in info["disco_info"]["features"])

        # Juliet's client would get a ping the room passed on to her (XEP-0410 §3 without the
        # optimization): there must be none.
        forwarded = []

        def watch(stanza):
            if stanza.name == "iq" and stanza["type"] == "get":
                forwarded.append(str(stanza["from"]))
            return stanza

        juliet.add_filter("in", watch)

        self.step_name = "joined"
        # COMPAT: slixmpp 1.8.3 has no xep_0410; its self-ping is xep_0199's ping to room/nick.
        me = f"{self.room}/Juliet"
        answer = await juliet["xep_0199"].send_ping(me, timeout=self.timeout)
        self.report("joined", type=answer["type"], **{"from": str(answer["from"])},
                    forwarded=forwarded[:])

        self.step_name = "left"
        await self.leave(juliet, "Juliet", watchers=(romeo,))
        try:
            answer = await juliet["xep_0199"].send_ping(me, timeout=self.timeout)
            raise StepFailed(f"the ping after leaving was answered {answer['type']}")
        except IqError as error:
            self.report("left", **iq_error(error), forwarded=forwarded[:])

    # --- occupant ids -------------------------------------------------------------------------

    async def occupant_id(self):
        args = self.args
        romeo = self.make_client(args.user1, "laptop", ("xep_0421",))
        juliet = self.make_client(args.user2, "balcony", ("xep_0421",))
        nurse = self.make_client(args.user3, "chamber", ("xep_0421",))

        # Everything from an occupant JID that reaches anyone, before any handler.
        seen = []

        def watcher(name):
            def watch(stanza):
                sender = stanza["from"]
                if stanza.name in ("presence", "message") and sender.bare == self.room \
                        and sender.resource:
                    seen.append({
                        "to": name,
                        "kind": stanza.name,
                        "type": stanza["type"],
                        "from": sender.resource,
                        "ids": [o.get("id") for o in
                                stanza.xml.findall(f"{{{OCCUPANT_ID}}}occupant-id")],
                        "body": stanza["body"] if stanza.name == "message" else None,
                    })
                return stanza
            return watch

        for name, client in (("romeo", romeo), ("juliet", juliet), ("nurse", nurse)):
            client.add_filter("in", watcher(name))

        self.step_name = "create"
        for client in (romeo, juliet, nurse):
            await self.login(client)
        await self.create_room(romeo)
        # COMPAT: xep_0421's has_feature in slixmpp 1.8.3 asks the Iq for get_features (an
        # AttributeError); the room's disco#info is read with xep_0030 itself.
        info = await juliet["xep_0030"].get_info(jid=self.room, timeout=self.timeout)
        self.report("create", disco=OCCUPANT_ID in info["disco_info"]["features"])

        def mark(step):
            self.report(step, seen=seen[:])
            seen.clear()

        self.step_name = "join"
        await self.enter(juliet, "Juliet", watchers=(romeo,))
        mark("join")

        self.step_name = "message"
        heard = self.expect(romeo, f"muc::{self.room}::message", lambda m: m["body"] == "hello")
        self.groupchat(juliet, "hello")
        await self.within(heard, "Romeo to hear Juliet")
        await self.round_trip(juliet)
        mark("message")

        self.step_name = "nick"
        # COMPAT: xep_0045 in slixmpp 1.8.3 has no nickname change; it is a presence to the new
        # occupant JID (XEP-0045 §7.6).
        renamed = self.expect(romeo, f"muc::{self.room}::got_online",
                              lambda p: p["muc"]["nick"] == "Julia")
        juliet.send_presence(pto=f"{self.room}/Julia")
        await self.within(renamed, "Romeo to see Juliet as Julia")
        await self.round_trip(juliet)
        mark("nick")

        self.step_name = "rejoin"
        await self.leave(juliet, "Julia", watchers=(romeo,))
        await self.enter(juliet, "Juliet", watchers=(romeo,))
        mark("rejoin")

        self.step_name = "nurse"
        await self.enter(nurse, "Nurse", watchers=(romeo, juliet))
        await self.round_trip(nurse)
        mark("nurse")

        self.step_name = "forge"
        heard = self.expect(romeo, f"muc::{self.room}::message", lambda m: m["body"] == "forged")

        sent = []

        def forge(message):
            message["occupant-id"]["id"] = "forged-by-juliet"

        def outgoing(stanza):
            # What went on the wire: the forged id is in it.
            if stanza.name == "message" and stanza["body"] == "forged":
                sent.extend(o.get("id") for o in
                            stanza.xml.findall(f"{{{OCCUPANT_ID}}}occupant-id"))
            return stanza

        juliet.add_filter("out", outgoing)
        self.groupchat(juliet, "forged", forge)
        await self.within(heard, "Romeo to hear the forged one")
        await self.round_trip(nurse)
        await self.round_trip(juliet)
        self.report("forge", sent=sent, seen=seen[:])

    # --- room vCard ---------------------------------------------------------------------------

    async def vcard(self):
        args = self.args
        plugins = ("xep_0054", "xep_0128", "xep_0153")
        romeo = self.make_client(args.user1, "laptop", plugins)
        juliet = self.make_client(args.user2, "balcony", plugins)

        # Presences from the room's bare JID, with their vcard-temp:x:update photo.
        updates = {"romeo": [], "juliet": []}

        def watcher(name):
            def watch(stanza):
                if stanza.name == "presence" and str(stanza["from"]) == self.room:
                    x = stanza.xml.find(f"{{{VCARD_UPDATE}}}x")
                    photo = x.find(f"{{{VCARD_UPDATE}}}photo") if x is not None else None
                    updates[name].append({"photo": None if photo is None else photo.text or ""})
                return stanza
            return watch

        for name, client in (("romeo", romeo), ("juliet", juliet)):
            client.add_filter("in", watcher(name))

        self.step_name = "create"
        await self.login(romeo)
        await self.login(juliet)
        await self.create_room(romeo)
        await self.enter(juliet, "Juliet", watchers=(romeo,))
        self.report("create", updates=updates["juliet"][:])

        self.step_name = "set"
        image = png(3, 3, (0x70, 0x20, 0xA0))
        statuses = [self.expect(c, "groupchat_config_status",
                                lambda m: m["from"].bare == self.room) for c in (romeo, juliet)]
        vcard = romeo["xep_0054"].make_vcard()
        vcard["FN"] = "The Balcony"
        vcard["PHOTO"]["TYPE"] = "image/png"
        vcard["PHOTO"]["BINVAL"] = image
        await romeo["xep_0054"].publish_vcard(vcard, jid=self.room, timeout=self.timeout)
        codes = []
        for future in statuses:
            message = await self.within(future, "status 104")
            codes.append(sorted(message["muc"]["status_codes"]))
        await self.until(lambda: updates["romeo"] and updates["juliet"],
                         "the room's presence with its photo")
        self.report("set", image=base64.b64encode(image).decode(),
                    sha1=hashlib.sha1(image).hexdigest(), status_codes=codes,
                    romeo=updates["romeo"], juliet=updates["juliet"])

        self.step_name = "get"
        result = await juliet["xep_0054"].get_vcard(self.room, cached=False,
                                                    timeout=self.timeout)
        photo = result["vcard_temp"]["PHOTO"]
        self.report("get", **{"from": str(result["from"])}, fn=result["vcard_temp"]["FN"],
                    type=photo["TYPE"], image=base64.b64encode(photo["BINVAL"] or b"").decode())

        self.step_name = "disco"
        info = await juliet["xep_0030"].get_info(jid=self.room, timeout=self.timeout)
        forms = [f for f in info["disco_info"]["substanzas"] if isinstance(f, Form)]
        fields = {}
        for form in forms:
            for var, field in form.get_fields().items():
                fields[var] = field.get_value(convert=False)
        self.report("disco", vcard="vcard-temp" in info["disco_info"]["features"],
                    form_type=fields.get("FORM_TYPE"),
                    avatarhash=fields.get("muc#roominfo_avatarhash"))

        self.step_name = "forbidden"
        hers = juliet["xep_0054"].make_vcard()
        hers["FN"] = "Juliet's balcony"
        try:
            await juliet["xep_0054"].publish_vcard(hers, jid=self.room, timeout=self.timeout)
            raise StepFailed("Juliet, not an owner, set the room's vCard")
        except IqError as error:
            again = await romeo["xep_0054"].get_vcard(self.room, cached=False,
                                                      timeout=self.timeout)
            self.report("forbidden", **iq_error(error), fn=again["vcard_temp"]["FN"])


def options():
    parser = _steps.parser("slixmpp MUC flows against an XMPP server",
                           ("NAME:PASSWORD (the room's owner)", "NAME:PASSWORD"))
    parser.add_argument("--flow", choices=("archive", "self_ping", "occupant_id", "vcard"),
                        required=True)
    parser.add_argument("--user3", help="NAME:PASSWORD (archive, occupant_id: the third)")
    parser.add_argument("--room", default="balcony", help="the room's local part")
    parser.add_argument("--messages", type=int, default=25, help="archive: messages said")
    parser.add_argument("--page", type=int, default=10, help="archive: RSM page size")
    return parser


if __name__ == "__main__":
    _steps.main(Muc, options())
