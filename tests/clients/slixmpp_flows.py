"""Drives an XMPP server through slixmpp's own API, the way an application would.

Two accounts log in (STARTTLS with the server's certificate checked, SCRAM), become contacts
through the roster and subscription API, exchange presence and chat, then use MUC (XEP-0045
through slixmpp's xep_0045 plugin, forms through xep_0004): an instant room, a password-protected
room and a configuration change. With --direct-tls-port, the first account also logs in over
direct TLS (XEP-0368, slixmpp's use_ssl with ALPN xmpp-client), with PLAIN and SCRAM, and pings.

Every step prints one JSON line on stdout: {"step": NAME, "ok": true, ...facts}. The first step
that fails prints {"step": NAME, "ok": false, "error": ...} and the program exits 1. Each wait is
bounded by --timeout seconds, the whole run by --deadline seconds.

Usage: slixmpp_flows.py --host H --port P --domain D --muc-domain M --ca CERT \
       --user1 NAME:PASSWORD --user2 NAME:PASSWORD [--direct-tls-port P]
"""

import asyncio

from slixmpp.exceptions import PresenceError

import _steps
from _steps import StepFailed


class Flows(_steps.Steps):
    def __init__(self, args):
        super().__init__(args)
        args.muc_domain = args.muc_domain or f"conference.{args.domain}"

    def make_client(self, account, resource, mechanism, password=None):
        client = super().make_client(
            account, resource,
            ("xep_0030",  # service discovery
             "xep_0004",  # data forms
             "xep_0045",  # multi-user chat
             "xep_0128"),  # data forms in disco#info
            mechanism=mechanism, password=password)
        # The application decides on subscription requests itself.
        client.auto_authorize = None
        client.auto_subscribe = False
        return client

    async def bad_login(self, client):
        failed = self.expect(client, "failed_auth")
        started = self.expect(client, "session_start")
        client.connect((self.args.host, self.args.port))
        done, _ = await asyncio.wait(
            [failed, started], timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for future in (failed, started):
            if future not in done:
                future.cancel()
        if started in done:
            raise StepFailed("a wrong password was accepted")
        if not done:
            raise StepFailed(f"timed out after {self.timeout}s waiting for a SASL failure")
        condition = failed.result()["condition"]
        client.disconnect()
        return {"condition": condition}

    # --- the flows ------------------------------------------------------------------------------

    async def run(self):
        args = self.args
        romeo = self.make_client(args.user1, "slix", "SCRAM-SHA-256")
        juliet = self.make_client(args.user2, "slix", "SCRAM-SHA-1")
        r_bare = romeo.boundjid.bare
        j_bare = juliet.boundjid.bare

        self.step_name = "bad_password"
        intruder = self.make_client(args.user1, "intruder", "SCRAM-SHA-256", password="wrong")
        self.report("bad_password", **await self.bad_login(intruder))

        self.step_name = "login"
        for client in (romeo, juliet):
            self.report("login", **await self.login(client))

        self.step_name = "roster_get"
        for client in (romeo, juliet):
            result = await client.get_roster(timeout=self.timeout)
            items = result["roster"]["items"]
            self.report("roster_get", who=client.boundjid.bare, items=sorted(map(str, items)))

        self.step_name = "initial_presence"
        # Each sees its own initial presence come back (RFC 6121 §4.2.2).
        for client in (romeo, juliet):
            own = self.expect(
                client,
                "presence_available",
                lambda p, c=client: p["from"] == c.boundjid,
            )
            client.send_presence()
            await self.within(own, "the reflected initial presence")
        self.report("initial_presence")

        # Romeo adds Juliet to his roster (a roster set, RFC 6121 §2.3).
        self.step_name = "roster_add"
        push = self.expect(romeo, "roster_update", lambda iq: iq["type"] == "set")
        await romeo.update_roster(j_bare, name="Juliet", groups=["Verona"], timeout=self.timeout)
        item = (await self.within(push, "the roster push of the new item"))["roster"]["items"][
            j_bare
        ]
        self.report(
            "roster_add",
            jid=j_bare,
            name=item["name"],
            groups=sorted(item["groups"]),
            subscription=item["subscription"],
            ask=item["ask"] or None,
        )

        # Romeo subscribes; Juliet receives the request and approves it (RFC 6121 §3.1).
        self.step_name = "subscribe_1"
        request = self.expect(
            juliet, "roster_subscription_request", lambda p: p["from"].bare == r_bare
        )
        ask_push = self.expect(
            romeo,
            "roster_update",
            lambda iq: iq["type"] == "set" and iq["roster"]["items"].get(j_bare, {}).get("ask")
            == "subscribe",
        )
        romeo.client_roster[j_bare].subscribe()
        got = await self.within(request, "Juliet to receive Romeo's subscription request")
        pushed = await self.within(ask_push, "Romeo's roster push with ask='subscribe'")
        self.report(
            "subscribe_1",
            request_from=str(got["from"]),
            type=got["type"],
            push_ask=pushed["roster"]["items"][j_bare]["ask"],
            push_subscription=pushed["roster"]["items"][j_bare]["subscription"],
        )

        self.step_name = "approve_1"
        approved = self.expect(
            romeo, "roster_subscription_authorized", lambda p: p["from"].bare == j_bare
        )
        to_push = self.expect(
            romeo,
            "roster_update",
            lambda iq: iq["type"] == "set"
            and iq["roster"]["items"].get(j_bare, {}).get("subscription") == "to",
        )
        from_push = self.expect(
            juliet,
            "roster_update",
            lambda iq: iq["type"] == "set"
            and iq["roster"]["items"].get(r_bare, {}).get("subscription") == "from",
        )
        her_presence = self.expect(
            romeo, "presence_available", lambda p: p["from"] == juliet.boundjid
        )
        juliet.client_roster[r_bare].authorize()
        await self.within(approved, "Romeo to receive 'subscribed'")
        await self.within(to_push, "Romeo's roster push with subscription='to'")
        await self.within(from_push, "Juliet's roster push with subscription='from'")
        seen = await self.within(her_presence, "Romeo to see Juliet's presence")
        self.report(
            "approve_1",
            romeo_sees=str(seen["from"]),
            romeo_item=romeo.client_roster[j_bare]["subscription"],
            juliet_item=juliet.client_roster[r_bare]["subscription"],
        )

        # And back: Juliet subscribes to Romeo, who approves; both end at "both".
        self.step_name = "subscribe_2"
        request = self.expect(
            romeo, "roster_subscription_request", lambda p: p["from"].bare == j_bare
        )
        juliet.client_roster[r_bare].subscribe()
        got = await self.within(request, "Romeo to receive Juliet's subscription request")
        self.report("subscribe_2", request_from=str(got["from"]), type=got["type"])

        self.step_name = "approve_2"
        both_r = self.expect(
            romeo,
            "roster_update",
            lambda iq: iq["type"] == "set"
            and iq["roster"]["items"].get(j_bare, {}).get("subscription") == "both",
        )
        both_j = self.expect(
            juliet,
            "roster_update",
            lambda iq: iq["type"] == "set"
            and iq["roster"]["items"].get(r_bare, {}).get("subscription") == "both",
        )
        his_presence = self.expect(
            juliet, "presence_available", lambda p: p["from"] == romeo.boundjid
        )
        romeo.client_roster[j_bare].authorize()
        await self.within(both_r, "Romeo's roster push with subscription='both'")
        await self.within(both_j, "Juliet's roster push with subscription='both'")
        seen = await self.within(his_presence, "Juliet to see Romeo's presence")
        self.report(
            "approve_2",
            juliet_sees=str(seen["from"]),
            romeo_item=romeo.client_roster[j_bare]["subscription"],
            juliet_item=juliet.client_roster[r_bare]["subscription"],
        )

        # With the version from the last push the roster is unchanged (RFC 6121 §2.6.3) ...
        self.step_name = "roster_get_unchanged"
        version = romeo.client_roster.version
        result = await romeo.get_roster(timeout=self.timeout)
        self.report(
            "roster_get_unchanged", version=version, items=len(result["roster"]["items"])
        )

        # ... and without one the whole roster comes back.
        self.step_name = "roster_get_after"
        romeo.client_roster.version = ""
        result = await romeo.get_roster(timeout=self.timeout)
        items = result["roster"]["items"]
        self.report(
            "roster_get_after",
            version=result["roster"]["ver"],
            items={
                str(jid): {
                    "subscription": item["subscription"],
                    "name": item["name"],
                    "groups": sorted(item["groups"]),
                }
                for jid, item in items.items()
            },
        )

        # Presence: Juliet goes away with a status; Romeo sees it.
        self.step_name = "presence_change"
        changed = self.expect(
            romeo,
            "changed_status",
            lambda p: p["from"] == juliet.boundjid and p["show"] == "away",
        )
        juliet.send_presence(pshow="away", pstatus="at the balcony")
        got = await self.within(changed, "Romeo to see Juliet away")
        self.report(
            "presence_change",
            sender=str(got["from"]),
            show=got["show"],
            status=got["status"],
            romeo_view=romeo.client_roster[j_bare].resources.get("slix", {}).get("show"),
        )

        # 1:1 chat both ways.
        self.step_name = "chat"
        incoming = self.expect(juliet, "message", lambda m: m["type"] == "chat")
        romeo.send_message(mto=j_bare, mbody="Good morrow", mtype="chat")
        got = await self.within(incoming, "Juliet to receive Romeo's message")
        self.report("chat", sender=str(got["from"]), to=str(got["to"]), body=got["body"])
        incoming = self.expect(romeo, "message", lambda m: m["type"] == "chat")
        juliet.send_message(mto=got["from"], mbody="Good night", mtype="chat")
        reply = await self.within(incoming, "Romeo to receive Juliet's reply")
        self.report("chat", sender=str(reply["from"]), to=str(reply["to"]), body=reply["body"])

        await self.muc(romeo, juliet)
        if args.direct_tls_port:
            await self.direct_tls()

    async def muc(self, romeo, juliet):
        muc_r = romeo["xep_0045"]
        muc_j = juliet["xep_0045"]
        domain = self.args.muc_domain

        # A new room: created locked (status 201), then accepted as an instant room (§10.1.2).
        self.step_name = "muc_create_instant"
        room = f"balcony@{domain}"
        presence, _subject, _occupants, _history = await muc_r.join_muc_wait(
            room, "Romeo", maxstanzas=0, timeout=self.timeout
        )
        created_codes = sorted(presence["muc"]["status_codes"])
        instant = romeo["xep_0004"].make_form(ftype="submit")
        await muc_r.set_room_config(room, instant, timeout=self.timeout)
        self.report(
            "muc_create_instant",
            room=room,
            status_codes=created_codes,
            affiliation=presence["muc"]["affiliation"],
            role=presence["muc"]["role"],
        )

        self.step_name = "muc_join"
        romeo_sees = self.expect(
            romeo, f"muc::{room}::got_online", lambda p: p["muc"]["nick"] == "Juliet"
        )
        presence, _subject, occupants, _history = await muc_j.join_muc_wait(
            room, "Juliet", maxstanzas=0, timeout=self.timeout
        )
        await self.within(romeo_sees, "Romeo to see Juliet join")
        self.report(
            "muc_join",
            nick=presence["muc"]["nick"],
            role=presence["muc"]["role"],
            occupants=sorted(p["muc"]["nick"] for p in occupants),
            roster=sorted(muc_j.get_roster(room)),
        )

        self.step_name = "muc_groupchat"
        heard = self.expect(juliet, f"muc::{room}::message", lambda m: m["body"] == "Hark")
        romeo.send_message(mto=room, mbody="Hark", mtype="groupchat")
        got = await self.within(heard, "Juliet to hear Romeo in the room")
        self.report("muc_groupchat", sender=str(got["from"]), body=got["body"])

        # Configuration: read the form, rename the room and make it persistent, read it back.
        self.step_name = "muc_config"
        form = await muc_r.get_room_config(room, timeout=self.timeout)
        fields = form.get_fields()
        before = fields["muc#roomconfig_roomname"]["value"]
        notice = self.expect(juliet, "groupchat_config_status", lambda m: m["from"].bare == room)
        form["type"] = "submit"
        form.set_values(
            {
                "muc#roomconfig_roomname": "The Balcony",
                "muc#roomconfig_roomdesc": "Capulet orchard",
                "muc#roomconfig_persistentroom": True,
            }
        )
        await muc_r.set_room_config(room, form, timeout=self.timeout)
        status = await self.within(notice, "status 104 in the room")
        again = (await muc_r.get_room_config(room, timeout=self.timeout)).get_fields()
        info = await romeo["xep_0030"].get_info(jid=room, timeout=self.timeout)
        identities = info["disco_info"]["identities"]
        roominfo = {
            name: field["value"]
            for name, field in info["disco_info"]["form"].get_fields().items()
        }
        self.report(
            "muc_config",
            field_count=len(fields),
            before=before,
            after=again["muc#roomconfig_roomname"]["value"],
            persistent=again["muc#roomconfig_persistentroom"]["value"],
            notice_codes=sorted(status["muc"]["status_codes"]),
            identity=[list(i) for i in identities],
            features=sorted(info["disco_info"]["features"]),
            roominfo_description=roominfo.get("muc#roominfo_description"),
        )

        # A password-protected room configured through the muc#roomconfig form (§10.2).
        self.step_name = "muc_password_config"
        secret_room = f"crypt@{domain}"
        await muc_r.join_muc_wait(secret_room, "Romeo", maxstanzas=0, timeout=self.timeout)
        form = await muc_r.get_room_config(secret_room, timeout=self.timeout)
        field_types = {name: field["type"] for name, field in form.get_fields().items()}
        form["type"] = "submit"
        form.set_values(
            {
                "muc#roomconfig_passwordprotectedroom": True,
                "muc#roomconfig_roomsecret": "poison",
            }
        )
        await muc_r.set_room_config(secret_room, form, timeout=self.timeout)
        info = await romeo["xep_0030"].get_info(jid=secret_room, timeout=self.timeout)
        self.report(
            "muc_password_config",
            secret_type=field_types.get("muc#roomconfig_roomsecret"),
            features=sorted(info["disco_info"]["features"]),
        )

        self.step_name = "muc_password_wrong"
        try:
            await muc_j.join_muc_wait(
                secret_room, "Juliet", password="dagger", maxstanzas=0, timeout=self.timeout
            )
        except PresenceError as error:
            self.report(
                "muc_password_wrong",
                error_type=error.etype,
                condition=error.condition,
                owner_sees=sorted(muc_r.get_roster(secret_room)),
            )
        except asyncio.TimeoutError:
            raise StepFailed("no answer to a join with a wrong password") from None
        else:
            raise StepFailed("a wrong password let Juliet in")

        self.step_name = "muc_password_join"
        presence, _subject, occupants, _history = await muc_j.join_muc_wait(
            secret_room, "Juliet", password="poison", maxstanzas=0, timeout=self.timeout
        )
        self.report(
            "muc_password_join",
            nick=presence["muc"]["nick"],
            role=presence["muc"]["role"],
            occupants=sorted(p["muc"]["nick"] for p in occupants),
        )

    async def direct_tls(self):
        """XEP-0368: TLS from the first byte, no STARTTLS, PLAIN counted as encrypted."""
        self.step_name = "login_direct_tls"
        for mechanism in ("PLAIN", "SCRAM-SHA-1"):
            client = self.make_client(self.args.user1, f"direct-{mechanism.lower()}", mechanism)
            client.register_plugin("xep_0199")
            # XEP-0368 §3: ALPN "xmpp-client", which slixmpp does not set by itself.
            client.ssl_context.set_alpn_protocols(["xmpp-client"])
            facts = await self.login(client, port=self.args.direct_tls_port, use_ssl=True)
            rtt = await client["xep_0199"].ping(jid=self.args.domain, timeout=self.timeout)
            self.report(
                "login_direct_tls",
                **facts,
                alpn=client.transport.get_extra_info("ssl_object").selected_alpn_protocol(),
                starttls="starttls" in client.features,
                pinged=rtt is not None,
            )
            disconnected = client.disconnected  # taken first, see Steps.close
            client.disconnect()
            await self.within(disconnected, "the end of the direct-TLS session")


def options():
    parser = _steps.parser("slixmpp flows against an XMPP server",
                           ("NAME:PASSWORD", "NAME:PASSWORD"), deadline=60.0)
    parser.add_argument("--muc-domain", default=None)
    parser.add_argument("--direct-tls-port", type=int, default=None, help="XEP-0368 port")
    return parser


if __name__ == "__main__":
    _steps.main(Flows, options())
