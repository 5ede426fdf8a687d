import { strict as assert } from "node:assert";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { checkServerIdentity, createSecureContext, type PeerCertificate } from "node:tls";
import { join } from "node:path";
import { ensureCertificate } from "./certificate.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ensureCertificate() generates a usable self-signed pair, then reuses it", async () => {
  await withTempDir(async (dir) => {
    const dataDir = join(dir, "data");
    const first = await ensureCertificate({ dataDir, domain: "example.org" });
    assert.equal(first.generated, true);
    assert.equal(first.certPath, join(dataDir, "example.org.crt"));
    assert.equal(first.keyPath, join(dataDir, "example.org.key"));
    assert.equal(await Deno.readTextFile(first.certPath), first.certPem);
    assert.equal(await Deno.readTextFile(first.keyPath), first.keyPem);
    assert.match(first.certPem, /^-----BEGIN CERTIFICATE-----\n/);
    assert.match(first.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(first.keyPath)).mode! & 0o777, 0o600);
    }

    // node:tls accepts the pair as a server identity.
    createSecureContext({ cert: first.certPem, key: first.keyPem });

    const cert = new X509Certificate(first.certPem);
    assert.equal(cert.subject, "CN=example.org");
    assert.equal(cert.issuer, cert.subject);
    assert.equal(cert.subjectAltName, "DNS:example.org, DNS:*.example.org");
    assert.equal(cert.ca, false);
    // The wildcard covers the MUC service; Deno's checkHost() does not do wildcards, tls does.
    const peer = { subject: { CN: "example.org" }, subjectaltname: cert.subjectAltName };
    for (const host of ["example.org", "conference.example.org"]) {
      assert.equal(checkServerIdentity(host, peer as PeerCertificate), undefined, host);
    }
    assert.ok(checkServerIdentity("example.net", peer as PeerCertificate) instanceof Error);
    assert.ok(cert.checkPrivateKey(createPrivateKey(first.keyPem)));
    assert.ok(cert.verify(cert.publicKey));
    assert.equal(cert.publicKey.asymmetricKeyType, "ec");
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    const validFrom = new Date(cert.validFrom).getTime();
    const validTo = new Date(cert.validTo).getTime();
    assert.ok(validFrom <= Date.now() && Date.now() < validTo);
    const years = (validTo - validFrom) / (365.25 * 24 * 3600 * 1000);
    assert.ok(years > 9.99 && years < 10.01, `valid for ${years} years`);

    const second = await ensureCertificate({ dataDir, domain: "example.org" });
    assert.deepEqual(second, { ...first, generated: false });
  });
});

Deno.test("ensureCertificate() keeps one pair per domain", async () => {
  await withTempDir(async (dataDir) => {
    const a = await ensureCertificate({ dataDir, domain: "a.example" });
    const b = await ensureCertificate({ dataDir, domain: "b.example" });
    assert.equal(b.generated, true);
    assert.notEqual(a.certPem, b.certPem);
    assert.equal(new X509Certificate(b.certPem).subject, "CN=b.example");
  });
});

Deno.test("ensureCertificate() reads configured files instead of generating", async () => {
  await withTempDir(async (dir) => {
    const made = await ensureCertificate({ dataDir: join(dir, "made"), domain: "example.org" });
    const certFile = join(dir, "chain.pem");
    const keyFile = join(dir, "key.pem");
    await Deno.writeTextFile(certFile, made.certPem);
    await Deno.writeTextFile(keyFile, made.keyPem);
    const dataDir = join(dir, "data");
    const loaded = await ensureCertificate({ dataDir, domain: "example.org", certFile, keyFile });
    assert.deepEqual(loaded, {
      certPem: made.certPem,
      keyPem: made.keyPem,
      generated: false,
      certPath: certFile,
      keyPath: keyFile,
    });
    await assert.rejects(() => Deno.stat(dataDir), Deno.errors.NotFound);
  });
});

Deno.test("ensureCertificate() names a missing configured file", async () => {
  await withTempDir(async (dir) => {
    const certFile = join(dir, "missing.crt");
    const keyFile = join(dir, "missing.key");
    await assert.rejects(
      () => ensureCertificate({ dataDir: dir, domain: "example.org", certFile, keyFile }),
      { message: `Cannot read TLS certificate "${certFile}": file not found` },
    );
    await Deno.writeTextFile(certFile, "not a certificate\n");
    await assert.rejects(
      () => ensureCertificate({ dataDir: dir, domain: "example.org", certFile, keyFile }),
      { message: `Cannot read TLS certificate "${certFile}": no PEM "CERTIFICATE" block found` },
    );
    await assert.rejects(
      () => ensureCertificate({ dataDir: dir, domain: "example.org", certFile }),
      /^Error: Cannot load TLS certificate: set both the certificate and the key file$/,
    );
  });
});

Deno.test("ensureCertificate() refuses to overwrite half a generated pair", async () => {
  await withTempDir(async (dataDir) => {
    const first = await ensureCertificate({ dataDir, domain: "example.org" });
    await Deno.remove(first.certPath);
    await assert.rejects(
      () => ensureCertificate({ dataDir, domain: "example.org" }),
      /Cannot load TLS certificate: ".*example\.org\.key" exists but ".*example\.org\.crt" does not/,
    );
    assert.equal(await Deno.readTextFile(first.keyPath), first.keyPem);
  });
});
