"""The harness the slixmpp client programs of this directory share.

Every step prints one JSON line on stdout: {"step": NAME, "ok": true, ...facts}. The first step
that fails prints {"step": NAME, "ok": false, "error": ...} and the program exits 1. Each wait is
bounded by --timeout seconds, the whole run by --deadline seconds.

A program subclasses `Steps` with its flows, adds its own options to `parser()` and ends with
`main(Program, parser)`. It is run as a script from this directory, so `import
_steps` finds this file.
"""

import argparse
import asyncio
import json
import logging
import ssl
import struct
import sys
import traceback
import zlib
from pathlib import Path

import slixmpp
from slixmpp.exceptions import IqError, PresenceError

# slixmpp prints from inside some plugins (xep_0045's join, for one); stdout is the steps' only.
OUT = sys.stdout
sys.stdout = sys.stderr


class StepFailed(Exception):
    pass


def png(width, height, rgb):
    """A real PNG file: one colour, 8-bit RGB, each row filter type 0."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def mam_page(page):
    """What a page of XEP-0313 results says of itself: how many results, its <fin/>'s complete,
    and its XEP-0059 first index and count."""
    fin = page["mam_fin"]
    return {
        "results": len(page["mam"]["results"]),
        "complete": fin.xml.get("complete"),
        "first_index": fin["rsm"]["first_index"] or None,
        "count": fin["rsm"]["count"] or None,
    }


def mam_result(message):
    """The stanza forwarded in an archived message, and the facts every flow reports of it: its
    body, its archive id and whether it has a delay."""
    result = message["mam_result"]
    forwarded = result["forwarded"]["stanza"]
    return forwarded, {
        "body": forwarded["body"],
        "id": result["id"],
        "delay": bool(result["forwarded"]["delay"]["stamp"]),
    }


class Steps:
    """A program's flows: `step_name` is the step running, `clients` every client it made."""

    def __init__(self, args):
        self.args = args
        self.timeout = args.timeout
        self.step_name = "start"
        self.clients = []

    # --- output -------------------------------------------------------------------------------

    def report(self, step, **facts):
        OUT.write(json.dumps({"step": step, "ok": True, **facts}) + "\n")
        OUT.flush()

    def fail(self, step, error):
        OUT.write(json.dumps({"step": step, "ok": False, "error": error}) + "\n")
        OUT.flush()

    # --- waiting --------------------------------------------------------------------------------

    def expect(self, client, event, match=lambda _: True):
        """A future for the next `event` on `client` that `match` accepts.

        Registered before the action that causes it, so nothing is missed."""
        future = asyncio.get_running_loop().create_future()

        def handler(payload):
            if future.done():
                return
            try:
                accepted = match(payload)
            except Exception as error:  # a malformed stanza fails the step, not the loop
                future.set_exception(error)
                return
            if accepted:
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

    async def until(self, condition, what):
        """Waits for `condition()` to hold; for state slixmpp keeps without an event of its own."""

        async def poll():
            while not condition():
                await asyncio.sleep(0.02)

        await self.within(poll(), what)

    # --- clients --------------------------------------------------------------------------------

    def make_client(self, account, resource, plugins=(), mechanism=None, password=None,
                    pconfig=None):
        """A client for `account` (NAME:PASSWORD) that trusts exactly the server's self-signed
        certificate (verification stays on), with `plugins` registered (`pconfig` by plugin) and,
        when given, only the SASL `mechanism`."""
        name, secret = account.split(":", 1)
        jid = f"{name}@{self.args.domain}/{resource}"
        client = slixmpp.ClientXMPP(jid, password if password is not None else secret)
        client.ca_certs = Path(self.args.ca)
        if mechanism is not None:
            client["feature_mechanisms"].use_mech = mechanism
        for plugin in plugins:
            client.register_plugin(plugin, pconfig=(pconfig or {}).get(plugin))
        self.clients.append(client)
        return client

    async def login(self, client, port=None, use_ssl=False):
        """Connects and waits for the session over TLS; a SASL failure or a rejected certificate
        fails the step. Returns the session's facts: jid, mechanism, TLS version, peer CN."""
        started = self.expect(client, "session_start")
        failed = self.expect(client, "failed_auth")
        invalid = self.expect(client, "ssl_invalid_chain")
        client.connect((self.args.host, port or self.args.port), use_ssl=use_ssl)
        done, _ = await asyncio.wait(
            [started, failed, invalid], timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for future in (started, failed, invalid):
            if future not in done:
                future.cancel()
        if not done:
            raise StepFailed(
                f"timed out after {self.timeout}s waiting for session_start of {client.boundjid}")
        if invalid in done:
            raise StepFailed(f"TLS certificate rejected: {invalid.result()}")
        if failed in done:
            raise StepFailed(f"SASL failed: {failed.result()['condition']}")
        tls = client.transport.get_extra_info("ssl_object")
        if not isinstance(tls, ssl.SSLObject):
            raise StepFailed("session started without TLS")
        return {
            "jid": str(client.boundjid),
            "mechanism": client["feature_mechanisms"].mech.name,
            "tls": tls.version(),
            "peer_cn": dict(x[0] for x in tls.getpeercert()["subject"]).get("commonName"),
        }

    async def close(self):
        """Logs out whoever is still connected; waits for those only. Each `disconnected` future
        is taken before the disconnect: slixmpp replaces it with a fresh one once resolved."""
        pending = []
        for client in self.clients:
            if client.transport is not None:
                pending.append(client.disconnected)
                client.disconnect(wait=1)
        if pending:
            await asyncio.wait(pending, timeout=2)


def parser(description, users, deadline=30.0):
    """The options every program takes, with a required --user1, --user2 ... for each help text
    in `users`; the program adds its own (--flow ...)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--domain", default="localhost")
    parser.add_argument("--ca", required=True, help="the server's certificate (PEM) to trust")
    for number, what in enumerate(users, 1):
        parser.add_argument(f"--user{number}", required=True, help=what)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per wait")
    parser.add_argument("--deadline", type=float, default=deadline,
                        help="seconds for the whole run")
    parser.add_argument("--debug", action="store_true", help="slixmpp's stanza log on stderr")
    return parser


def main(program, parser):
    """Parses the options, runs --flow (or `run`) of `program` and exits with its code."""
    args = parser.parse_args()
    steps = program(args)
    sys.exit(run(steps, getattr(steps, getattr(args, "flow", None) or "run")))


def run(steps, flow):
    """Runs `flow` (a method of `steps`) within --deadline, reports "done" or the failing step,
    logs everyone out and returns the exit code: 0, or 1 when a step failed."""
    args = steps.args
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.CRITICAL,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
    )

    async def main():
        try:
            await asyncio.wait_for(flow(), args.deadline)
            steps.report("done", slixmpp=slixmpp.__version__)
            return 0
        except StepFailed as error:
            steps.fail(steps.step_name, str(error))
        except (IqError, PresenceError) as error:
            stanza = error.iq if isinstance(error, IqError) else error.presence
            steps.fail(steps.step_name, f"{error.etype}/{error.condition}: {stanza}")
        except asyncio.TimeoutError:
            limits = f"per wait {args.timeout}s, whole run {args.deadline}s"
            steps.fail(steps.step_name, f"timed out ({limits})")
        except Exception as error:  # report, do not hide, whatever else broke
            traceback.print_exc()
            steps.fail(steps.step_name, f"{type(error).__name__}: {error}")
        finally:
            await steps.close()
        return 1

    return asyncio.run(main())
