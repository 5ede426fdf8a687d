"""Drives what a mobile client lives on through slixmpp's own API: history after a reconnect and a
stream that survives a cut connection.

--flow mam (XEP-0313, XEP-0359, XEP-0059): Romeo and Juliet log in; Juliet sends Romeo --messages
chat messages while both are online, and Romeo writes to --other; Romeo logs out; Juliet sends
--more (they go to offline storage); Romeo logs in again from another resource, takes his
offline messages, counts his whole archive, and reads it filtered on Juliet with xep_0313's RSM
iterator, --page results a page.

--flow sm (XEP-0198 §5): Romeo logs in with xep_0198 (resumption asked for); Juliet sends him
--messages numbered messages, one every --interval seconds; after --cut-after of them Romeo's
TCP connection is aborted (no </stream>, no TLS close_notify: the server sees a dead
connection); --away seconds later slixmpp connects again and resumes; Juliet goes on all along
and ends with a last message.

Every step prints one JSON line on stdout: {"step": NAME, "ok": true, ...facts}. The first step
that fails prints {"step": NAME, "ok": false, "error": ...} and the program exits 1. Each wait is
bounded by --timeout seconds, the whole run by --deadline seconds.

Usage: slixmpp_mobile.py --flow mam|sm --host H --port P --domain D --ca CERT \
       --user1 NAME:PASSWORD --user2 NAME:PASSWORD
"""

import asyncio

import _steps


class Collected:
    """The chat messages a client receives whose body starts with a prefix, in arrival order,
    each with its XEP-0359 stanza-id."""

    def __init__(self, client, prefix):
        self.items = []
        self._waiting = {}
        client.add_event_handler("message", self._message)
        self._prefix = prefix

    def _message(self, message):
        body = message["body"]
        if message["type"] not in ("chat", "normal") or not body.startswith(self._prefix):
            return
        sid = message["stanza_id"]
        self.items.append({"body": body, "by": sid["by"] or None, "id": sid["id"] or None})
        waiting = self._waiting.pop(len(self.items), None)
        if waiting is not None and not waiting.done():
            waiting.set_result(True)

    def reached(self, count):
        """A future that is done once `count` messages have come."""
        future = asyncio.get_running_loop().create_future()
        if len(self.items) >= count:
            future.set_result(True)
        else:
            self._waiting[count] = future
        return future


class Mobile(_steps.Steps):
    def make_client(self, account, resource, plugins):
        return super().make_client(account, resource, ("xep_0030", "xep_0359", *plugins))

    async def login(self, client, presence=True):
        await super().login(client)
        if presence:
            own = self.expect(client, "presence_available", lambda p: p["from"] == client.boundjid)
            client.send_presence()
            await self.within(own, "the reflected initial presence")

    async def logout(self, client):
        # Taken first: slixmpp replaces the future with a fresh one once it has resolved it.
        disconnected = client.disconnected
        client.disconnect(wait=2)
        await self.within(disconnected, f"{client.boundjid} to disconnect")

    def collect(self, client, prefix):
        """Every message body that starts with `prefix`, in arrival order, with its stanza-id."""
        return Collected(client, prefix)

    # --- MAM after a reconnect ----------------------------------------------------------------

    async def mam(self):
        args = self.args
        plugins = ("xep_0004", "xep_0059", "xep_0297", "xep_0313")
        romeo = self.make_client(args.user1, "laptop", plugins)
        juliet = self.make_client(args.user2, "balcony", plugins)
        self.step_name = "login"
        await self.login(romeo)
        await self.login(juliet)
        self.report("login", romeo=str(romeo.boundjid), juliet=str(juliet.boundjid))

        total = args.messages + args.more
        bodies = [f"mam {n:03}" for n in range(1, total + 1)]

        self.step_name = "online"
        live = self.collect(romeo, "mam ")
        arrived = live.reached(args.messages)
        for body in bodies[:args.messages]:
            juliet.send_message(mto=romeo.boundjid.bare, mbody=body, mtype="chat")
        await self.within(arrived, f"Romeo to receive {args.messages} messages")
        if args.other:
            # Archived too, with someone else: the query filtered on Juliet leaves it out.
            romeo.send_message(mto=args.other, mbody="an aside", mtype="chat")
        self.report("online", received=live.items)

        self.step_name = "logout"
        await self.logout(romeo)
        self.report("logout")

        self.step_name = "offline"
        for body in bodies[args.messages:]:
            juliet.send_message(mto=romeo.boundjid.bare, mbody=body, mtype="chat")
        # A round trip after the messages: the server has handled them all when it answers.
        await juliet["xep_0030"].get_info(jid=args.domain, timeout=self.timeout)
        phone = self.make_client(args.user1, "phone", plugins)
        stored = self.collect(phone, "mam ")
        arrived = stored.reached(args.more)
        await self.login(phone)
        await self.within(arrived, f"the second device to receive {args.more} offline messages")
        self.report("offline", jid=str(phone.boundjid), received=stored.items)

        self.step_name = "unfiltered"
        whole = await phone["xep_0313"].retrieve(rsm={"max": 1}, timeout=self.timeout)
        self.report("unfiltered", count=whole["mam_fin"]["rsm"]["count"] or None)

        self.step_name = "archive"
        pages = []
        results = []
        async for page in phone["xep_0313"].retrieve(
            with_jid=juliet.boundjid.bare, iterator=True, rsm={"max": args.page}
        ):
            pages.append(_steps.mam_page(page))
            for message in page["mam"]["results"]:
                forwarded, facts = _steps.mam_result(message)
                results.append({
                    **facts,
                    "archive": str(message["from"]) or None,
                    "from": str(forwarded["from"].bare),
                })
        self.report("archive", pages=pages, results=results)

    # --- SM resumption after a cut ------------------------------------------------------------

    async def sm(self):
        args = self.args
        romeo = self.make_client(args.user1, "phone", ("xep_0198",))
        juliet = self.make_client(args.user2, "balcony", ())
        events = {"session_start": 0, "session_resumed": 0, "sm_enabled": 0, "sm_failed": 0}
        for name in events:
            romeo.add_event_handler(name, lambda _, n=name: events.__setitem__(n, events[n] + 1))

        self.step_name = "login"
        enabled = self.expect(romeo, "sm_enabled")
        await self.login(romeo)
        await self.within(enabled, "<enabled/>")
        sm = romeo["xep_0198"]
        sm_id = sm.sm_id
        await self.login(juliet, presence=False)
        self.report("login", jid=str(romeo.boundjid), resumable=sm_id is not None)

        self.step_name = "stream"
        received = self.collect(romeo, "sm ")
        cut_point = received.reached(args.cut_after)
        end = self.expect(romeo, "message", lambda m: m["body"] == "end")
        bodies = [f"sm {n:03}" for n in range(1, args.messages + 1)]

        async def send_all():
            for body in bodies:
                juliet.send_message(mto=romeo.boundjid.bare, mbody=body, mtype="chat")
                await asyncio.sleep(args.interval)
            juliet.send_message(mto=romeo.boundjid.bare, mbody="end", mtype="chat")

        sender = asyncio.ensure_future(send_all())
        await self.within(cut_point, f"Romeo to receive {args.cut_after} messages")

        self.step_name = "cut"
        # slixmpp 1.8.3 does not connect again by itself when its connection is lost: it fires
        # 'disconnected' and leaves it to the application. Like a phone whose network comes back,
        # it connects again after --away seconds, while Juliet goes on (so the server queues
        # for the hibernating session), to the same address (without one it looks the domain
        # up on port 5222). connect() is enough: xep_0198 still holds the SM-ID and sends
        # <resume/> instead of binding.
        resumed = self.expect(romeo, "session_resumed")
        loop = asyncio.get_running_loop()
        romeo.add_event_handler(
            "disconnected",
            lambda _: loop.call_later(args.away, romeo.connect, (args.host, args.port)),
            disposable=True,
        )
        handled_at_cut = sm.handled
        before_cut = len(received.items)
        # Abrupt: the socket goes without </stream> or a TLS close_notify.
        romeo.transport.abort()
        self.report("cut", received=before_cut, handled=handled_at_cut)

        self.step_name = "resume"
        await self.within(resumed, "session_resumed")
        self.report(
            "resume",
            jid=str(romeo.boundjid),
            same_sm_id=sm.sm_id == sm_id,
            received=len(received.items),
        )

        self.step_name = "end"
        await self.within(sender, "Juliet to send everything", timeout=args.deadline)
        await self.within(end, "the last message")
        # Whatever the resumption sent twice would have come before the last message.
        self.report("end", received=[m["body"] for m in received.items], events=events)


def options():
    parser = _steps.parser("slixmpp mobile flows against an XMPP server",
                           ("NAME:PASSWORD", "NAME:PASSWORD"))
    parser.add_argument("--flow", choices=("mam", "sm"), required=True)
    parser.add_argument("--messages", type=int, default=30, help="messages while Romeo is online")
    parser.add_argument("--more", type=int, default=15, help="mam: messages while he is away")
    parser.add_argument("--page", type=int, default=10, help="mam: RSM page size")
    parser.add_argument("--other", help="mam: a JID Romeo also writes to (outside the filter)")
    parser.add_argument("--cut-after", type=int, default=20, help="sm: messages before the cut")
    parser.add_argument("--interval", type=float, default=0.02, help="sm: seconds between sends")
    parser.add_argument("--away", type=float, default=0.3, help="sm: seconds without connection")
    return parser


if __name__ == "__main__":
    _steps.main(Mobile, options())
