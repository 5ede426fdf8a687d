// The test CA of tests/_ca.ts: leaf certificates chain to it (openssl verify) and carry the
// names and usages s2s needs.
import { strict as assert } from "node:assert";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { issueCertificate, makeTestCa } from "./_ca.ts";

async function openssl(args: string[]): Promise<{ ok: boolean; text: string } | undefined> {
  try {
    const { success, stdout, stderr } = await new Deno.Command("openssl", {
      args,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return { ok: success, text: decoder.decode(stdout) + decoder.decode(stderr) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined; // no openssl here
    throw error;
  }
}

Deno.test("a leaf from the test CA names its domain and verifies against ca.crt", async () => {
  const dir = await Deno.makeTempDir({ prefix: "verona-ca-" });
  try {
    const ca = await makeTestCa(dir);
    const leaf = await issueCertificate(ca, "prosody.internal", dir);
    assert.match(await Deno.readTextFile(ca.certPath), /^-----BEGIN CERTIFICATE-----/);
    assert.match(await Deno.readTextFile(leaf.keyPath), /^-----BEGIN PRIVATE KEY-----/);

    const cert = new x509.X509Certificate(leaf.certPem);
    assert.equal(cert.subject, "CN=prosody.internal");
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    assert.deepEqual(san?.names.items.map((n) => n.value), [
      "prosody.internal",
      "*.prosody.internal",
    ]);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual([...eku?.usages ?? []], [
      x509.ExtendedKeyUsage.serverAuth,
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    assert.ok(await cert.verify({ publicKey: ca.cert.publicKey, date: new Date() }));

    const verified = await openssl(["verify", "-CAfile", ca.certPath, leaf.certPath]);
    if (verified !== undefined) assert.ok(verified.ok, verified.text);
    const other = await makeTestCa(await Deno.makeTempDir({ dir, prefix: "other-" }));
    const rejected = await openssl(["verify", "-CAfile", other.certPath, leaf.certPath]);
    if (rejected !== undefined) assert.ok(!rejected.ok, "a foreign CA must not verify the leaf");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
