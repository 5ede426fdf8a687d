"""Drives PEP (XEP-0163) through slixmpp's own API, the way an OMEMO client would.

Romeo logs in, finds identity pubsub/pep and the publish-options feature on his own bare JID
(xep_0030), publishes an OMEMO device list with publish-options access_model=open (xep_0060,
XEP-0223 preconditions as an xep_0004 form), and publishes again with a precondition that the
node does not meet. Juliet, who is not his contact, reads the device list (xep_0060 get_items).

Every step prints one JSON line on stdout: {"step": NAME, "ok": true, ...facts}. The first step
that fails prints {"step": NAME, "ok": false, "error": ...} and the program exits 1.

Usage: slixmpp_pep.py --host H --port P --domain D --ca CERT --user1 NAME:PASSWORD --user2 NAME:PASSWORD
"""


from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET

import _steps
from _steps import StepFailed

DEVICES = "urn:xmpp:omemo:2:devices"
OMEMO = "urn:xmpp:omemo:2"
PUBSUB = "http://jabber.org/protocol/pubsub"


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


class Pep(_steps.Steps):
    def make_client(self, account):
        plugins = ("xep_0030", "xep_0004", "xep_0060", "xep_0163")
        return super().make_client(account, "pep", plugins)

    async def run(self):
        args = self.args
        romeo = self.make_client(args.user1)
        juliet = self.make_client(args.user2)
        self.step_name = "login"
        for client in (romeo, juliet):
            await self.login(client)
        self.report("login")

        self.step_name = "discover"
        info = await romeo["xep_0030"].get_info(jid=romeo.boundjid.bare, timeout=self.timeout)
        identities = sorted(f"{c}/{t}" for c, t, _, _ in info["disco_info"]["identities"])
        features = info["disco_info"]["features"]
        self.report("discover", identities=identities,
                    publish_options=f"{PUBSUB}#publish-options" in features)

        self.step_name = "publish"
        result = await romeo["xep_0060"].publish(
            romeo.boundjid.bare, DEVICES, id="current", payload=device_list(12345, 4223),
            options=options_form(romeo, "open"), timeout=self.timeout)
        self.report("publish", item=result["pubsub"]["publish"]["item"]["id"])

        self.step_name = "precondition"
        try:
            await romeo["xep_0060"].publish(
                romeo.boundjid.bare, DEVICES, id="current", payload=device_list(1),
                options=options_form(romeo, "whitelist"), timeout=self.timeout)
            raise StepFailed("a publish with an unmet precondition succeeded")
        except IqError as error:
            conditions = [child.tag.split("}")[1] for child in error.iq["error"].xml]
            self.report("precondition", condition=error.condition,
                        pubsub="precondition-not-met" in conditions)

        self.step_name = "read"
        result = await juliet["xep_0060"].get_items(romeo.boundjid.bare, DEVICES,
                                                    timeout=self.timeout)
        items = result["pubsub"]["items"]
        read = []
        for item in items:
            payload = item["payload"]
            read.append({
                "id": item["id"],
                "devices": [d.get("id") for d in payload.findall(f"{{{OMEMO}}}device")],
            })
        self.report("read", items=read)


if __name__ == "__main__":
    _steps.main(Pep, _steps.parser("slixmpp PEP flows against an XMPP server",
                                   ("NAME:PASSWORD", "NAME:PASSWORD")))
