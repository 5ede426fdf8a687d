import { strict as assert } from "node:assert";
import { DIALBACK_SECRET_FILE, DialbackKeys, loadDialbackSecret } from "./dialback.ts";

Deno.test("dialback keys: XEP-0185 HMAC-SHA256 of 'receiving originating id', checked exactly", async () => {
  const secret = new TextEncoder().encode("s3cr3tf0rd14lb4ck") as Uint8Array<ArrayBuffer>;
  const keys = new DialbackKeys(secret);
  const key = await keys.key("example.com", "example.org", "D60000229F");
  // XEP-0185 §3: HMAC-SHA256 keyed with SHA-256 of the secret, hex.
  const hashed = await crypto.subtle.digest("SHA-256", secret);
  const hmac = await crypto.subtle.importKey(
    "raw",
    hashed,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const expected = new Uint8Array(
    await crypto.subtle.sign(
      "HMAC",
      hmac,
      new TextEncoder().encode("example.com example.org D60000229F"),
    ),
  ).toHex();
  assert.equal(key, expected);
  assert.ok(await keys.check("example.com", "example.org", "D60000229F", key));
  assert.ok(await keys.check("example.com", "example.org", "D60000229F", key.toUpperCase()));
  assert.ok(!(await keys.check("example.com", "example.org", "D60000229G", key)));
  assert.ok(!(await keys.check("example.org", "example.com", "D60000229F", key)));
  assert.ok(!(await keys.check("example.com", "example.org", "D60000229F", key.slice(1))));
  // Another secret, another key.
  const other = new DialbackKeys(crypto.getRandomValues(new Uint8Array(32)));
  assert.notEqual(await other.key("example.com", "example.org", "D60000229F"), key);
});

Deno.test("the dialback secret is made once in the data dir (0600) and kept across restarts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await loadDialbackSecret(dir);
    const second = await loadDialbackSecret(dir);
    assert.deepEqual(second, first);
    const info = await Deno.stat(`${dir}/${DIALBACK_SECRET_FILE}`);
    assert.equal(info.mode! & 0o777, 0o600);
    await Deno.writeTextFile(`${dir}/${DIALBACK_SECRET_FILE}`, "not hex\n");
    await assert.rejects(() => loadDialbackSecret(dir), /64-digit hex secret/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
