import { strict as assert } from "node:assert";
import { forwardedClient } from "./forwarded.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1"]);

Deno.test("forwardedClient() believes X-Forwarded-* only from a trusted proxy", () => {
  const headers = new Headers({ "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https" });
  assert.deepEqual(
    forwardedClient(headers, { address: "127.0.0.1", secure: false }, LOOPBACK),
    { address: "203.0.113.9", secure: true },
  );
  assert.deepEqual(
    forwardedClient(headers, { address: "198.51.100.1", secure: false }, LOOPBACK),
    { address: "198.51.100.1", secure: false },
  );
});

Deno.test("forwardedClient() takes the last address that is not a trusted proxy", () => {
  // The client claims 10.0.0.1; the proxy appended what it saw.
  const headers = new Headers({ "x-forwarded-for": "10.0.0.1, 203.0.113.9, 127.0.0.1" });
  assert.deepEqual(
    forwardedClient(headers, { address: "::ffff:127.0.0.1", secure: true }, LOOPBACK),
    { address: "203.0.113.9", secure: true },
  );
});

Deno.test("forwardedClient() without headers keeps the peer", () => {
  assert.deepEqual(
    forwardedClient(new Headers(), { address: "::1", secure: false }, LOOPBACK),
    { address: "::1", secure: false },
  );
});
