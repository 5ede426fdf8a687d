// A throwaway certificate authority for federation tests: one CA per test, and leaf certificates
// for each server's domain, so peers that trust the CA authenticate each other by certificate
// (RFC 6120 §13.7.2, SASL EXTERNAL or dialback-free s2s) and peers that do not must fall back to
// dialback (XEP-0220).
import "reflect-metadata"; // first: @peculiar/x509's dependency injection (tsyringe) needs it
import * as x509 from "@peculiar/x509";
import { join } from "node:path";

x509.cryptoProvider.set(crypto);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING = { name: "ECDSA", hash: "SHA-256" };
const DAY_MS = 24 * 60 * 60 * 1000;

/** A CA: its certificate (also written to `certPath`) and signing key. */
export interface TestCa {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  certPem: string;
  /** `ca.crt` in the directory given to {@linkcode makeTestCa}. */
  certPath: string;
}

/** A leaf certificate and its key, as PEM and as files. */
export interface IssuedCertificate {
  certPath: string;
  keyPath: string;
  certPem: string;
  /** PKCS#8. */
  keyPem: string;
}

/** A positive 128-bit serial: the top bit cleared so the DER INTEGER is not negative. */
function serial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  return bytes.toHex();
}

/** Validity from a day back (clock skew between processes does not matter) for 30 days. */
function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 30 * DAY_MS) };
}

/** Creates a CA (ECDSA P-256) and writes its certificate to `<dir>/ca.crt`. */
export async function makeTestCa(dir: string): Promise<TestCa> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: ["Verona test CA"] }],
    ...validity(),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = cert.toString("pem") + "\n";
  const certPath = join(dir, "ca.crt");
  await Deno.writeTextFile(certPath, certPem);
  return { cert, keys, certPem, certPath };
}

/**
 * Issues a certificate for `domain` (CN and dNSName `<domain>`, plus `*.<domain>` for its
 * components such as conference.<domain>), usable as TLS server and client (s2s connections are
 * both), and writes `<dir>/<domain>.crt` and `<dir>/<domain>.key`.
 */
export async function issueCertificate(
  ca: TestCa,
  domain: string,
  dir: string,
): Promise<IssuedCertificate> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    // JSON form, not "CN=..." text, so the domain is never parsed as DN syntax.
    subject: [{ CN: [domain] }],
    issuer: ca.cert.subjectName,
    ...validity(),
    signingAlgorithm: SIGNING,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: domain },
        { type: "dns", value: `*.${domain}` },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const certPem = cert.toString("pem") + "\n";
  const keyPem = x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n";
  const certPath = join(dir, `${domain}.crt`);
  const keyPath = join(dir, `${domain}.key`);
  await Deno.writeTextFile(certPath, certPem);
  await Deno.writeTextFile(keyPath, keyPem, { mode: 0o600 });
  return { certPath, keyPath, certPem, keyPem };
}
