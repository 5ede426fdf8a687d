// Where another server listens (RFC 6120 §3.2): a static route from the configuration first,
// else DNS SRV `_xmpps-server._tcp` (direct TLS, XEP-0368) and `_xmpp-server._tcp` in priority
// and weight order (RFC 2782; direct TLS first among equals), else the domain itself on port 5269 (§3.2.2 fallback). An SRV
// answer of "." means the domain offers no service (§3.2.1 step 6).

/** One place to try, in order. */
export interface ServerTarget {
  host: string;
  port: number;
  /** TLS from the first byte (XEP-0368) instead of STARTTLS. */
  directTls: boolean;
}

/** How names are looked up. */
export interface ResolverOptions {
  /** `domain → "host:port"`, used instead of DNS. */
  staticRoutes: ReadonlyMap<string, { host: string; port: number }>;
  /** A DNS server to ask instead of the system's ("ip:port"); null for the system's. */
  nameServer: { ipAddr: string; port: number } | null;
}

export const DEFAULT_S2S_PORT = 5269;

interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** The places to try for `domain`, best first; empty when the domain says it has none. */
export async function resolveServer(
  domain: string,
  options: ResolverOptions,
): Promise<ServerTarget[]> {
  const route = options.staticRoutes.get(domain);
  if (route !== undefined) return [{ ...route, directTls: false }];
  const [secure, plain] = await Promise.all([
    srv(`_xmpps-server._tcp.${domain}`, options),
    srv(`_xmpp-server._tcp.${domain}`, options),
  ]);
  if (secure === null && plain === null) {
    return [{ host: domain, port: DEFAULT_S2S_PORT, directTls: false }];
  }
  const targets = [
    ...(secure ?? []).map((record) => ({ record, directTls: true })),
    ...(plain ?? []).map((record) => ({ record, directTls: false })),
  ];
  // "." alone: no service at all (RFC 2782).
  if (targets.length === 1 && targets[0].record.target === ".") return [];
  // XEP-0368 §3: both kinds mixed by priority and weight; at equal priority direct TLS goes
  // first (it saves a round trip; the XEP lets the connecting side prefer one).
  const ordered = orderSrv(targets.filter(({ record }) => record.target !== "."))
    .map((target, index) => ({ target, index }))
    .sort((x, y) =>
      x.target.record.priority - y.target.record.priority ||
      Number(y.target.directTls) - Number(x.target.directTls) || x.index - y.index
    )
    .map(({ target }) => target);
  return ordered.map(({ record, directTls }) => ({
    host: record.target.replace(/\.$/, ""),
    port: record.port,
    directTls,
  }));
}

/** The addresses of a host, through the configured name server (null: let the system resolve). */
export async function resolveHost(
  host: string,
  options: ResolverOptions,
): Promise<string[] | null> {
  if (options.nameServer === null) return null;
  if (/^[\d.]+$/.test(host) || host.includes(":")) return [host]; // an address already
  const lookup = (type: "A" | "AAAA") =>
    Deno.resolveDns(host, type, { nameServer: options.nameServer! }).catch(() => [] as string[]);
  const [v4, v6] = await Promise.all([lookup("A"), lookup("AAAA")]);
  return [...v4, ...v6];
}

/** SRV records of a name, or null when there are none (or the lookup failed). */
async function srv(name: string, options: ResolverOptions): Promise<SrvRecord[] | null> {
  try {
    const records = await Deno.resolveDns(
      name,
      "SRV",
      options.nameServer === null ? {} : { nameServer: options.nameServer },
    );
    return records.length > 0 ? records : null;
  } catch {
    return null;
  }
}

/** RFC 2782: lowest priority first; within one, a weighted random order. */
function orderSrv<T extends { record: SrvRecord }>(items: T[]): T[] {
  const byPriority = new Map<number, T[]>();
  for (const item of items) {
    const group = byPriority.get(item.record.priority) ?? [];
    group.push(item);
    byPriority.set(item.record.priority, group);
  }
  const ordered: T[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const group = byPriority.get(priority)!;
    while (group.length > 0) {
      const total = group.reduce((sum, item) => sum + item.record.weight + 1, 0);
      let pick = Math.random() * total;
      let index = 0;
      for (; index < group.length - 1; index++) {
        pick -= group[index].record.weight + 1;
        if (pick < 0) break;
      }
      ordered.push(group.splice(index, 1)[0]);
    }
  }
  return ordered;
}
