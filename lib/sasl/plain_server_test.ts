// Tests for plain_server.ts: RFC 4616 §2 messages, authzid rules, SASLprep, SCRAM-backed checks.
import { strict as assert } from "node:assert";
import type { SaslStep } from "./mechanism.ts";
import { createPlainServer } from "./plain_server.ts";
import { plainResponse } from "./client.ts";
import { memorySource } from "./_testing.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function outcome(step: SaslStep): string {
  return step.kind === "failure" ? step.condition : step.kind;
}

Deno.test("createPlainServer() accepts the right password", async () => {
  const source = await memorySource({ juliet: "r0m30" });
  const server = createPlainServer(source);
  assert.equal(server.name, "PLAIN");
  const step = await server.step(plainResponse("juliet", "r0m30"));
  assert.deepEqual(step, { kind: "success", username: "juliet" });
  assert.deepEqual(source.lookups, ["SHA-256 juliet"]);
});

Deno.test("createPlainServer() falls back to SCRAM-SHA-1 credentials", async () => {
  const source = await memorySource({ juliet: "r0m30" }, ["SHA-1"]);
  const step = await createPlainServer(source).step(plainResponse("juliet", "r0m30"));
  assert.equal(outcome(step), "success");
  assert.deepEqual(source.lookups, ["SHA-256 juliet", "SHA-1 juliet"]);
  const wrong = await createPlainServer(source).step(plainResponse("juliet", "nurse"));
  assert.equal(outcome(wrong), "not-authorized");
});

Deno.test("createPlainServer() refuses a wrong password and an unknown user alike", async () => {
  const source = await memorySource({ juliet: "r0m30" });
  for (
    const [username, password] of [["juliet", "nurse"], ["romeo", "r0m30"], ["juliet", "R0M30"]]
  ) {
    const step = await createPlainServer(source).step(plainResponse(username, password));
    assert.deepEqual(step, { kind: "failure", condition: "not-authorized" }, username);
  }
});

Deno.test("createPlainServer() applies SASLprep to username and password", async () => {
  const source = await memorySource({ IX: "IX" });
  const step = await createPlainServer(source).step(plainResponse("I\u00ADX", "I\u00ADX"));
  assert.deepEqual(step, { kind: "success", username: "IX" });
  const prohibited = await createPlainServer(source).step(plainResponse("IX", "IX\u0007"));
  assert.equal(outcome(prohibited), "not-authorized");
  const badUser = await createPlainServer(source).step(plainResponse("I\u0007X", "IX"));
  assert.equal(outcome(badUser), "malformed-request");
});

Deno.test("createPlainServer() checks the authzid against the authcid", async () => {
  const source = await memorySource({ juliet: "r0m30" });
  const cases: [string, string][] = [
    ["juliet", "success"],
    ["juliet@capulet.lit", "success"],
    ["romeo", "invalid-authzid"],
    ["romeo@capulet.lit", "invalid-authzid"],
    ["juliet@capulet.lit/balcony", "invalid-authzid"],
    ["juliet@", "invalid-authzid"],
  ];
  for (const [authzid, expected] of cases) {
    const step = await createPlainServer(source).step(enc(`${authzid}\0juliet\0r0m30`));
    assert.equal(outcome(step), expected, authzid);
  }
  const strict = createPlainServer(source, { domain: "capulet.lit" });
  assert.equal(
    outcome(await strict.step(enc("juliet@montague.lit\0juliet\0r0m30"))),
    "invalid-authzid",
  );
  const ok = createPlainServer(source, { domain: "capulet.lit" });
  assert.equal(outcome(await ok.step(enc("juliet@Capulet.lit\0juliet\0r0m30"))), "success");
});

Deno.test("createPlainServer() rejects malformed messages", async () => {
  const source = await memorySource({ juliet: "r0m30" });
  const messages = [
    enc(""),
    enc("juliet\0r0m30"),
    enc("\0juliet\0r0m30\0"),
    enc("\0\0r0m30"),
    enc("\0juliet\0"),
    new Uint8Array([0, 0x6a, 0, 0xff]),
  ];
  for (const message of messages) {
    assert.equal(outcome(await createPlainServer(source).step(message)), "malformed-request");
  }
});

Deno.test("createPlainServer() asks for the message when there is no initial response", async () => {
  const server = createPlainServer(await memorySource({ juliet: "r0m30" }));
  assert.deepEqual(await server.step(null), { kind: "challenge", data: new Uint8Array() });
  assert.equal(outcome(await server.step(plainResponse("juliet", "r0m30"))), "success");
  assert.equal(outcome(await server.step(plainResponse("juliet", "r0m30"))), "malformed-request");
});
