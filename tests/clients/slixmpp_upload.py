"""Uploads a file with slixmpp's own xep_0363 plugin (HTTP File Upload): Romeo's client finds the
upload service among the server's items (XEP-0363 §3), reads its max-file-size, asks for a slot
(§4) and PUTs the file with the slot's headers over HTTPS (aiohttp, trusting the test server's
certificate); then it GETs the file back. A second file, larger than max-file-size, is refused
by the plugin itself from what the service announced.

Every step prints one JSON line on stdout: {"step": NAME, "ok": true, ...facts}. The first step
that fails prints {"step": NAME, "ok": false, "error": ...} and the program exits 1.

Usage: slixmpp_upload.py --host H --port P --domain D --ca CERT --user1 NAME:PASSWORD \
       --file FILE --too-big FILE
"""

import hashlib
import os
from pathlib import Path

import _steps


class Upload(_steps.Steps):
    async def run(self):
        args = self.args
        # aiohttp verifies HTTPS with Python's default context, which reads SSL_CERT_FILE.
        os.environ["SSL_CERT_FILE"] = args.ca
        from aiohttp import ClientSession
        from slixmpp.plugins.xep_0363.http_upload import FileTooBig

        romeo = self.make_client(args.user1, "desk", ("xep_0030", "xep_0363"))
        disco = romeo["xep_0030"]

        # COMPAT(slixmpp 1.8): xep_0030's get_info_from_domain hands asyncio.wait bare
        # coroutines, which Python 3.11 refuses; the same walk (the domain's items, then each
        # one's disco#info) done one at a time, so the plugin's own find_upload_service runs.
        async def get_info_from_domain(domain=None, **iqkwargs):
            items = await disco.get_items(jid=domain or romeo.boundjid.domain, **iqkwargs)
            return [await disco.get_info(jid=item[0], **iqkwargs)
                    for item in items["disco_items"]["items"]]

        disco.get_info_from_domain = get_info_from_domain
        self.step_name = "login"
        await self.login(romeo)
        self.report("login", jid=str(romeo.boundjid))

        self.step_name = "upload"
        url = await romeo["xep_0363"].upload_file(
            Path(args.file), content_type="application/octet-stream", timeout=self.timeout)
        self.report("upload", service=str(romeo["xep_0363"].upload_service),
                    max_file_size=romeo["xep_0363"].max_file_size, url=url)

        self.step_name = "download"
        async with ClientSession() as session:
            async with session.get(url) as response:
                body = await response.read()
                self.report("download", status=response.status,
                            content_type=response.headers.get("Content-Type"),
                            size=len(body), sha256=hashlib.sha256(body).hexdigest())

        self.step_name = "too-big"
        try:
            await romeo["xep_0363"].upload_file(Path(args.too_big), timeout=self.timeout)
        except FileTooBig as error:
            self.report("too-big", refused=str(error))
        else:
            raise _steps.StepFailed("a file over max-file-size was uploaded")


def options():
    parser = _steps.parser("a slixmpp upload through XEP-0363", ("NAME:PASSWORD (the uploader)",))
    parser.add_argument("--file", required=True, help="the file Romeo uploads")
    parser.add_argument("--too-big", required=True, help="a file over max-file-size")
    return parser


if __name__ == "__main__":
    _steps.main(Upload, options())
