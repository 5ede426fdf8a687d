// Whether another server's certificate is good for its domain (RFC 6120 §13.7.2, RFC 6125):
// its chain leads to a trusted root (a configured CA file, or the system's roots), it is within
// its validity period, and a DNS name in it matches the domain (a wildcard only as the whole
// leftmost label). A TLS client gets the chain verdict from the TLS library; a TLS server
// (the peer's client certificate on an incoming stream) checks the chain here.
import { X509Certificate } from "node:crypto";
import { rootCertificates } from "node:tls";
import type { PeerCertificate } from "node:tls";

/** The DNS names a certificate is for: its dNSName entries, else its subject CN. */
export function certificateNames(certificate: X509Certificate): string[] {
  const names = (certificate.subjectAltName ?? "").split(/,\s*/)
    .filter((entry) => entry.startsWith("DNS:"))
    .map((entry) => entry.slice(4).toLowerCase());
  if (names.length > 0) return names;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

/** RFC 6125 §6.4.3: exact, or `*.` standing for exactly one leftmost label. */
export function nameMatches(domain: string, name: string): boolean {
  domain = domain.toLowerCase();
  if (name === domain) return true;
  if (!name.startsWith("*.")) return false;
  const dot = domain.indexOf(".");
  return dot > 0 && domain.slice(dot + 1) === name.slice(2);
}

/** The roots a peer's chain must lead to. */
export class TrustStore {
  readonly #roots: X509Certificate[];
  /** The PEM bundle given to TLS connections as their CA (undefined: the system's). */
  readonly caPem: string | undefined;

  constructor(caPem?: string) {
    this.caPem = caPem;
    this.#roots = splitPem(caPem ?? rootCertificates.join("\n")).map((pem) =>
      new X509Certificate(pem)
    );
  }

  /**
   * Why `peer` is not good for `domain`, or null when it is. `authorized` is the TLS library's
   * verdict on the chain when it made one (as a client); otherwise the chain is checked here.
   */
  problem(peer: PeerCertificate, domain: string, authorized?: boolean): string | null {
    if (!peer.raw) return "no certificate";
    const leaf = new X509Certificate(peer.raw);
    const names = certificateNames(leaf);
    if (!names.some((name) => nameMatches(domain, name))) {
      return `certificate is for ${names.join(", ") || "no name"}, not ${domain}`;
    }
    if (authorized === true) return null;
    return this.#chainProblem(leaf, intermediates(peer));
  }

  #chainProblem(leaf: X509Certificate, intermediates: X509Certificate[]): string | null {
    const now = Date.now();
    let current = leaf;
    for (let depth = 0; depth < 10; depth++) {
      if (
        new Date(current.validFrom).getTime() > now || new Date(current.validTo).getTime() < now
      ) {
        return `certificate ${current.subject.replace(/\n/g, ", ")} is expired or not yet valid`;
      }
      const root = this.#roots.find((root) => issuedBy(current, root));
      if (root !== undefined) return null;
      const next = intermediates.find((candidate) => candidate.ca && issuedBy(current, candidate));
      if (next === undefined) return "certificate chain does not lead to a trusted root";
      current = next;
    }
    return "certificate chain too long";
  }
}

function issuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** The certificates the peer sent after its own, as far as the TLS library links them. */
function intermediates(peer: PeerCertificate): X509Certificate[] {
  const found: X509Certificate[] = [];
  const seen = new Set<unknown>([peer]);
  let next = (peer as { issuerCertificate?: PeerCertificate }).issuerCertificate;
  while (next && !seen.has(next) && next.raw) {
    seen.add(next);
    found.push(new X509Certificate(next.raw));
    next = (next as { issuerCertificate?: PeerCertificate }).issuerCertificate;
  }
  return found;
}

function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
