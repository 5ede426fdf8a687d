import { strict as assert } from "node:assert";
import { resolveHost, resolveServer } from "./resolve.ts";

Deno.test("a static route wins over DNS; an address needs no lookup", async () => {
  const options = {
    staticRoutes: new Map([["chat.example.net", { host: "10.0.0.7", port: 5270 }]]),
    nameServer: { ipAddr: "127.0.0.1", port: 9 },
  };
  assert.deepEqual(await resolveServer("chat.example.net", options), [
    { host: "10.0.0.7", port: 5270, directTls: false },
  ]);
  assert.deepEqual(await resolveHost("10.0.0.7", options), ["10.0.0.7"]);
  assert.deepEqual(await resolveHost("::1", options), ["::1"]);
  assert.equal(await resolveHost("example.net", { ...options, nameServer: null }), null);
});
