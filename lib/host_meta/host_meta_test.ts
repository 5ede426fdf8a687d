import { strict as assert } from "node:assert";
import { hostMetaHandler, hostMetaJson, hostMetaXrd, REL_WEBSOCKET } from "./host_meta.ts";
import { loadXml } from "../xml/stored.ts";

const LINKS = [{ rel: REL_WEBSOCKET, href: "wss://example.org:5281/xmpp-websocket?a=1&b=2" }];

Deno.test("hostMetaXrd() is an XRD document with one Link per link, escaped", () => {
  const text = hostMetaXrd(LINKS);
  assert.ok(text.startsWith("<?xml version='1.0' encoding='utf-8'?>"));
  const xrd = loadXml(text.replace(/^<\?xml[^>]*\?>\s*/, ""));
  assert.equal(xrd.attrs.xmlns, "http://docs.oasis-open.org/ns/xri/xrd-1.0");
  assert.deepEqual(
    xrd.getChildren("Link").map((link) => ({ rel: link.attrs.rel, href: link.attrs.href })),
    LINKS,
  );
});

Deno.test("hostMetaJson() is the JRD of the same links", () => {
  assert.deepEqual(JSON.parse(hostMetaJson(LINKS)), { links: LINKS });
});

Deno.test("hostMetaHandler() answers GET, HEAD and preflights with CORS, refuses the rest", async () => {
  const handler = hostMetaHandler(() => LINKS);
  const info = (path: string) => ({
    remoteAddress: "127.0.0.1",
    secure: true,
    url: new URL(`https://example.org${path}`),
  });
  const json = await handler(
    new Request("https://example.org/.well-known/host-meta.json"),
    info("/.well-known/host-meta.json"),
  );
  assert.equal(json.headers.get("content-type"), "application/json");
  assert.equal(json.headers.get("access-control-allow-origin"), "*");
  assert.deepEqual(await json.json(), { links: LINKS });
  const head = await handler(
    new Request("https://example.org/.well-known/host-meta", { method: "HEAD" }),
    info("/.well-known/host-meta"),
  );
  assert.match(head.headers.get("content-type")!, /^application\/xrd\+xml/);
  assert.equal(head.body, null);
  const options = await handler(
    new Request("https://example.org/.well-known/host-meta", { method: "OPTIONS" }),
    info("/.well-known/host-meta"),
  );
  assert.equal(options.status, 204);
  assert.equal(options.headers.get("access-control-allow-origin"), "*");
  const post = await handler(
    new Request("https://example.org/.well-known/host-meta", { method: "POST" }),
    info("/.well-known/host-meta"),
  );
  assert.equal(post.status, 405);
  await post.body?.cancel();
});
