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

import argparse
import asyncio
import hashlib
import json
import logging
import ssl
import sys
import traceback
from pathlib import Path

import slixmpp
from slixmpp.exceptions import IqError

OUT = sys.stdout
sys.stdout = sys.stderr

CHUNK = 65536


class StepFailed(Exception):
    pass


class Transfer:
    def __init__(self, args):
        self.args = args
        self.timeout = args.timeout
        self.step_name = "start"
        self.clients = []

    def report(self, step, **facts):
        OUT.write(json.dumps({"step": step, "ok": True, **facts}) + "\n")
        OUT.flush()

    def fail(self, step, error):
        OUT.write(json.dumps({"step": step, "ok": False, "error": error}) + "\n")
        OUT.flush()

    def expect(self, client, event, match=lambda _: True):
        future = asyncio.get_running_loop().create_future()

        def handler(payload):
            if not future.done() and match(payload):
                future.set_result(payload)

        client.add_event_handler(event, handler)
        future.add_done_callback(lambda _: client.del_event_handler(event, handler))
        return future

    async def within(self, awaitable, what, timeout=None):
        timeout = timeout or self.timeout
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except asyncio.TimeoutError:
            raise StepFailed(f"timed out after {timeout}s waiting for {what}") from None

    def make_client(self, account, resource, pconfig=None):
        name, secret = account.split(":", 1)
        client = slixmpp.ClientXMPP(f"{name}@{self.args.domain}/{resource}", secret)
        client.ca_certs = Path(self.args.ca)
        client.register_plugin("xep_0030")
        client.register_plugin("xep_0065", pconfig=pconfig or {})
        self.clients.append(client)
        return client

    async def login(self, client):
        started = self.expect(client, "session_start")
        client.connect((self.args.host, self.args.port))
        await self.within(started, f"session_start of {client.boundjid}")
        if not isinstance(client.transport.get_extra_info("ssl_object"), ssl.SSLObject):
            raise StepFailed("session started without TLS")
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

    async def close(self):
        pending = []
        for client in self.clients:
            if client.transport is not None:
                pending.append(client.disconnected)
                client.disconnect(wait=1)
        if pending:
            await asyncio.wait(pending, timeout=2)


async def main():
    parser = argparse.ArgumentParser(description="a slixmpp file transfer through XEP-0065")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--domain", default="localhost")
    parser.add_argument("--ca", required=True, help="the server's certificate (PEM) to trust")
    parser.add_argument("--user1", required=True, help="NAME:PASSWORD (the requester)")
    parser.add_argument("--user2", required=True, help="NAME:PASSWORD (the target)")
    parser.add_argument("--file", required=True, help="the file Romeo sends")
    parser.add_argument("--out", required=True, help="where Juliet writes what she receives")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per wait")
    parser.add_argument("--deadline", type=float, default=30.0, help="seconds for the whole run")
    parser.add_argument("--debug", action="store_true", help="slixmpp's stanza log on stderr")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.CRITICAL,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
    )
    transfer = Transfer(args)
    code = 0
    try:
        await asyncio.wait_for(transfer.run(), args.deadline)
        transfer.report("done", slixmpp=slixmpp.__version__)
    except StepFailed as error:
        transfer.fail(transfer.step_name, str(error))
        code = 1
    except IqError as error:
        transfer.fail(transfer.step_name, f"{error.etype}/{error.condition}: {error.iq}")
        code = 1
    except asyncio.TimeoutError:
        transfer.fail(transfer.step_name, f"timed out (whole run {args.deadline}s)")
        code = 1
    except Exception as error:  # report, do not hide, whatever else broke
        traceback.print_exc()
        transfer.fail(transfer.step_name, f"{type(error).__name__}: {error}")
        code = 1
    finally:
        await transfer.close()
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
