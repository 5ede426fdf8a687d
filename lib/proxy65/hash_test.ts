import { strict as assert } from "node:assert";
import { streamHash } from "./hash.ts";

Deno.test("streamHash() is the hex SHA-1 of sid + requester + target (XEP-0065 §5.3.2)", () => {
  // The JIDs of the examples of §6; the value as Python's hashlib computes it.
  assert.equal(
    streamHash("vxf9n471bn46", "requester@example.com/foo", "target@example.org/bar"),
    "98b8d688d0f5d895fd41c5e7309a2e9e33ba32ff",
  );
});

Deno.test("streamHash() encodes non-ASCII JIDs as UTF-8", () => {
  assert.equal(
    streamHash("s1", "juliet@localhost/b\u00e4lcony", "romeo@localhost/x"),
    "2302e52ef3bc48a9517f6813f2c21dbd31704179",
  );
});

Deno.test("streamHash() depends on the order of requester and target", () => {
  assert.notEqual(streamHash("s", "a@x/1", "b@x/2"), streamHash("s", "b@x/2", "a@x/1"));
});
