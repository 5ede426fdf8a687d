"""Drives a file transfer through the server's SOCKS5 Bytestreams proxy (XEP-0065) with slixmpp's
own xep_0065 plugin: Romeo (the requester) discovers the proxy through the server's disco#items
and its <streamhost/> (§4), offers it to Juliet (the target, auto-accepting) with a stream
request (§6.3.1); Juliet's plugin connects to the proxy with the stream's hash (§6.3.2) and
answers with <streamhost-used/>; Romeo's connects, activates the stream (§6.3.4), sends the bytes
of --file and closes; Juliet writes what she receives to --out until the stream closes. Then
Romeo's plugin asks for the streamhost again (a second discovery, which the test compares).

Every step prints one JSON line on stdout: {"step": NAME, "ok": true, ...facts}. The first step
that fails prints {"step": NAME, "ok": false, "error": ...} and the program exits 1. Each wait is
bounded by --timeout seconds, the whole run by --deadline seconds.

Usage: slixmpp_proxy65.py --host H --port P --domain D --ca CERT --user1 NAME:PASSWORD \
       --user2 NAME:PASSWORD --file IN --out OUT
"""

import asyncio
import hashlib
from pathlib import Path

import _steps
from _steps import StepFailed

CHUNK = 65536


class Transfer(_steps.Steps):
    def make_client(self, account, resource, pconfig=None):
        return super().make_client(account, resource, ("xep_0030", "xep_0065"),
                                   pconfig={"xep_0065": pconfig or {}})

    async def login(self, client):
        await super().login(client)
        client.send_presence()

    async def run(self):
        args = self.args
        romeo = self.make_client(args.user1, "desk")
        juliet = self.make_client(args.user2, "phone", {"auto_accept": True})
        self.step_name = "login"
        for client in (romeo, juliet):
            await self.login(client)
        self.report("login", romeo=str(romeo.boundjid), juliet=str(juliet.boundjid))

        # §4: the proxies among the server's items, with their network addresses.
        self.step_name = "discover"
        proxies = await romeo["xep_0065"].discover_proxies(timeout=self.timeout)
        self.report("discover", proxies={str(jid): [host, str(port)]
                                         for jid, (host, port) in proxies.items()})

        # Juliet's side: every chunk she receives, until the stream closes.
        received = bytearray()
        closed = asyncio.get_running_loop().create_future()
        juliet.add_event_handler("socks5_data", lambda data: received.extend(data))
        juliet.add_event_handler(
            "socks5_closed", lambda exc: closed.done() or closed.set_result(exc))
        accepted = self.expect(juliet, "socks5_stream")

        # §6.3: request, streamhost-used, Romeo's connection, activation.
        self.step_name = "handshake"
        sock = await self.within(
            romeo["xep_0065"].handshake(juliet.boundjid.full, timeout=self.timeout),
            "the bytestream to open")
        if sock is None:
            raise StepFailed("handshake gave no socket")
        await self.within(accepted, "Juliet's socks5_stream")
        self.report("handshake", peer=list(sock.transport.get_extra_info("peername"))[:2])

        self.step_name = "send"
        data = Path(args.file).read_bytes()
        for offset in range(0, len(data), CHUNK):
            await sock.write(data[offset:offset + CHUNK])
        sock.transport.close()
        await self.within(closed, "the stream to close at Juliet's", timeout=args.deadline)
        Path(args.out).write_bytes(bytes(received))
        self.report("send", sent=len(data), received=len(received),
                    sha256=hashlib.sha256(received).hexdigest())

        self.step_name = "streamhost"
        jid = next(iter(proxies))
        answer = await romeo["xep_0065"].get_network_address(jid, timeout=self.timeout)
        streamhost = answer["socks"]["streamhost"]
        self.report("streamhost", jid=str(streamhost["jid"]), host=streamhost["host"],
                    port=str(streamhost["port"]))


def options():
    parser = _steps.parser("a slixmpp file transfer through XEP-0065",
                           ("NAME:PASSWORD (the requester)", "NAME:PASSWORD (the target)"))
    parser.add_argument("--file", required=True, help="the file Romeo sends")
    parser.add_argument("--out", required=True, help="where Juliet writes what she receives")
    return parser


if __name__ == "__main__":
    _steps.main(Transfer, options())
