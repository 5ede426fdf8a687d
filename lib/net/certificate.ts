// TLS certificate for client connections (RFC 6120 §13.7.1): the configured one, or a self-signed
// one generated on first start so STARTTLS works out of the box.
import "reflect-metadata"; // first: @peculiar/x509's dependency injection (tsyringe) needs it
import * as x509 from "@peculiar/x509";
import { join } from "node:path";

x509.cryptoProvider.set(crypto);

/** Validity of a generated certificate, in years. */
export const GENERATED_VALIDITY_YEARS = 10;

/** Options for {@linkcode ensureCertificate}. */
export interface EnsureCertificateOptions {
  /** Where a generated certificate is kept, as `<domain>.crt` and `<domain>.key`. */
  dataDir: string;
  /** The XMPP domain; subject of a generated certificate. */
  domain: string;
  /** Configured PEM certificate chain; null or unset to use or generate one in `dataDir`. */
  certFile?: string | null;
  /** Configured PEM private key; set together with `certFile`. */
  keyFile?: string | null;
}

/** A certificate and its private key, as PEM, with where they came from. */
export interface CertificateFiles {
  certPem: string;
  keyPem: string;
  /** Whether this call created the files. */
  generated: boolean;
  certPath: string;
  keyPath: string;
}

/**
 * Loads the configured certificate and key, or the self-signed pair in `dataDir`, generating it
 * on first use: ECDSA P-256, CN and dNSName `<domain>` plus `*.<domain>` (so the MUC service
 * matches too), valid {@linkcode GENERATED_VALIDITY_YEARS} years, key as PKCS#8 with mode 0600.
 *
 * @example
 * ```ts
 * const { certPem, keyPem } = await ensureCertificate({ dataDir: "./data", domain: "localhost" });
 * ```
 */
export async function ensureCertificate(
  options: EnsureCertificateOptions,
): Promise<CertificateFiles> {
  const certFile = options.certFile ?? null;
  const keyFile = options.keyFile ?? null;
  if (certFile !== null || keyFile !== null) {
    if (certFile === null || keyFile === null) {
      throw new Error("Cannot load TLS certificate: set both the certificate and the key file");
    }
    const { certPem, keyPem } = await readPair(certFile, keyFile);
    return { certPem, keyPem, generated: false, certPath: certFile, keyPath: keyFile };
  }

  const certPath = join(options.dataDir, `${options.domain}.crt`);
  const keyPath = join(options.dataDir, `${options.domain}.key`);
  const [haveCert, haveKey] = await Promise.all([exists(certPath), exists(keyPath)]);
  if (haveCert && haveKey) {
    const { certPem, keyPem } = await readPair(certPath, keyPath);
    return { certPem, keyPem, generated: false, certPath, keyPath };
  }
  if (haveCert || haveKey) {
    // Half a pair: regenerating would overwrite a file someone may still need.
    const [found, missing] = haveCert ? [certPath, keyPath] : [keyPath, certPath];
    throw new Error(
      `Cannot load TLS certificate: "${found}" exists but "${missing}" does not; restore it, or delete "${found}" to generate a new pair`,
    );
  }

  const { certPem, keyPem } = await generateSelfSigned(options.domain);
  try {
    await Deno.mkdir(options.dataDir, { recursive: true });
    // createNew: never overwrite a pair that another process generated meanwhile.
    await Deno.writeTextFile(keyPath, keyPem, { mode: 0o600, createNew: true });
    await Deno.chmod(keyPath, 0o600).catch(() => {}); // umask-proof; unsupported on Windows
    await Deno.writeTextFile(certPath, certPem, { mode: 0o644, createNew: true });
  } catch (error) {
    throw new Error(
      `Cannot write TLS certificate to "${options.dataDir}": ${errorMessage(error)}`,
      { cause: error },
    );
  }
  return { certPem, keyPem, generated: true, certPath, keyPath };
}

/** Creates a self-signed ECDSA P-256 certificate for `domain` and `*.domain`. */
export async function generateSelfSigned(
  domain: string,
  now: Date = new Date(),
): Promise<{ certPem: string; keyPem: string }> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256" };
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  // Positive 128-bit serial: clear the top bit so the DER INTEGER is not read as negative.
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f;
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + GENERATED_VALIDITY_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toHex(),
    // JSON form, not "CN=..." text, so the domain is never parsed as DN syntax.
    name: [{ CN: [domain] }],
    notBefore: new Date(now.getTime() - 60 * 60 * 1000), // an hour back for client clock skew
    notAfter,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: domain },
        { type: "dns", value: `*.${domain}` },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    certPem: cert.toString("pem") + "\n",
    keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
  };
}

async function readPair(
  certPath: string,
  keyPath: string,
): Promise<{ certPem: string; keyPem: string }> {
  const certPem = await readPem(certPath, "certificate", "CERTIFICATE");
  const keyPem = await readPem(keyPath, "key", "PRIVATE KEY");
  return { certPem, keyPem };
}

async function readPem(path: string, what: string, label: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "file not found" : errorMessage(error);
    throw new Error(`Cannot read TLS ${what} "${path}": ${reason}`, { cause: error });
  }
  // "PRIVATE KEY" also matches "EC PRIVATE KEY" and "RSA PRIVATE KEY", which node:tls accepts.
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text)) {
    throw new Error(`Cannot read TLS ${what} "${path}": no PEM "${label}" block found`);
  }
  return text;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new Error(`Cannot load TLS certificate "${path}": ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
