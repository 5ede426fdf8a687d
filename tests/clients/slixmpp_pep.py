"""Drives PEP (XEP-0163) through slixmpp's own API, the way an OMEMO client would.

Romeo logs in, finds identity pubsub/pep and the publish-options feature on his own bare JID
(xep_0030), publishes an OMEMO device list with publish-options access_model=open (xep_0060,
XEP-0223 preconditions as an xep_0004 form), and publishes again with a precondition that the
node does not meet. Juliet, who is not his contact, reads the device list (xep_0060 get_items).

Every step prints one JSON line on stdout: {"step": NAME, "ok": true, ...facts}. The first step
that fails prints {"step": NAME, "ok": false, "error": ...} and the program exits 1.

Usage: slixmpp_pep.py --host H --port P --domain D --ca CERT --user1 NAME:PASSWORD --user2 NAME:PASSWORD
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys
import traceback
from pathlib import Path

import slixmpp
from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET

OUT = sys.stdout
sys.stdout = sys.stderr

DEVICES = "urn:xmpp:omemo:2:devices"
OMEMO = "urn:xmpp:omemo:2"
PUBSUB = "http://jabber.org/protocol/pubsub"


class StepFailed(Exception):
    pass


def report(step, **facts):
    OUT.write(json.dumps({"step": step, "ok": True, **facts}) + "\n")
    OUT.flush()


def make_client(args, account):
    name, secret = account.split(":", 1)
    client = slixmpp.ClientXMPP(f"{name}@{args.domain}/pep", secret)
    client.ca_certs = Path(args.ca)
    for plugin in ("xep_0030", "xep_0004", "xep_0060", "xep_0163"):
        client.register_plugin(plugin)
    return client


async def login(args, client):
    started = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _: started.done() or started.set_result(1))
    client.connect((args.host, args.port))
    await asyncio.wait_for(started, args.timeout)
    if not isinstance(client.transport.get_extra_info("ssl_object"), ssl.SSLObject):
        raise StepFailed("session started without TLS")


def options_form(client, access_model):
    form = client["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden",
                   value="http://jabber.org/protocol/pubsub#publish-options")
    form.add_field(var="pubsub#access_model", value=access_model)
    return form


def device_list(*ids):
    devices = ET.Element(f"{{{OMEMO}}}devices")
    for device in ids:
        ET.SubElement(devices, f"{{{OMEMO}}}device", {"id": str(device)})
    return devices


async def run(args, clients, state):
    romeo = make_client(args, args.user1)
    juliet = make_client(args, args.user2)
    clients.extend([romeo, juliet])
    state["step"] = "login"
    for client in (romeo, juliet):
        await login(args, client)
    report("login")

    state["step"] = "discover"
    info = await romeo["xep_0030"].get_info(jid=romeo.boundjid.bare, timeout=args.timeout)
    identities = sorted(f"{c}/{t}" for c, t, _, _ in info["disco_info"]["identities"])
    features = info["disco_info"]["features"]
    report("discover", identities=identities,
           publish_options=f"{PUBSUB}#publish-options" in features)

    state["step"] = "publish"
    result = await romeo["xep_0060"].publish(
        romeo.boundjid.bare, DEVICES, id="current", payload=device_list(12345, 4223),
        options=options_form(romeo, "open"), timeout=args.timeout)
    report("publish", item=result["pubsub"]["publish"]["item"]["id"])

    state["step"] = "precondition"
    try:
        await romeo["xep_0060"].publish(
            romeo.boundjid.bare, DEVICES, id="current", payload=device_list(1),
            options=options_form(romeo, "whitelist"), timeout=args.timeout)
        raise StepFailed("a publish with an unmet precondition succeeded")
    except IqError as error:
        conditions = [child.tag.split("}")[1] for child in error.iq["error"].xml]
        report("precondition", condition=error.condition,
               pubsub="precondition-not-met" in conditions)

    state["step"] = "read"
    result = await juliet["xep_0060"].get_items(romeo.boundjid.bare, DEVICES, timeout=args.timeout)
    items = result["pubsub"]["items"]
    read = []
    for item in items:
        payload = item["payload"]
        read.append({
            "id": item["id"],
            "devices": [d.get("id") for d in payload.findall(f"{{{OMEMO}}}device")],
        })
    report("read", items=read)


async def main():
    parser = argparse.ArgumentParser(description="slixmpp PEP flows against an XMPP server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--domain", default="localhost")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--user1", required=True, help="NAME:PASSWORD")
    parser.add_argument("--user2", required=True, help="NAME:PASSWORD")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--deadline", type=float, default=30.0)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL, stream=sys.stderr)
    clients = []
    state = {"step": "start"}
    code = 0
    try:
        await asyncio.wait_for(run(args, clients, state), args.deadline)
        report("done", slixmpp=slixmpp.__version__)
    except IqError as error:
        OUT.write(json.dumps({"step": state["step"], "ok": False,
                              "error": f"{error.etype}/{error.condition}: {error.iq}"}) + "\n")
        code = 1
    except Exception as error:
        traceback.print_exc()
        OUT.write(json.dumps({"step": state["step"], "ok": False,
                              "error": f"{type(error).__name__}: {error}"}) + "\n")
        code = 1
    finally:
        for client in clients:
            if client.transport is not None:
                client.disconnect(wait=1)
        for client in clients:
            try:
                await asyncio.wait_for(client.disconnected, 2)
            except Exception:
                pass
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
