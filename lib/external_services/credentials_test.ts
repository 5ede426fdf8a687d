import { strict as assert } from "node:assert";
import { turnCredentials } from "./credentials.ts";

Deno.test("turnCredentials() matches a vector computed with openssl", () => {
  // printf '%s' '1767225600:romeo@example.org' | openssl dgst -sha1 -hmac north-wind -binary | base64
  assert.deepEqual(
    turnCredentials("north-wind", { user: "romeo@example.org", expires: 1767225600 }),
    {
      username: "1767225600:romeo@example.org",
      password: "4dUXhUN8T90OvBOOLYopVZbGTXI=",
      expires: 1767225600,
    },
  );
});

Deno.test("turnCredentials() drops a user part that would make the STUN username too long", () => {
  const user = "a".repeat(600) + "@example.org";
  const { username } = turnCredentials("s", { user, expires: 1767225600.9 });
  assert.equal(username, "1767225600");
});
